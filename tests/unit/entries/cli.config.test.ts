import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { cli, ROOT, tempFiles } from "../../support/cli.ts";

const MOD = JSON.stringify(join(ROOT, "src/mod.ts"));

const SIGNUP = `id: signup
name: Signup
inputs:
  name: { type: string }
steps:
  - id: slug
    type: slugify
    from: $input.name
    output: handle
    next: welcome
  - id: welcome
    type: call
    service: mailer
    input: { handle: $handle }
    output: mail
    next: done
  - id: done
    type: end
    result: { handle: $handle, sent: $mail.sent }
`;

const SLUGIFY = `import { proceed, registerStepType, z } from ${MOD};
registerStepType("slugify", {
  schema: z.object({ from: z.string(), output: z.string() }),
  pure: true,
  execute: (step, _state, tools) => proceed({ output: String(tools.resolve(step.from)).toLowerCase().replace(/[^a-z0-9]+/g, "-") }),
});
`;

/** A project whose config module registers slugify (by importing it) and gives the services. */
function project(
  config =
    `import "./slugify.ts";\nexport default { services: { mailer: async (input: { handle: string }) => ({ sent: input.handle }) } };\n`,
) {
  return tempFiles({ "signup.yaml": SIGNUP, "slugify.ts": SLUGIFY, "durable-workflow.config.ts": config });
}

describe("durable-workflow.config.ts", () => {
  test("lint knows the project's step types", async () => {
    const result = await cli(["lint", "signup.yaml"], { cwd: project() });
    expect(result).toMatchObject({ code: 0, stdout: "1 file valid\n", stderr: "" });
  });

  test("without a config, a custom step type is an unknown type", async () => {
    const dir = tempFiles({ "signup.yaml": SIGNUP });
    const result = await cli(["lint", "signup.yaml"], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('unknown step type "slugify"');
  });

  test("run uses the config's step types and services", async () => {
    const result = await cli(["run", "signup.yaml", "--input", '{"name":"Ada Lovelace"}'], { cwd: project() });
    expect(result.code).toBe(0);
    expect(result.stdout).toEndWith('{\n  "handle": "ada-lovelace",\n  "sent": "ada-lovelace"\n}\n');
  });

  test("graph draws a workflow with the project's step types", async () => {
    const result = await cli(["graph", "signup.yaml", "--format", "mermaid"], { cwd: project() });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("slug");
  });

  test("schema lists the project's step types", async () => {
    const result = await cli(["schema"], { cwd: project() });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('"slugify"');
  });

  test("stepTypes in the config are registered as registerStepType would", async () => {
    const config = `import { proceed, z } from ${MOD};
export default {
  stepTypes: { slugify: { schema: z.object({ from: z.string(), output: z.string() }), execute: () => proceed({ output: "x" }) } },
};
`;
    const dir = tempFiles({ "signup.yaml": SIGNUP, "custom.config.ts": config });
    const result = await cli(["lint", "--config", "custom.config.ts", "signup.yaml"], { cwd: dir });
    expect(result).toMatchObject({ code: 0, stdout: "1 file valid\n" });
  });

  test("an unknown key in the config is an error naming it", async () => {
    const result = await cli(["lint", "signup.yaml"], { cwd: project(`export default { step_types: {} };\n`) });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'durable-workflow: --config durable-workflow.config.ts: unknown key "step_types" (allowed: stepTypes, services)\n',
    );
  });

  test("a --config file that does not exist is an error", async () => {
    const result = await cli(["lint", "--config", "nope.ts", "signup.yaml"], { cwd: project() });
    expect(result).toMatchObject({ code: 1, stderr: "durable-workflow: --config nope.ts: no such file\n" });
  });
});
