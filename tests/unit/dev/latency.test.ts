// The `latencyMs` options of the Redis bridge and qstash-dev: each request (and each delivery) waits the injected
// sleep before anything is done. Ordering only: the sleep is held, nothing moves on until it is released.
import { describe, expect, test } from "bun:test";
import { createBridgeHandler, type RespConnection } from "durable-workflow-edge-dev/bridge";
import { DEV_QSTASH_TOKEN, QStashDev } from "durable-workflow-edge-dev/qstash";

/** A sleep that records its calls and resolves only when released. */
function heldSleep() {
  const calls: number[] = [];
  const waiting: (() => void)[] = [];
  return {
    calls,
    sleep: (ms: number) => {
      calls.push(ms);
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    release: () => waiting.shift()!(),
  };
}

/** Lets pending promise callbacks and I/O run until `done` holds. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 0));
  expect(done()).toBe(true);
}

describe("bridge latencyMs", () => {
  test("a request waits latencyMs before its command reaches Redis", async () => {
    const held = heldSleep();
    const sent: string[][][] = [];
    const redis = { send: (commands: string[][]) => (sent.push(commands), Promise.resolve([new TextEncoder().encode("v")])) };
    const { handler } = createBridgeHandler({ redis: redis as unknown as RespConnection, token: "t", latencyMs: 2, sleep: held.sleep });
    let answered = false;
    const response = handler(
      new Request("http://bridge/", { method: "POST", headers: { authorization: "Bearer t" }, body: '["GET","k"]' }),
    ).then((r) => (answered = true, r));
    await until(() => held.calls.length === 1);
    expect(held.calls).toEqual([2]);
    expect(sent).toEqual([]);
    expect(answered).toBe(false);
    held.release();
    expect(await (await response).json()).toEqual({ result: "v" });
    expect(sent).toEqual([[["GET", "k"]]]);
  });

  test("without latencyMs nothing waits", async () => {
    const held = heldSleep();
    const redis = { send: () => Promise.resolve([1]) };
    const { handler } = createBridgeHandler({ redis: redis as unknown as RespConnection, token: "t", sleep: held.sleep });
    const response = await handler(
      new Request("http://bridge/", { method: "POST", headers: { authorization: "Bearer t" }, body: '["INCR","k"]' }),
    );
    expect(await response.json()).toEqual({ result: 1 });
    expect(held.calls).toEqual([]);
  });
});

describe("qstash-dev latencyMs", () => {
  test("a publish waits latencyMs before it is accepted, and its delivery waits latencyMs before it is sent", async () => {
    const held = heldSleep();
    const delivered: string[] = [];
    const dev = new QStashDev({
      latencyMs: 20,
      sleep: held.sleep,
      fetch: (url) => (delivered.push(url), Promise.resolve(new Response("ok"))),
    });
    try {
      let answered = false;
      const published = dev.fetch(
        new Request("http://qstash/v2/publish/http://app/jobs", {
          method: "POST",
          headers: { authorization: `Bearer ${DEV_QSTASH_TOKEN}`, "content-type": "application/json" },
          body: "{}",
        }),
      ).then((r) => (answered = true, r));
      await until(() => held.calls.length === 1);
      expect(answered).toBe(false);
      expect(dev.messages()).toEqual([]);
      held.release();
      expect((await published).status).toBe(201);

      // The delivery: signed and ready, then held by its own latency before it goes out.
      await until(() => held.calls.length === 2);
      expect(held.calls).toEqual([20, 20]);
      expect(delivered).toEqual([]);
      held.release();
      await dev.waitIdle();
      expect(delivered).toEqual(["http://app/jobs"]);
      expect(dev.messages().map((m) => m.state)).toEqual(["DELIVERED"]);
    } finally {
      dev.close();
    }
  });
});
