import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { cli, example, tempFiles } from "./cli.support.ts";

const BAD = `id: bad
name: Bad
version: "1"
steps:
  - id: a
    type: assign
    set: { x: 1 }
    next: nowhere
  - id: b
    type: bogus
`;

describe("durable-workflow lint", () => {
  test("valid files print a summary and exit 0", async () => {
    const result = await cli(["lint", example("greeting"), example("order-fulfillment")]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toBe("2 files valid\n");
  });

  test("every issue is printed as file:line:col  path: message and the exit code is 1", async () => {
    const dir = tempFiles({ "bad.yaml": BAD });
    const file = join(dir, "bad.yaml");
    const result = await cli(["lint", file, example("greeting")]);
    expect(result.code).toBe(1);
    expect(result.stdout.split("\n")).toEqual([
      `${file}:8:11  steps[0].next: unknown target "nowhere": no step has this id`,
      expect.stringMatching(new RegExp(`^${file.replace(/[.]/g, "\\.")}:10:11  steps\\[1\\]\\.type: unknown step type "bogus"`)),
      "1 of 2 files invalid (2 issues)",
      "",
    ]);
  });

  test("a missing file is an issue of that file", async () => {
    const result = await cli(["lint", "no/such.yaml"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("no/such.yaml  no such file\n1 of 1 file invalid (1 issue)\n");
  });

  test("--format json lists every file with its issues", async () => {
    const dir = tempFiles({ "bad.yaml": BAD });
    const result = await cli(["lint", "--format", "json", join(dir, "bad.yaml"), example("greeting")]);
    expect(result.code).toBe(1);
    const reports = JSON.parse(result.stdout);
    expect(reports[0]).toMatchObject({ file: join(dir, "bad.yaml"), valid: false });
    expect(reports[0].issues).toContainEqual({
      path: "steps[0].next",
      message: 'unknown target "nowhere": no step has this id',
      line: 8,
      column: 11,
    });
    expect(reports[1]).toEqual({ file: example("greeting"), valid: true, issues: [] });
  });

  test("no file is a usage error: one line, exit 2", async () => {
    const result = await cli(["lint"]);
    expect(result.code).toBe(2);
    expect(result.stderr.split("\n")[0]).toBe("durable-workflow: lint needs at least one file");
    expect(result.stderr).not.toContain("    at ");
  });

  test("--help describes the command", async () => {
    const result = await cli(["lint", "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toStartWith("Usage: durable-workflow lint <files...>");
  });
});
