// End-to-end: the real @upstash/qstash Client publishes to qstash-dev, which delivers to a small Bun server,
// where the real Receiver checks the signatures.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { Client, Receiver } from "@upstash/qstash";
import { decodeJwt, SignJWT } from "jose";
import {
  compileRetryDelay,
  DEV_CURRENT_SIGNING_KEY,
  DEV_NEXT_SIGNING_KEY,
  DEV_QSTASH_TOKEN,
  parseDuration,
  type QStashDevServer,
  startQStashDev,
} from "durable-workflow-edge-dev/qstash";
import { type Received, signature, startDestination } from "../../support/qstash-destination.ts";

let qstash: QStashDevServer;
let app: ReturnType<typeof startDestination>;
let client: Client;
const receiver = new Receiver({ currentSigningKey: DEV_CURRENT_SIGNING_KEY, nextSigningKey: DEV_NEXT_SIGNING_KEY });

beforeEach(() => {
  qstash = startQStashDev({ port: 0, retryDelayMs: 1 });
  app = startDestination();
  client = new Client({ baseUrl: qstash.url, token: DEV_QSTASH_TOKEN, retry: false, enableTelemetry: false });
});

afterEach(async () => {
  await qstash.stop();
  await app.stop();
});

describe("publishing and delivery", () => {
  test("publishJSON is delivered once with its body intact and a signature Receiver.verify accepts", async () => {
    const published = await client.publishJSON({ url: `${app.url}/jobs`, body: { hello: "wörld", n: 1 } });
    await qstash.waitIdle();

    const deliveries = app.at("/jobs");
    expect(deliveries).toHaveLength(1);
    const [delivery] = deliveries as [Received];
    expect(published.url).toBe(`${app.url}/jobs`);
    expect(delivery.method).toBe("POST");
    expect(JSON.parse(delivery.body)).toEqual({ hello: "wörld", n: 1 });
    expect(delivery.headers.get("content-type")).toBe("application/json");
    expect(delivery.headers.get("upstash-message-id")).toBe(published.messageId);
    expect(await receiver.verify({ signature: signature(delivery), body: delivery.body, url: delivery.url })).toBe(true);
    expect(qstash.messages().map((m) => m.state)).toEqual(["DELIVERED"]);
  });

  test("the signature is an HS256 JWT from Upstash for the destination, valid five minutes, with the body's hash", async () => {
    await client.publishJSON({ url: `${app.url}/jobs`, body: { a: 1 } });
    await qstash.waitIdle();

    const [delivery] = app.at("/jobs") as [Received];
    const claims = decodeJwt(signature(delivery));
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(delivery.body)));
    const hash = btoa(String.fromCharCode(...digest)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
    expect(claims).toMatchObject({ iss: "Upstash", sub: `${app.url}/jobs`, body: hash });
    expect(claims.exp! - claims.iat!).toBe(300);
    expect(claims.nbf).toBe(claims.iat!);
    expect(claims.jti).toEqual(expect.any(String));
  });

  test("headers given to publishJSON arrive as plain headers, without the Upstash-Forward- prefix", async () => {
    await client.publishJSON({
      url: `${app.url}/jobs`,
      body: {},
      headers: { "X-Trace-Id": "trace-1", Authorization: "Bearer app-secret" },
    });
    await qstash.waitIdle();

    const [delivery] = app.at("/jobs") as [Received];
    expect(delivery.headers.get("x-trace-id")).toBe("trace-1");
    expect(delivery.headers.get("authorization")).toBe("Bearer app-secret");
    expect(delivery.headers.get("upstash-forward-x-trace-id")).toBeNull();
  });

  test("a destination's query string is kept for delivery and signature", async () => {
    const url = `${app.url}/jobs?workflow=w1&note=two%20words`;
    await client.publishJSON({ url, body: {} });
    await qstash.waitIdle();

    const [delivery] = app.at("/jobs") as [Received];
    expect(delivery.url).toBe(url);
    expect(await receiver.verify({ signature: signature(delivery), body: delivery.body, url: delivery.url })).toBe(true);
  });

  test("Upstash-Method chooses the delivery method", async () => {
    await client.publish({ url: `${app.url}/jobs`, method: "PUT", body: "x" });
    await qstash.waitIdle();

    expect(app.at("/jobs").map((r) => r.method)).toEqual(["PUT"]);
  });

  test("batchJSON delivers each message to its own destination", async () => {
    const results = await client.batchJSON([
      { url: `${app.url}/a`, body: { n: 1 } },
      { url: `${app.url}/b`, body: { n: 2 }, headers: { "X-Which": "b" } },
    ]);
    await qstash.waitIdle();

    expect(results.map((r) => r.url)).toEqual([`${app.url}/a`, `${app.url}/b`]);
    expect(new Set(results.map((r) => r.messageId)).size).toBe(2);
    const [a] = app.at("/a") as [Received];
    const [b] = app.at("/b") as [Received];
    expect(JSON.parse(a.body)).toEqual({ n: 1 });
    expect(JSON.parse(b.body)).toEqual({ n: 2 });
    expect(b.headers.get("x-which")).toBe("b");
    expect(await receiver.verify({ signature: signature(b), body: b.body, url: b.url })).toBe(true);
  });
});

