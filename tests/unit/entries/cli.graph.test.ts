import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadWorkflow, renderWorkflowSvg, workflowDiagram, workflowJsonSchema } from "../../../mod.ts";
import { cli, example, tempFiles } from "../../support/cli.ts";

const greeting = loadWorkflow(readFileSync(example("greeting"), "utf8"));
const withNewline = (text: string) => (text.endsWith("\n") ? text : `${text}\n`);

describe("durable-workflow graph", () => {
  test("prints the SVG diagram by default", async () => {
    const result = await cli(["graph", example("greeting")]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(withNewline(renderWorkflowSvg(greeting)));
  });

  test("--format mermaid -o writes the Mermaid flowchart to the file", async () => {
    const out = join(tempFiles({}), "greeting.mmd");
    const result = await cli(["graph", example("greeting"), "--format", "mermaid", "-o", out]);
    expect(result).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(readFileSync(out, "utf8")).toBe(withNewline(workflowDiagram(greeting)));
  });

  test("an invalid workflow is one line naming the file, exit 1", async () => {
    const dir = tempFiles({ "bad.yaml": "id: bad\nsteps: []\n" });
    const result = await cli(["graph", join(dir, "bad.yaml")]);
    expect(result.code).toBe(1);
    expect(result.stderr).toStartWith(`durable-workflow: ${join(dir, "bad.yaml")}: Invalid workflow`);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
  });

  test("an unknown format is a usage error, exit 2", async () => {
    const result = await cli(["graph", example("greeting"), "--format", "png"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toStartWith('durable-workflow: --format must be one of svg, mermaid, got "png"\n');
  });
});

describe("durable-workflow schema", () => {
  test("prints the workflow JSON Schema", async () => {
    const result = await cli(["schema"]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(JSON.parse(JSON.stringify(workflowJsonSchema)));
  });

  test("-o writes it to a file", async () => {
    const out = join(tempFiles({}), "schema.json");
    expect((await cli(["schema", "-o", out])).code).toBe(0);
    expect(JSON.parse(readFileSync(out, "utf8"))).toEqual(JSON.parse(JSON.stringify(workflowJsonSchema)));
  });
});

describe("durable-workflow", () => {
  test("--help lists every command", async () => {
    const result = await cli(["--help"]);
    expect(result.code).toBe(0);
    for (const name of ["lint", "graph", "schema", "run", "diff"]) expect(result.stdout).toMatch(new RegExp(`^  ${name} `, "m"));
  });

  test("an unknown command or option is a usage error, exit 2", async () => {
    const command = await cli(["lnt"]);
    expect(command.code).toBe(2);
    expect(command.stderr).toStartWith('durable-workflow: unknown command "lnt"');
    const option = await cli(["schema", "--bogus"]);
    expect(option.code).toBe(2);
    expect(option.stderr).toStartWith("durable-workflow: Unknown option '--bogus'");
  });
});
