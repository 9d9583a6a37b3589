import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { type SSEStreamingApi, streamSSE } from "hono/streaming";
import { applyInputRules } from "../src/definition/inputs.ts";
import { WorkflowEvent } from "../src/engine/events.ts";
import { StreamRunner } from "../src/runners/stream.ts";
import type { Store } from "../src/store/store.ts";
import type { Execution, ExecutionResult, ExecutionStatus } from "../src/types.ts";
import { rawJsonField } from "./body.ts";
import type { AppEnv } from "./context.ts";
import { requireExecution } from "./executions.ts";
import { errorToResponse, HttpProblem } from "./problems.ts";
import { api, problem, route, text } from "./route.ts";
import { EventsQuery, ExecutionParams, StreamBody, WorkflowEvent as WorkflowEventSchema, WorkflowParams } from "./schemas.ts";
import { requireWorkflow } from "./workflows.ts";

/** How often a followed execution is read from the store (AppOptions.events.pollMs). */
const DEFAULT_POLL_MS = 500;
/** How often a stream sends `: heartbeat` (AppOptions.events.heartbeatMs). */
const DEFAULT_HEARTBEAT_MS = 15_000;

/** A comment line: EventSources ignore it; `writeSSE` writes messages only, so it is written as is. */
const HEARTBEAT = ": heartbeat\n\n";

/** A stream ends when the execution is in one of these: nothing more happens until someone resumes it. */
const STOPPED: ReadonlySet<ExecutionStatus> = new Set(["completed", "failed", "cancelled", "halted"]);

/**
 * The sequence number after which to replay: from `Last-Event-ID` (what an EventSource sends when it
 * reconnects, so it wins) or `?after=`, as `<executionId>:<seq>` or a bare `<seq>`; 0 without either.
 * Execution ids may contain `:`, so the seq is what follows the last one.
 */
function replayCursor(executionId: string, header: string | undefined, query: string | undefined): number {
  const [value, where] = header?.trim() ? [header.trim(), "Last-Event-ID"] : query !== undefined ? [query.trim(), "after"] : ["", ""];
  if (value === "") return 0;
  const colon = value.lastIndexOf(":");
  const prefix = colon < 0 ? executionId : value.slice(0, colon);
  const digits = value.slice(colon + 1);
  if (prefix === executionId && /^\d{1,15}$/.test(digits)) return Number(digits);
  const message = `must be "${executionId}:<seq>" or a bare <seq>`;
  throw new HttpProblem(400, `Invalid ${where} ${JSON.stringify(value.slice(0, 250))}: it ${message}.`, {
    errors: [{ path: where, message }],
  });
}

/**
 * One SSE response: writes whole frames (one write each, so heartbeats never land inside a frame), sends
 * the heartbeat, and turns "the client went away" into one AbortSignal that ends every wait at once.
 */
class Feed {
  readonly #stream: SSEStreamingApi;
  readonly #abort = new AbortController();
  readonly #request: AbortSignal;
  readonly #heartbeat: ReturnType<typeof setInterval>;
  readonly signal: AbortSignal = this.#abort.signal;

