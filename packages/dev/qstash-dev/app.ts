/** The QStash v2 REST API (the part the SDKs use) and the loopback-only `/_dev` control routes, as Hono routes. */
import { type Context, Hono } from "hono";
import { type Bytes, encodeText } from "./bytes.ts";
import { QStashDevError } from "./errors.ts";
import { type Incoming, parsePublish, type Publisher } from "./publish.ts";
import type { Scheduler } from "./scheduler.ts";
import type { Schedules } from "./schedules.ts";
import type { StatsCounter } from "./stats.ts";
import { messageView, queueView } from "./views.ts";
import type { WorkflowRuns } from "./workflow.ts";

/** What the routes work on: the parts of a `QStashDev`. */
interface DevParts {
  token: string;
  currentSigningKey: string;
  nextSigningKey: string;
  scheduler: Scheduler;
  publisher: Publisher;
  schedules: Schedules;
  runs: WorkflowRuns;
  stats: StatsCounter;
}

/** Passed by the server: the peer's address, so that `/_dev` answers loopback callers only. */
export interface ConnectionInfo {
  remoteAddress?: string;
}

type Env = { Bindings: ConnectionInfo | undefined };

const DEFAULT_WAIT_MS = 60_000;

export function createQStashApp(dev: DevParts): Hono<Env> {
  const app = new Hono<Env>();
  const { scheduler, publisher, schedules, runs } = dev;

  app.onError((error, c) => {
    if (error instanceof QStashDevError) return c.json({ error: error.message }, error.status as 400);
    return c.json({ error: `qstash-dev: ${error instanceof Error ? error.message : String(error)}` }, 500);
  });
  app.notFound((c) => c.json({ error: `qstash-dev: no route ${c.req.method} ${new URL(c.req.url).pathname}` }, 404));

  app.use("/v2/*", async (c, next) => {
    dev.stats.received((await c.req.arrayBuffer()).byteLength);
    if (c.req.header("authorization") !== `Bearer ${dev.token}`) {
      throw new QStashDevError(401, "Unauthorized: expected header Authorization: Bearer <QSTASH_TOKEN>");
    }
    await next();
  });

  app.post("/v2/publish/*", async (c) => {
    // The SDK appends the destination as is (`.../v2/publish/http://host/path?q`): its query lands in ours.
    const result = await publisher.publish(parsePublish(await incoming(c, rawPath(c).slice("/v2/publish/".length)), "publish"));
    return c.json(result, result.deduplicated ? 202 : 201);
  });

  app.post("/v2/enqueue/*", async (c) => {
    const [queuePart = "", ...rest] = rawPath(c).slice("/v2/enqueue/".length).split("/");
    const queueName = decodePart(queuePart, "queue name");
    if (!queueName) throw new QStashDevError(400, "enqueue: missing queue name in /v2/enqueue/<queue>/<destination>");
    const message = { ...(await incoming(c, rest.join("/"))), queueName };
    const result = await publisher.publish(parsePublish(message, "publish"));
    return c.json(result, result.deduplicated ? 202 : 201);
  });

  app.post("/v2/batch", async (c) => {
    const items = batchItems(await c.req.text());
    // Check all before accepting any, so a bad item does not leave half a batch behind.
    const parsed = items.map((m, i) => parsePublish(m, `batch[${i}]`));
    for (const p of parsed) runs.checkPublishable(p.workflow);
    const results = [];
    for (const p of parsed) results.push(await publisher.publish(p));
    return c.json(results);
  });

  // The SDK's dev mode (QSTASH_DEV=true) probes this and uses a server that answers the dev keys.
  app.get("/v2/keys", (c) => c.json({ current: dev.currentSigningKey, next: dev.nextSigningKey }));

  app.get("/v2/messages/:id", (c) => c.json(messageView(entryOr404(scheduler, c.req.param("id")))));
  app.delete("/v2/messages/:id", (c) => {
    const id = c.req.param("id");
    entryOr404(scheduler, id);
    return c.json({ cancelled: scheduler.cancel([id]) });
  });
  app.delete("/v2/messages", (c) => {
    // The SDK's cancel(ids) sends ?messageIds=..; cancel({ all: true }) sends only count (and cursor).
    const ids = c.req.queries("messageIds") ?? [];
    if (ids.length) return c.json({ cancelled: scheduler.cancel(ids) });
    const filters = Object.keys(c.req.query()).filter((k) => !["count", "cursor", "all"].includes(k));
    if (filters.length) {
      throw new QStashDevError(501, `qstash-dev: cancelling by filter (${filters.join(", ")}) is not implemented; pass messageIds`);
    }
    return c.json({ cancelled: scheduler.cancel([...scheduler.entries.keys()]) });
  });

  app.post("/v2/queues", async (c) => {
    const body = await jsonBody<{ queueName?: unknown; parallelism?: unknown; paused?: unknown }>(
      c,
      "queues",
      "{ queueName, parallelism?, paused? }",
    );
    if (typeof body.queueName !== "string" || !body.queueName) throw new QStashDevError(400, "queues: queueName is required");
    const parallelism = body.parallelism ?? 1;
    if (typeof parallelism !== "number" || !Number.isInteger(parallelism) || parallelism < 1) {
      throw new QStashDevError(400, "queues: parallelism must be a positive integer");
    }
    const queue = scheduler.queue(body.queueName);
    queue.parallelism = parallelism;
    queue.paused = body.paused === true;
    queue.updatedAt = scheduler.clock();
    scheduler.pump();
    return c.body(null, 200);
  });
  app.get("/v2/queues", (c) => c.json([...scheduler.queues.values()].map((q) => queueView(q, scheduler.entries.values()))));
  app.get("/v2/queues/:name", (c) => c.json(queueView(queueOr404(scheduler, c.req.param("name")), scheduler.entries.values())));
  app.delete("/v2/queues/:name", (c) => {
    scheduler.queues.delete(queueOr404(scheduler, c.req.param("name")).name);
    return c.body(null, 200);
  });
  app.post("/v2/queues/:name/:action{pause|resume}", (c) => {
    const queue = queueOr404(scheduler, c.req.param("name"));
    queue.paused = c.req.param("action") === "pause";
    queue.updatedAt = scheduler.clock();
    scheduler.pump();
    return c.body(null, 200);
  });

  app.post("/v2/schedules/*", async (c) => {
    const message = await incoming(c, rawPath(c).slice("/v2/schedules/".length));
    const queueName = c.req.header("upstash-queue-name");
    return c.json({ scheduleId: schedules.create({ ...message, queueName: queueName || undefined }) }, 201);
  });
  app.get("/v2/schedules", (c) => c.json(schedules.list()));
  app.get("/v2/schedules/:id", (c) => c.json(schedules.get(c.req.param("id"))));
  app.delete("/v2/schedules/:id", (c) => {
    schedules.delete(c.req.param("id"));
    return c.body(null, 200);
  });
  app.on(["PATCH", "POST"], "/v2/schedules/:id/:action{pause|resume}", (c) => {
    schedules.setPaused(c.req.param("id"), c.req.param("action") === "pause");
    return c.body(null, 200);
  });

  app.get("/v2/workflows/runs/:id", (c) => c.json(runs.steps(c.req.param("id"))));
  app.delete("/v2/workflows/runs/:id", async (c) => {
    runs.end(c.req.param("id"), c.req.query("cancel") === "true", await c.req.text());
    return c.body(null, 200);
  });

  app.all("/v2/*", (c) => {
    throw new QStashDevError(501, `qstash-dev: ${c.req.method} ${new URL(c.req.url).pathname} is not implemented (see docs/qstash-dev.md)`);
  });

  app.use("/_dev/*", async (c, next) => {
    const address = c.env?.remoteAddress;
    if (address !== undefined && !isLoopback(address)) {
      throw new QStashDevError(403, "qstash-dev: /_dev routes answer loopback callers only");
    }
    await next();
  });
  app.get("/_dev/stats", (c) => c.json(dev.stats.snapshot()));
  app.post("/_dev/reset", (c) => {
    dev.stats.reset();
    return c.body(null, 204);
  });
  app.get("/_dev/runs/:id", (c) => {
    const info = runs.info(c.req.param("id"));
    if (!info) throw new QStashDevError(404, `workflow run ${JSON.stringify(c.req.param("id"))} not found`);
    return c.json(info);
  });
  app.get("/_dev/wait/:id", async (c) => {
    const timeoutMs = Number(c.req.query("timeoutMs") ?? DEFAULT_WAIT_MS);
    return c.json(await runs.waitEnded(c.req.param("id"), timeoutMs));
  });

  return app;
}