describe("signatures are strict", () => {
  async function oneDelivery(): Promise<Received> {
    await client.publishJSON({ url: `${app.url}/jobs`, body: { amount: 10 } });
    await qstash.waitIdle();
    return app.at("/jobs")[0]!;
  }

  test("a signature made with another key is rejected", async () => {
    const delivery = await oneDelivery();
    const genuine = decodeJwt(signature(delivery));
    const forged = await new SignJWT(genuine)
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .sign(new TextEncoder().encode("sig_notTheRealKeyAtAll"));
    await expect(receiver.verify({ signature: forged, body: delivery.body, url: delivery.url })).rejects.toThrow();
  });

  test("a changed body is rejected", async () => {
    const delivery = await oneDelivery();
    const changed = delivery.body.replace("10", "1000");
    await expect(receiver.verify({ signature: signature(delivery), body: changed, url: delivery.url })).rejects.toThrow(
      "body hash does not match",
    );
  });

  test("another URL is rejected", async () => {
    const delivery = await oneDelivery();
    await expect(receiver.verify({ signature: signature(delivery), body: delivery.body, url: `${app.url}/other` })).rejects.toThrow(
      "invalid subject",
    );
  });

  test("a receiver that knows the signing key only as its next key still accepts (key rotation)", async () => {
    const delivery = await oneDelivery();
    const rotated = new Receiver({ currentSigningKey: "sig_someNewerKey", nextSigningKey: DEV_CURRENT_SIGNING_KEY });
    expect(await rotated.verify({ signature: signature(delivery), body: delivery.body, url: delivery.url })).toBe(true);
  });
});

describe("retries and callbacks", () => {
  test("non-2xx answers are redelivered with Upstash-Retried 1, 2 and the same message id", async () => {
    app.handle("/flaky", (_req, nth) => new Response("not yet", { status: nth <= 2 ? 500 : 200 }));
    const published = await client.publishJSON({ url: `${app.url}/flaky`, body: { job: 1 } });
    await qstash.waitIdle();

    const deliveries = app.at("/flaky");
    expect(deliveries.map((r) => r.headers.get("upstash-retried"))).toEqual(["0", "1", "2"]);
    expect(new Set(deliveries.map((r) => r.headers.get("upstash-message-id")))).toEqual(new Set([published.messageId]));
    expect(qstash.messages()[0]).toMatchObject({ state: "DELIVERED", retried: 2 });
  });

  test("after the last retry fails, the failure callback gets a signed report", async () => {
    app.handle("/down", () => new Response("service down", { status: 503 }));
    const published = await client.publishJSON({
      url: `${app.url}/down`,
      body: { job: 7 },
      retries: 2,
      failureCallback: `${app.url}/failed`,
    });
    await qstash.waitIdle();

    expect(app.at("/down")).toHaveLength(3);
    const reports = app.at("/failed");
    expect(reports).toHaveLength(1);
    const [report] = reports as [Received];
    expect(await receiver.verify({ signature: signature(report), body: report.body, url: `${app.url}/failed` })).toBe(true);
    const payload = JSON.parse(report.body);
    expect(payload).toMatchObject({
      status: 503,
      sourceMessageId: published.messageId,
      url: `${app.url}/down`,
      method: "POST",
      retried: 2,
      maxRetries: 2,
    });
    expect(atob(payload.body)).toBe("service down");
    expect(JSON.parse(atob(payload.sourceBody))).toEqual({ job: 7 });
    expect(qstash.messages().find((m) => m.messageId === published.messageId)?.state).toBe("FAILED");
  });

  test("Upstash-Callback receives the destination's answer, signed", async () => {
    app.handle("/work", () => Response.json({ done: true }, { status: 201 }));
    const published = await client.publishJSON({ url: `${app.url}/work`, body: {}, callback: `${app.url}/callback` });
    await qstash.waitIdle();

    const [report] = app.at("/callback") as [Received];
    expect(await receiver.verify({ signature: signature(report), body: report.body, url: report.url })).toBe(true);
    const payload = JSON.parse(report.body);
    expect(payload).toMatchObject({ status: 201, sourceMessageId: published.messageId, retried: 0 });
    expect(JSON.parse(atob(payload.body))).toEqual({ done: true });
  });

  test("an answer 489 with Upstash-NonRetryable-Error: true is not retried", async () => {
    app.handle("/reject", () => new Response("bad job", { status: 489, headers: { "Upstash-NonRetryable-Error": "true" } }));
    await client.publishJSON({ url: `${app.url}/reject`, body: {} });
    await qstash.waitIdle();

    expect(app.at("/reject")).toHaveLength(1);
    expect(qstash.messages()[0]?.state).toBe("FAILED");
  });

  test("Upstash-Retry-Delay expressions compute the backoff in ms from retried", () => {
    expect(compileRetryDelay("1000 * pow(2, retried)")(3)).toBe(8000);
    expect(compileRetryDelay("max(10, 1000 * (1 + retried))")(0)).toBe(1000);
    expect(() => compileRetryDelay("1000 * evil(retried)")).toThrow("unknown name evil");
  });
});

