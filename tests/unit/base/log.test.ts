import { describe, expect, test } from "bun:test";
import { appOptionsFromEnv } from "../../../config-from-env.ts";
import { createApp } from "../../../routes/app.ts";
import { createQStashHandler } from "../../../routes/qstash/handler.ts";
import { StoreError } from "../../../src/errors.ts";
import { Log, type Logger, parseLogLevel } from "../../../src/log.ts";
import { MemoryStore } from "../../../src/store/memory.ts";
import type { Store } from "../../../src/store/store.ts";
import { greetingWorkflow } from "../../support/routes.ts";

/** A logger that keeps the lines it is given, parsed, with the method that got them. */
function collector() {
  const lines: { method: string; raw: string; line: Record<string, unknown> }[] = [];
  const keep = (method: string) => (raw: string) => lines.push({ method, raw, line: JSON.parse(raw) });
  const logger: Logger = { debug: keep("debug"), info: keep("info"), warn: keep("warn"), error: keep("error") };
  return { logger, lines };
}

/** A MemoryStore that answers every call with a StoreError while `down`, as the Upstash store does in an outage. */
function outageStore() {
  const store = new MemoryStore();
  const state = { down: false };
  const wrapped = new Proxy(store, {
    get(target, key) {
      const value = Reflect.get(target, key, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) =>
        state.down ? Promise.reject(new StoreError(`Redis store could not ${String(key)}: fetch failed`)) : value.apply(target, args);
    },
  }) as Store;
  return { store: wrapped, state };
}

describe("structured logs", () => {
  test("a 13 s store outage answered 4 402 times writes a few JSON lines, ending with a recovery line", async () => {
    let now = Date.parse("2026-01-01T00:00:00.000Z");
    const { logger, lines } = collector();
    const { store, state } = outageStore();
    const app = createApp({ store, workflows: [greetingWorkflow], clock: () => new Date(now), logger });
    state.down = true;
    for (let i = 0; i < 4402; i++) {
      now += 3;
      expect((await app.request("/executions/e-1")).status).toBe(503);
    }
    state.down = false;
    now += 100;
    expect((await app.request("/executions")).status).toBe(200);

    expect(lines.length).toBeLessThanOrEqual(6);
    for (const { line, raw } of lines) {
      expect(raw).not.toContain("\n");
      expect(typeof line.time).toBe("string");
      expect(line.stack).toBeUndefined();
    }
    expect(lines[0]!.line).toMatchObject({ level: "error", kind: "store-unavailable", time: "2026-01-01T00:00:00.003Z" });
    expect(lines.slice(1, -1).every(({ line }) => line.level === "error" && typeof line.count === "number")).toBe(true);
    const last = lines.at(-1)!.line;
    expect(last).toMatchObject({ level: "info", kind: "store-unavailable", total: 4402, durationMs: 4402 * 3 + 100 - 3 });
    expect(String(last.msg)).toContain("recovered");
  });

  test("the summary of a repeated failure counts the occurrences since the last line", () => {
    let now = 0;
    const { logger, lines } = collector();
    const log = new Log({ logger, now: () => now, summaryMs: 1000 });
    for (let i = 0; i < 5; i++, now += 300) log.failure("queue-unavailable", "down");
    expect(lines.map(({ line }) => [line.msg, line.count])).toEqual([
      ["down", undefined],
      ["queue-unavailable: still failing, 4 more since the last line", 4],
    ]);
  });

  test("lines below the level are dropped", () => {
    const { logger, lines } = collector();
    const log = new Log({ logger, level: "warn" });
    log.info("started");
    log.debug("detail");
    log.warn("careful", { executionId: "e-1", workflowId: "w", step: "s" });
    expect(lines.map(({ method, line }) => [method, line.msg, line.executionId, line.step])).toEqual([["warn", "careful", "e-1", "s"]]);
  });

  test("an unknown log level is refused, naming the levels", () => {
    expect(() => parseLogLevel("verbose")).toThrow('Invalid log level "verbose": use one of debug, info, warn, error');
    expect(parseLogLevel(" WARN ")).toBe("warn");
  });

  test("DW_LOG_LEVEL must name a level", () => {
    expect(() => appOptionsFromEnv({ DW_LOG_LEVEL: "loud" }, { workflows: [greetingWorkflow], log: () => {} })).toThrow(
      'DW_LOG_LEVEL: Invalid log level "loud": use one of debug, info, warn, error',
    );
  });

  test("QStash giving up on a job whose execution is gone says so, not that it is left for the sweeper", async () => {
    const { logger, lines } = collector();
    const handler = createQStashHandler({
      store: new MemoryStore(),
      workflows: [greetingWorkflow],
      receiver: { verify: () => Promise.resolve(true) },
      callbackUrl: "https://app.example/qstash",
      adapter: { enqueue: () => Promise.resolve() },
      log: logger,
    });
    const job = { action: "continue", workflowId: "greeting", executionId: "flushed-1" };
    const body = JSON.stringify({ status: 503, retried: 3, sourceBody: btoa(JSON.stringify(job)), body: btoa("down") });
    const response = await handler.failure(
      new Request("https://app.example/qstash/failure", { method: "POST", body, headers: { "upstash-signature": "x" } }),
    );
    expect(await response.json()).toEqual({ executionId: "flushed-1", abandoned: false, recoveredBy: null });
    expect(lines.map(({ line }) => [line.level, line.executionId, line.status])).toEqual([["warn", "flushed-1", "gone"]]);
    expect(String(lines[0]!.line.msg)).toEndWith("the execution no longer exists: nothing to do");
  });
});