/** The request path exactly as sent (Hono's `c.req.path` may be percent-decoded). */
function rawPath(c: Context): string {
  return new URL(c.req.url).pathname;
}

async function incoming(c: Context, destination: string): Promise<Incoming> {
  const bytes: Bytes = new Uint8Array(await c.req.arrayBuffer());
  return { destination: destination + new URL(c.req.url).search, headers: c.req.raw.headers, bytes };
}

function batchItems(text: string): Incoming[] {
  let items: unknown;
  try {
    items = JSON.parse(text);
  } catch {
    throw new QStashDevError(400, "batch: body is not JSON; expected an array of { destination, headers?, body?, queue? }");
  }
  if (!Array.isArray(items)) throw new QStashDevError(400, "batch: expected a JSON array of messages");
  return items.map((item, i): Incoming => {
    if (typeof item !== "object" || item === null) throw new QStashDevError(400, `batch[${i}]: expected an object`);
    const { destination, headers, body, queue } = item as Record<string, unknown>;
    if (typeof destination !== "string") throw new QStashDevError(400, `batch[${i}].destination: expected a string`);
    if (body !== undefined && typeof body !== "string") throw new QStashDevError(400, `batch[${i}].body: expected a string`);
    if (queue !== undefined && typeof queue !== "string") throw new QStashDevError(400, `batch[${i}].queue: expected a string`);
    if (headers !== undefined && !isStringRecord(headers)) {
      throw new QStashDevError(400, `batch[${i}].headers: expected an object of string values`);
    }
    return { destination, headers: new Headers(headers ?? {}), bytes: encodeText(body ?? ""), queueName: queue || undefined };
  });
}

async function jsonBody<T>(c: Context, where: string, expected: string): Promise<T> {
  try {
    return ((await c.req.json()) ?? {}) as T;
  } catch {
    throw new QStashDevError(400, `${where}: body is not JSON; expected ${expected}`);
  }
}

function entryOr404(scheduler: Scheduler, id: string) {
  const entry = scheduler.entries.get(id);
  if (!entry) throw new QStashDevError(404, `message ${JSON.stringify(id)} not found`);
  return entry;
}

function queueOr404(scheduler: Scheduler, name: string) {
  const queue = scheduler.queues.get(name);
  if (!queue) throw new QStashDevError(404, `queue ${JSON.stringify(name)} not found`);
  return queue;
}

function decodePart(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new QStashDevError(400, `${what} ${JSON.stringify(part)} is not valid percent-encoding`);
  }
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === "string");
}

function isLoopback(address: string): boolean {
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}