describe("deduplication", () => {
  test("a second publish with the same deduplication id returns the same message and delivers nothing new", async () => {
    const first = await client.publishJSON({ url: `${app.url}/jobs`, body: { n: 1 }, deduplicationId: "job-1" });
    const second = await client.publishJSON({ url: `${app.url}/jobs`, body: { n: 1 }, deduplicationId: "job-1" });
    await qstash.waitIdle();

    expect(second.messageId).toBe(first.messageId);
    expect(second.deduplicated).toBe(true);
    expect(app.at("/jobs")).toHaveLength(1);
  });

  test("content-based deduplication delivers identical messages once", async () => {
    for (const n of [1, 1, 2]) {
      await client.publishJSON({ url: `${app.url}/jobs`, body: { n }, contentBasedDeduplication: true });
    }
    await qstash.waitIdle();

    expect(app.at("/jobs").map((r) => JSON.parse(r.body).n)).toEqual([1, 2]);
  });
});

describe("time", () => {
  test("a message with Upstash-Delay 10s is not delivered before it is due", async () => {
    await client.publishJSON({ url: `${app.url}/later`, body: {}, delay: "10s" });
    await qstash.waitIdle();
    expect(app.at("/later")).toHaveLength(0);

    qstash.advanceTime(9_000);
    await qstash.waitIdle();
    expect(app.at("/later")).toHaveLength(0);

    qstash.advanceTime(1_000);
    await qstash.waitIdle();
    expect(app.at("/later")).toHaveLength(1);
  });

  test("a message with Upstash-Not-Before waits for that unix second", async () => {
    const inAnHour = Math.floor(Date.now() / 1000) + 3600;
    await client.publishJSON({ url: `${app.url}/later`, body: {}, notBefore: inAnHour });
    await qstash.waitIdle();
    expect(app.at("/later")).toHaveLength(0);

    qstash.advanceTime(3_600_000);
    await qstash.waitIdle();
    expect(app.at("/later")).toHaveLength(1);
  });

  test("durations take s, m, h, d and combinations", () => {
    expect([parseDuration("10s"), parseDuration("2m"), parseDuration("1h30m"), parseDuration("1d")]).toEqual([
      10_000,
      120_000,
      5_400_000,
      86_400_000,
    ]);
    expect(parseDuration("soon")).toBeUndefined();
  });
});