  constructor(stream: SSEStreamingApi, request: AbortSignal, heartbeatMs: number) {
    this.#stream = stream;
    this.#request = request;
    // Hono calls onAbort when the response body is cancelled; the request signal covers runtimes that only
    // abort the request. Aborting the Hono stream also fails writes that wait on a reader that is gone.
    stream.onAbort(this.#stop);
    request.addEventListener("abort", this.#stop, { once: true });
    if (request.aborted) this.#stop();
    this.#heartbeat = setInterval(() => void stream.write(HEARTBEAT), heartbeatMs);
  }

  #stop = (): void => {
    if (this.signal.aborted) return;
    this.#abort.abort();
    this.#stream.abort();
    this.dispose();
  };

  /** Stops the heartbeat and lets go of the request; safe to call twice. */
  dispose(): void {
    clearInterval(this.#heartbeat);
    this.#request.removeEventListener("abort", this.#stop);
  }

  async send(event: WorkflowEvent): Promise<void> {
    if (!this.signal.aborted) await this.#stream.writeSSE({ id: event.id, event: event.type, data: event.json() });
  }

  /**
   * Reports an error that happened after the stream started (its status line is gone) as Hono's
   * `streamSSE` does: an `error` event, here with the problem+json body as data. It has no id, so it
   * does not move the client's Last-Event-ID.
   */
  async fail(error: unknown, c: Context<AppEnv>): Promise<void> {
    if (this.signal.aborted) return;
    const problem = await errorToResponse(error, c).text();
    await this.#stream.writeSSE({ event: "error", data: problem });
  }

  /** Waits `ms`, or less when the client goes away; leaves no timer behind. */
  pause(ms: number): Promise<void> {
    return this.#wait(undefined, ms);
  }

  /** Waits until `wake` settles or the client goes away. */
  until(wake: Promise<unknown>): Promise<void> {
    return this.#wait(wake, undefined);
  }

  #wait(wake: Promise<unknown> | undefined, ms: number | undefined): Promise<void> {
    const signal = this.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        if (timer !== undefined) clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      signal.addEventListener("abort", done, { once: true });
      if (ms !== undefined) timer = setTimeout(done, ms);
      wake?.then(done, done);
    });
  }
}

function settings(c: Context<AppEnv>) {
  const events = c.get("app").options.events;
  return { pollMs: events?.pollMs ?? DEFAULT_POLL_MS, heartbeatMs: events?.heartbeatMs ?? DEFAULT_HEARTBEAT_MS };
}

/** `streamSSE` with the headers a proxy needs to pass events through at once, and a Feed around it. */
function sse(c: Context<AppEnv>, body: (feed: Feed) => Promise<void>): Response {
  c.header("X-Accel-Buffering", "no");
  const { heartbeatMs } = settings(c);
  return streamSSE(c, async (stream) => {
    const feed = new Feed(stream, c.req.raw.signal, heartbeatMs);
    try {
      await body(feed);
    } catch (error) {
      await feed.fail(error, c);
    } finally {
      feed.dispose();
    }
  });
}

/**
 * Sends the stored events of `id` after `cursor`, then polls the store for new ones until the execution
 * completes, fails or halts, or the client goes away. Each poll is one `load`; `events` is read only when
 * the execution's `eventSeq` says there is something new. The status is read before the events: a
 * checkpoint stores the status and its events together, so once a stopped status is seen, every event up
 * to its `eventSeq` is already there, and nothing after it (a resume that came meanwhile) is sent.
 */
async function follow(feed: Feed, store: Store, id: string, cursor: number, pollMs: number, first?: Execution): Promise<void> {
  let execution: Execution | null | undefined = first;
  while (!feed.signal.aborted) {
    execution ??= await store.load(id);
    if (feed.signal.aborted) return;
    if (!execution) throw new HttpProblem(404, `Execution "${id}" was deleted.`);
    const stopped = STOPPED.has(execution.status);
    const last = execution.eventSeq ?? Number.MAX_SAFE_INTEGER;
    if (last > cursor) {
      for (const stored of await store.events(id, { after: cursor })) {
        if (feed.signal.aborted || (stopped && stored.seq > last)) break;
        await feed.send(WorkflowEvent.fromStored(stored));
        cursor = stored.seq;
      }
    }
    if (stopped) return;
    execution = undefined;
    await feed.pause(pollMs);
  }
}

/** Keeps a run going after the response on runtimes that stop work with it (Workers' `waitUntil`). */
function keepRunning(c: Context<AppEnv>, run: Promise<unknown>): void {
  try {
    c.executionCtx.waitUntil(run.catch(() => {}));
  } catch {
    // No ExecutionContext (Bun, Deno, app.request): the process keeps the promise alive by itself.
  }
}

const FRAMES = "`id: <executionId>:<seq>` / `event: <type>` / `data: <WorkflowEvent JSON>` frames";

const streamExecution = route({
  method: "post",
  path: "/workflows/{id}/executions/stream",
  operationId: "streamExecution",
  tags: ["events"],
  summary: "Start an execution and stream its events as Server-Sent Events",
  request: { params: WorkflowParams, body: { content: { "application/json": { schema: StreamBody } } } },
  responses: {
    200: text("text/event-stream", `${FRAMES}, as the run goes, until it ends or halts (docs/events.md)`),
    404: problem("Unknown workflow"),
    409: problem("The execution id belongs to another workflow"),
    422: problem("The input breaks the workflow's input rules"),
  },
}, { store: true });

