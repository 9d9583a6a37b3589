import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { cli, example, tempFiles } from "../../support/cli.ts";

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

// A bad op, a typo of a required key, and two references to nothing: all five issues at once.
const TYPOS = `id: typos
name: Typos
inputs:
  total: { type: number }
steps:
  - id: check
    type: router
    routes:
      - when: { field: input.total, op: bigger, value: 1000 }
        then: approve
    default: approve
  - id: approve
    type: approval
    promt: Approve?
    context: { who: $nobody.name }
    next: done
  - id: done
    type: end
    result: { total: $input.missing }
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

  test("one pass reports a step's schema issues together with the references and targets of the whole file", async () => {
    const dir = tempFiles({ "typos.yaml": TYPOS });
    const result = await cli(["lint", join(dir, "typos.yaml")]);
    expect(result.code).toBe(1);
    const paths = result.stdout.split("\n").map((line) => line.split("  ")[1]?.split(":")[0] ?? "");
    expect(paths).toEqual([
      "steps[0].routes[0].when.op",
      "steps[1].prompt",
      "steps[1].promt",
      "steps[1].context",
      "steps[2].result",
      "",
      "",
    ]);
    expect(result.stdout).toContain("1 of 1 file invalid (5 issues)");
  });

  test("a step that can outlast the lease is a warning line, and the file stays valid", async () => {
    const dir = tempFiles({
      "slow.yaml": `id: slow
name: Slow
steps:
  - id: start
    type: start
    next: export
  - id: export
    type: http
    url: https://api.example.com/export
    timeout: 90
`,
    });
    const file = join(dir, "slow.yaml");
    const result = await cli(["lint", file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      `${file}  warning: steps[1].timeout: an attempt of 90s can outlast the lease (60s): another worker may take the run over while it runs\n1 file valid\n`,
    );
    expect((await cli(["lint", "--lease-seconds", "120", file])).stdout).toBe("1 file valid\n");
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