describe("queues and messages", () => {
  test("a queue delivers its messages one at a time, in order", async () => {
    let inFlight = 0;
    let mostInFlight = 0;
    app.handle("/serial", async () => {
      mostInFlight = Math.max(mostInFlight, ++inFlight);
      await Bun.sleep(5);
      inFlight--;
      return new Response("ok");
    });
    const queue = client.queue({ queueName: "jobs" });
    for (const n of [1, 2, 3]) await queue.enqueueJSON({ url: `${app.url}/serial`, body: { n } });
    await qstash.waitIdle();

    expect(app.at("/serial").map((r) => JSON.parse(r.body).n)).toEqual([1, 2, 3]);
    expect(mostInFlight).toBe(1);
  });

  test("a queued message keeps its slot while it is retried: the next one waits until it is delivered", async () => {
    const order: string[] = [];
    app.handle("/retry-first", (req, nth) => {
      order.push(`${req.headers.get("upstash-retried")}`);
      return new Response("", { status: nth === 1 ? 500 : 200 });
    });
    app.handle("/second", () => (order.push("second"), new Response("ok")));
    const queue = client.queue({ queueName: "retrying" });
    await queue.enqueueJSON({ url: `${app.url}/retry-first`, body: {} });
    await queue.enqueueJSON({ url: `${app.url}/second`, body: {} });
    await qstash.waitIdle();

    expect(order).toEqual(["0", "1", "second"]);
  });

  test("a paused queue holds its messages until it is resumed", async () => {
    const queue = client.queue({ queueName: "held" });
    await queue.upsert({ parallelism: 1, paused: true });
    await queue.enqueueJSON({ url: `${app.url}/held`, body: {} });
    await qstash.waitIdle();
    expect(app.at("/held")).toHaveLength(0);
    expect(await queue.get()).toMatchObject({ name: "held", paused: true, lag: 1 });

    await queue.resume();
    await qstash.waitIdle();
    expect(app.at("/held")).toHaveLength(1);
  });

  test("client.messages.get shows a pending message and cancel stops its delivery", async () => {
    const { messageId } = await client.publishJSON({ url: `${app.url}/later`, body: { n: 1 }, delay: "1m" });

    const pending = await client.messages.get(messageId);
    expect(pending).toMatchObject({ messageId, url: `${app.url}/later`, method: "POST", maxRetries: 3 });
    expect(await client.messages.cancel(messageId)).toEqual({ cancelled: 1 });

    qstash.advanceTime(60_000);
    await qstash.waitIdle();
    expect(app.at("/later")).toHaveLength(0);
    expect(qstash.messages()[0]?.state).toBe("CANCELLED");
  });
});

describe("refusals", () => {
  test("a wrong token is refused with 401 and nothing is delivered", async () => {
    const intruder = new Client({ baseUrl: qstash.url, token: "not-the-token", retry: false, enableTelemetry: false });
    const error = await intruder.publishJSON({ url: `${app.url}/jobs`, body: {} }).catch((e: unknown) => e);

    expect(error).toMatchObject({ name: "QstashError", status: 401 });
    expect(qstash.messages()).toHaveLength(0);
  });

  test("a publish to a malformed destination is refused with 400 saying why", async () => {
    const error = await client.publishJSON({ url: "not a url", body: {} }).catch((e: unknown) => e);

    expect(error).toMatchObject({ name: "QstashError", status: 400 });
    expect((error as Error).message).toContain("is not an absolute http:// or https:// URL");
  });

  test("a malformed Upstash-Delay header is refused with 400 naming the header", async () => {
    const response = await fetch(`${qstash.url}/v2/publish/${app.url}/jobs`, {
      method: "POST",
      headers: { Authorization: `Bearer ${DEV_QSTASH_TOKEN}`, "Upstash-Delay": "soon" },
      body: "{}",
    });

    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toContain("Upstash-Delay");
  });
});

describe("the SDK's own dev mode", () => {
  test("QSTASH_DEV clients and receivers find qstash-dev through GET /v2/keys", async () => {
    const previousPort = process.env.QSTASH_DEV_PORT;
    process.env.QSTASH_DEV_PORT = String(qstash.port);
    try {
      const devClient = new Client({ devMode: true, retry: false, enableTelemetry: false });
      await devClient.publishJSON({ url: `${app.url}/jobs`, body: { dev: true } });
      await qstash.waitIdle();

      const [delivery] = app.at("/jobs") as [Received];
      const devReceiver = new Receiver({ devMode: true });
      expect(await devReceiver.verify({ signature: signature(delivery), body: delivery.body, url: delivery.url })).toBe(true);
    } finally {
      if (previousPort === undefined) delete process.env.QSTASH_DEV_PORT;
      else process.env.QSTASH_DEV_PORT = previousPort;
    }
  });
});