const executionEvents = route({
  method: "get",
  path: "/executions/{id}/events",
  operationId: "executionEvents",
  tags: ["events"],
  summary: "An execution's events as Server-Sent Events: replay, then live until it ends (completed, failed, cancelled) or halts",
  request: {
    params: ExecutionParams,
    query: EventsQuery,
    headers: z.object({
      "Last-Event-ID": z.string().optional().describe("Replay the events after this one: `<executionId>:<seq>` or a bare `<seq>`"),
    }),
  },
  responses: {
    200: text(
      "text/event-stream",
      `The stored events after the given one as ${FRAMES}, then new ones as they are stored, until the execution completes, fails or halts (docs/events.md)`,
    ),
    204: {
      description: "The execution has ended (or halted) and there is nothing after the given event: an EventSource stops reconnecting",
    },
    404: problem("Unknown execution"),
  },
}, { store: true });

/** POST /workflows/:id/executions/stream and GET /executions/:id/events (docs/events.md). */
export function eventRoutes(): OpenAPIHono<AppEnv> {
  const routes = api();
  routes.openAPIRegistry.register("WorkflowEvent", WorkflowEventSchema);

  routes.openapi(streamExecution, async (c) => {
    const app = c.get("app");
    const workflow = await requireWorkflow(app, c.req.valid("param").id);
    const { executionId } = c.req.valid("json");
    const input = (await rawJsonField(c, "input")) ?? {};
    applyInputRules(workflow, input);

    // Events are queued by the subscriber (the run never waits for the client) and written by the stream.
    const queue: WorkflowEvent[] = [];
    let wake = () => {};
    let listening = true;
    const runner = new StreamRunner(workflow, app.runnerOptions).subscribe((event) => {
      if (!listening) return;
      queue.push(event);
      wake();
    });
    const run = runner.run(input, { executionId });
    keepRunning(c, run);
    // The engine hands out the first events once the execution is stored: a failure before that (the store
    // is down, the id belongs to another workflow) is still a problem+json answer.
    await Promise.race([new Promise<void>((resolve) => (wake = resolve)), run]);

    return sse(c, async (feed) => {
      feed.signal.addEventListener("abort", () => {
        listening = false;
        queue.length = 0;
      }, { once: true });
      let outcome: { result: ExecutionResult } | { error: unknown } | undefined;
      const settled = run.then((result) => void (outcome = { result }), (error) => void (outcome = { error }));
      let sent = 0;
      let cursor = 0;
      for (;;) {
        while (queue.length > 0 && !feed.signal.aborted) {
          const event = queue.shift()!;
          await feed.send(event);
          sent += 1;
          cursor = event.seq ?? cursor;
        }
        if (feed.signal.aborted) return;
        // Every event of a run is queued before its promise settles: nothing can come after this.
        if (outcome) break;
        await feed.until(Promise.race([new Promise<void>((resolve) => (wake = resolve)), settled]));
      }
      if ("error" in outcome) throw outcome.error;
      const { result } = outcome;
      // An existing execution (idempotent start) emits nothing here: send what the store has, and follow it.
      if (sent === 0 || !STOPPED.has(result.status)) {
        await follow(feed, app.store, result.executionId, cursor, settings(c).pollMs);
      }
    });
  });

  routes.openapi(executionEvents, async (c) => {
    const app = c.get("app");
    const { id } = c.req.valid("param");
    const cursor = replayCursor(id, c.req.valid("header")["Last-Event-ID"], c.req.valid("query").after);
    const execution = await requireExecution(app, id);
    // An EventSource reconnects whenever a stream ends; 204 is how SSE tells it to stop.
    if (STOPPED.has(execution.status) && execution.eventSeq <= cursor) return c.body(null, 204);
    return sse(c, (feed) => follow(feed, app.store, id, cursor, settings(c).pollMs, execution));
  });

  return routes;
}
