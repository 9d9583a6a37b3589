// The dashboard's browser modules (routes/dashboard/src/): the bundle the app serves is up to date, every module
// is type-checked, and the parts that need no page (the SSE parser, iteration numbers, times) behave.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { DASHBOARD_SCRIPT } from "../../../routes/dashboard/app.generated.ts";
import { iterationsOf, loopIds } from "../../../routes/dashboard/src/execution/timeline.js";
import { readEvents } from "../../../routes/dashboard/src/sse.js";
import { duration, zoneLabel } from "../../../routes/dashboard/src/time.js";
import { bundleDashboard, DASHBOARD_SOURCES, GENERATED_MODULE, generatedModule } from "../../../tools/build-dashboard.ts";

describe("the dashboard bundle", () => {
  test("routes/dashboard/app.generated.ts is what the sources bundle to now (else: npm run build:dashboard)", async () => {
    expect(readFileSync(GENERATED_MODULE, "utf8")).toBe(generatedModule(await bundleDashboard()));
  }, 20_000);

  test("holds the bundled script exactly, backslashes, backticks and ${ included", async () => {
    expect(DASHBOARD_SCRIPT).toBe(await bundleDashboard());
    const tricky = "const a = `x${1}` + '\\\\' + \"\\u2026\";\n";
    const module = generatedModule(tricky);
    expect(new Function(`${module.replace(/^export const DASHBOARD_SCRIPT: string =/m, "return")}`)()).toBe(tricky);
  }, 20_000);

  test("every module starts with // @ts-check, so tsc checks it", () => {
    const modules = (readdirSync(DASHBOARD_SOURCES, { recursive: true }) as string[]).filter((f) => f.endsWith(".js"));
    expect(modules.length).toBeGreaterThan(10);
    const unchecked = modules.filter((f) => !readFileSync(join(DASHBOARD_SOURCES, f), "utf8").startsWith("// @ts-check\n"));
    expect(unchecked.map((f) => relative(process.cwd(), join(DASHBOARD_SOURCES, f)))).toEqual([]);
  });
});

/** A body that arrives in the given chunks. */
function chunked(...chunks: string[]): ReadableStream<Uint8Array<ArrayBuffer>> {
  const bytes = chunks.map((c) => new TextEncoder().encode(c));
  return new ReadableStream({
    pull(controller) {
      const next = bytes.shift();
      if (next) controller.enqueue(next);
      else controller.close();
    },
  });
}

async function messages(...chunks: string[]) {
  const seen: { id: string | null; event: string; data: string }[] = [];
  await readEvents(chunked(...chunks), new AbortController().signal, (m) => seen.push(m));
  return seen;
}

describe("the dashboard's SSE parser", () => {
  test("reads id, event and multi-line data; a blank line ends a message", async () => {
    expect(await messages('id: e:1\nevent: step.started\ndata: {"a":\ndata: 1}\n\n')).toEqual([
      { id: "e:1", event: "step.started", data: '{"a":\n1}' },
    ]);
  });

  test("joins lines split across chunks, a CRLF split between its CR and LF included", async () => {
    expect(await messages("data: one\r", "\n\r\ndata: t", "wo\n", "\n")).toEqual([
      { id: null, event: "", data: "one" },
      { id: null, event: "", data: "two" },
    ]);
  });

  test("skips comments (heartbeats) and keeps the last id for later messages; an id holding NUL is ignored", async () => {
    expect(await messages(": ping\n\nid: 7\ndata: a\n\nid: 8\u0000\ndata: b\n\n")).toEqual([
      { id: "7", event: "", data: "a" },
      { id: "7", event: "", data: "b" },
    ]);
  });
});

const entry = (stepId: string, stepType = "call") => ({
  id: stepId,
  executionId: "x",
  stepId,
  stepType,
  action: "completed" as const,
  attempt: 1,
  durationMs: 0,
  output: null,
  error: null,
  timestamp: "2026-01-01T00:00:00.000Z",
});

describe("iteration numbers on the timeline", () => {
  test("count from 1, a new iteration beginning where a body step comes again", () => {
    const entries = ["start", "each:a", "each:b", "each:a", "each:b", "each:a"].map((id) => entry(id));
    expect(iterationsOf(entries, new Set(["each"]))).toEqual([null, 1, 1, 2, 2, 3]);
  });

  test("restart at 1 after the loop's own entry (a retried loop starts from its first item)", () => {
    const entries = [entry("each:a"), entry("each:a"), entry("each", "loop"), entry("each:a")];
    expect(iterationsOf(entries, new Set(["each"]))).toEqual([1, 2, null, 1]);
  });

  test("number a nested loop's body within each outer iteration", () => {
    const entries = [entry("inner:x"), entry("inner:x"), entry("outer:inner", "loop"), entry("inner:x"), entry("outer:inner", "loop")];
    expect(iterationsOf(entries, new Set(["outer", "inner"]))).toEqual([1, 2, 1, 1, 2]);
  });

  test("leave parallel branches unnumbered", () => {
    expect(iterationsOf([entry("fan:a"), entry("fan:b"), entry("fan", "parallel")], new Set())).toEqual([null, null, null]);
  });

  test("find the loops of a definition, nested in loops and branches", () => {
    const steps = [
      { id: "outer", type: "loop", do: [{ id: "inner", type: "loop", do: [{ id: "x", type: "call" }] }] },
      { id: "fan", type: "parallel", branches: [{ id: "deep", type: "loop", do: [] }] },
    ];
    expect([...loopIds(steps)].sort()).toEqual(["deep", "inner", "outer"]);
  });
});

describe("times and durations on the dashboard", () => {
  test("a zone is UTC with its offset in hours (and minutes when it has them)", () => {
    expect([0, 60, 330, -300, -570].map(zoneLabel)).toEqual(["UTC", "UTC+1", "UTC+5:30", "UTC-5", "UTC-9:30"]);
  });

  test("a duration under a millisecond reads < 1 ms", () => {
    expect([0, 0.4, 1, 999, 1500].map(duration)).toEqual(["< 1 ms", "< 1 ms", "1 ms", "999 ms", "1.50 s"]);
  });
});
