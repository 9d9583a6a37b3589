import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cli, example, tempFiles } from "../../support/cli.ts";

const V1 = `id: review
name: Review
version: "1"
steps:
  - id: start
    type: start
    next: ask
  - id: ask
    type: approval
    prompt: OK?
    next: pause
  - id: pause
    type: halt
    resume_step: done
  - id: done
    type: end
`;

/** ask removed, pause's resume target renamed, a step added and one changed. */
const V2 = `id: review
name: Review
version: "2"
steps:
  - id: start
    type: start
    next: pause
  - id: pause
    type: halt
    reason: waiting
    resume_step: finished
  - id: finished
    type: end
`;

function versions(): { v1: string; v2: string } {
  const dir = tempFiles({ "v1.yaml": V1, "v2.yaml": V2 });
  return { v1: join(dir, "v1.yaml"), v2: join(dir, "v2.yaml") };
}

describe("durable-workflow diff", () => {
  test("lists added, removed and changed steps and what breaks waiting executions", async () => {
    const { v1, v2 } = versions();
    const result = await cli(["diff", v1, v2]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      [
        "review 1 -> review 2",
        "  + finished",
        "  - ask",
        "  - done",
        "  ~ start (next)",
        "  ~ pause (reason, resume_step)",
        "breaking for executions waiting on the old version:",
        '  ! step "ask" was removed: executions halted or pending at it cannot go on',
        '  ! executions halted at "pause" resume at "done", which no longer exists',
        '  ! step "done" was removed: executions halted or pending at it cannot go on',
        "",
      ].join("\n"),
    );
  });

  test("--format json gives the same as data", async () => {
    const { v1, v2 } = versions();
    const result = await cli(["diff", "--format", "json", v1, v2]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      added: ["finished"],
      removed: ["ask", "done"],
      changed: [
        { id: "start", keys: ["next"] },
        { id: "pause", keys: ["reason", "resume_step"] },
      ],
      breaking: [
        { stepId: "ask", reason: 'step "ask" was removed: executions halted or pending at it cannot go on' },
        { stepId: "pause", reason: 'executions halted at "pause" resume at "done", which no longer exists' },
        { stepId: "done", reason: 'step "done" was removed: executions halted or pending at it cannot go on' },
      ],
    });
  });

  test("identical versions: nothing changed, nothing breaks", async () => {
    const result = await cli(["diff", example("greeting"), example("greeting")]);
    expect(result).toEqual({
      code: 0,
      stdout: "greeting 1.0 -> greeting 1.0\nno step changed\nno breaking change for executions waiting on the old version\n",
      stderr: "",
    });
  });

  test("a step whose type changed breaks executions waiting at it", async () => {
    const { v1 } = versions();
    const dir = tempFiles({
      "v3.yaml": readFileSync(v1, "utf8").replace("type: approval\n    prompt: OK?", "type: assign\n    set: { ok: true }"),
    });
    const result = await cli(["diff", "--format", "json", v1, join(dir, "v3.yaml")]);
    expect(JSON.parse(result.stdout).breaking).toEqual([
      {
        stepId: "ask",
        reason: 'step "ask" changed type (approval -> assign): executions halted or pending at it would re-enter a different step',
      },
    ]);
  });

  test("one file only is a usage error, exit 2", async () => {
    const result = await cli(["diff", example("greeting")]);
    expect(result.code).toBe(2);
    expect(result.stderr).toStartWith("durable-workflow: diff needs two workflow files: <old> <new>\n");
  });
});
