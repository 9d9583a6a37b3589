/**
 * `durable-workflow-edge/client`: a typed client of the HTTP API on Web `fetch` only (browsers, Workers, Deno,
 * Bun, Node 20). Its types are the route schemas' own (`routes/schemas.ts`), imported as types only, so the
 * client carries none of the server. Errors are `ProblemError`s holding the problem+json answer.
 */
import type { z } from "@hono/zod-openapi";
import type * as schemas from "./schemas.ts";

export type Accepted = z.output<typeof schemas.Accepted>;
export type Entry = z.output<typeof schemas.Entry>;
export type Execution = z.output<typeof schemas.Execution>;
export type ExecutionPage = z.output<typeof schemas.ExecutionPage>;
export type ExecutionResult = z.output<typeof schemas.ExecutionResult>;
export type ExecutionSummary = z.output<typeof schemas.ExecutionSummary>;
/** The list's filters; `labels` become `label.<name>=<value>` parameters. */
export type ListFilters = z.input<typeof schemas.ListQuery> & { labels?: Record<string, string> };
/** A bulk cancel or retry (routes/bulk.ts): which executions, at most how many (1–100), `dryRun`, and a cancel's `reason`. */
export interface BulkRequest {
  filter: Omit<ListFilters, "limit" | "cursor">;
  max: number;
  dryRun?: boolean;
  reason?: string;
}
/** Its answer: one result per execution selected; `more` when more match. */
export interface BulkAnswer {
  action: "cancel" | "retry";
  dryRun: boolean;
  results: { executionId: string; workflowId: string; ok: boolean; status?: string; error?: { status: number; detail: string } }[];
  more: boolean;
}
export type Problem = z.output<typeof schemas.Problem>;
export type WorkflowDetail = z.output<typeof schemas.WorkflowDetail>;
export type WorkflowEvent = z.output<typeof schemas.WorkflowEvent>;
export type WorkflowSummary = z.output<typeof schemas.WorkflowSummary>;

type Mode = { mode?: "async" } | { mode: "sync" };
export type StartOptions = Omit<z.input<typeof schemas.RunBody>, "mode">;
export type ResumeAnswer = Omit<z.input<typeof schemas.ResumeBody>, "mode">;
export type CancelOptions = z.input<typeof schemas.CancelBody>;

export interface ClientOptions {
  /** The app's URL, e.g. `https://orders.example.com` (a path prefix is kept). */
  baseUrl: string | URL;
  /** Sent as `Authorization: Bearer <token>` (the app's `DW_API_TOKEN`). */
  token?: string;
  /** Extra headers on every request. */
  headers?: HeadersInit;
  /** The `fetch` to use (default: the global one). */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
}

export interface EventsOptions {
  /** Start after this event (`<executionId>:<seq>`), as an EventSource's `Last-Event-ID`. */
  lastEventId?: string;
  /** Stops the stream (the iterator ends). */
  signal?: AbortSignal;
  /** Wait before reconnecting after a dropped connection (default 1000 ms). */
  reconnectDelayMs?: number;
  /** Reconnections in a row that bring no event before the iterator gives up with the last error (default 5). */
  maxReconnects?: number;
}

/** A non-2xx answer: its status and problem+json body (`detail`, `errors` with paths). */
export class ProblemError extends Error {
  override name = "ProblemError";
  constructor(readonly status: number, readonly problem: Problem) {
    super(`${status} ${problem.title}: ${problem.detail}`);
  }
}

/** The events after which a stream ends: nothing more happens until the execution is resumed or retried. */
const LAST_EVENTS: ReadonlySet<string> = new Set(["workflow.completed", "workflow.failed", "workflow.cancelled", "workflow.halted"]);

interface Message {
  id?: string;
  event?: string;
  data: string;
}

/** The messages of an SSE body (comments skipped), as the EventSource parsing rules read them. */
async function* messagesOf(body: ReadableStream<Uint8Array>): AsyncGenerator<Message> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let message: Partial<Message> & { lines: string[] } = { lines: [] };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop()!;
      for (const line of lines) {
        if (line === "") {
          if (message.lines.length) yield { id: message.id, event: message.event, data: message.lines.join("\n") };
          message = { lines: [] };
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "data") message.lines.push(value);
        else if (field === "id") message.id = value;
        else if (field === "event") message.event = value;
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** A ProblemError from an answer that is not 2xx (a body that is not problem+json still gives its text). */
async function problemOf(response: Response): Promise<ProblemError> {
  const text = await response.text();
  try {
    return new ProblemError(response.status, JSON.parse(text) as Problem);
  } catch {
    return new ProblemError(response.status, { type: "about:blank", title: response.statusText, status: response.status, detail: text });
  }
}

/** The typed client: one method per route an application calls (see createClient). */
export class DurableWorkflowClient {
  readonly #base: string;
  readonly #headers: Headers;
  readonly #fetch: NonNullable<ClientOptions["fetch"]>;

  constructor(options: ClientOptions) {
    this.#base = String(options.baseUrl).replace(/\/+$/, "");
    this.#headers = new Headers(options.headers);
    if (options.token) this.#headers.set("authorization", `Bearer ${options.token}`);
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init));
  }

  async #send(method: string, path: string, body?: unknown, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(this.#headers);
    for (const [name, value] of new Headers(init.headers)) headers.set(name, value);
    if (body !== undefined) headers.set("content-type", "application/json");
    const response = await this.#fetch(`${this.#base}${path}`, {
      ...init,
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw await problemOf(response);
    return response;
  }

  async #json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return await (await this.#send(method, path, body)).json() as T;
  }

  /** The workflows the app serves, each at its current version. */
  async workflows(): Promise<WorkflowSummary[]> {
    return (await this.#json<{ workflows: WorkflowSummary[] }>("GET", "/workflows")).workflows;
  }

  /** One workflow at its current version, with its steps and diagram. */
  workflow(id: string): Promise<WorkflowDetail> {
    return this.#json("GET", `/workflows/${encodeURIComponent(id)}`);
  }

  /** Starts an execution: async (default) answers at once; `mode: "sync"` runs it to its end or next halt. */
  start(workflowId: string, options: StartOptions & { mode: "sync" }): Promise<ExecutionResult>;
  start(workflowId: string, options?: StartOptions & { mode?: "async" }): Promise<Accepted>;
  start(workflowId: string, options: StartOptions & Mode = {}): Promise<Accepted | ExecutionResult> {
    return this.#json("POST", `/workflows/${encodeURIComponent(workflowId)}/executions`, options);
  }

  /** An execution's record (status, ctx, result, haltData, …). */
  get(id: string): Promise<Execution> {
    return this.#json("GET", `/executions/${encodeURIComponent(id)}`);
  }

  /** An execution's history: one entry per executed step. */
  async entries(id: string): Promise<Entry[]> {
    return (await this.#json<{ entries: Entry[] }>("GET", `/executions/${encodeURIComponent(id)}/entries`)).entries;
  }

  /** One page of executions, newest first; pass the page's `cursor` for the next one. */
  list(filters: ListFilters = {}): Promise<ExecutionPage> {
    const query = new URLSearchParams();
    const { labels, ...rest } = filters;
    for (const [key, value] of Object.entries(rest)) if (value !== undefined) query.set(key, String(value));
    for (const [name, value] of Object.entries(labels ?? {})) query.set(`label.${name}`, value);
    return this.#json("GET", `/executions${query.size ? `?${query}` : ""}`);
  }

  /** Every execution matching the filters, newest first, page after page. */
  async *listAll(filters: Omit<ListFilters, "cursor"> = {}): AsyncGenerator<ExecutionSummary> {
    let cursor: string | undefined;
    do {
      const page = await this.list({ ...filters, cursor });
      yield* page.executions;
      cursor = page.cursor;
    } while (cursor);
  }

  /** Answers a halt or an approval: async (default, 202) or `mode: "sync"` (the result). */
  resume(id: string, answer: ResumeAnswer & { mode: "sync" }): Promise<ExecutionResult>;
  resume(id: string, answer?: ResumeAnswer & { mode?: "async" }): Promise<Accepted>;
  resume(id: string, answer: ResumeAnswer & Mode = {}): Promise<Accepted | ExecutionResult> {
    return this.#json("POST", `/executions/${encodeURIComponent(id)}/resume`, answer);
  }

  /** Cancels a pending, running or halted execution; the result is the execution, now `cancelled`. */
  cancel(id: string, options: CancelOptions = {}): Promise<ExecutionResult> {
    return this.#json("POST", `/executions/${encodeURIComponent(id)}/cancel`, options);
  }

  /** Cancels every pending, running or halted execution the filter selects (at most `max`): one result each. */
  cancelMatching(request: BulkRequest): Promise<BulkAnswer> {
    return this.#json("POST", "/executions/cancel", request);
  }

  /** Retries every failed execution the filter selects (at most `max`, async): one result each. */
  retryMatching(request: BulkRequest): Promise<BulkAnswer> {
    return this.#json("POST", "/executions/retry", request);
  }

  /** Runs a failed execution again from the step that failed: async (default) or `mode: "sync"`. */
  retry(id: string, options: { mode: "sync" }): Promise<ExecutionResult>;
  retry(id: string, options?: { mode?: "async" }): Promise<Accepted>;
  retry(id: string, options: Mode = {}): Promise<Accepted | ExecutionResult> {
    return this.#json("POST", `/executions/${encodeURIComponent(id)}/retry`, options);
  }

  /**
   * The execution's events: the stored ones, then live ones, until it completes, fails, is cancelled or halts.
   * A dropped connection is reopened with `Last-Event-ID`, so no event is missed or repeated.
   */
  events(id: string, options: EventsOptions = {}): AsyncGenerator<WorkflowEvent> {
    return this.#follow(id, undefined, options);
  }

  /** Starts an execution and streams its events as `events` does (reconnecting to the execution's events). */
  stream(workflowId: string, options: StartOptions = {}, events: Omit<EventsOptions, "lastEventId"> = {}): AsyncGenerator<WorkflowEvent> {
    const start = () =>
      this.#send("POST", `/workflows/${encodeURIComponent(workflowId)}/executions/stream`, options, { signal: events.signal });
    return this.#follow(options.executionId, start, events);
  }

  async *#follow(
    id: string | undefined,
    start: (() => Promise<Response>) | undefined,
    options: EventsOptions,
  ): AsyncGenerator<WorkflowEvent> {
    const { signal, reconnectDelayMs = 1000, maxReconnects = 5 } = options;
    let lastEventId = options.lastEventId;
    let executionId = id;
    let connect = start;
    let misses = 0;
    for (;;) {
      let dropped: unknown;
      const reconnect = () =>
        this.#send("GET", `/executions/${encodeURIComponent(executionId!)}/events`, undefined, {
          signal,
          headers: lastEventId ? { "last-event-id": lastEventId } : {},
        });
      try {
        // The start is sent once: a start sent again would replay the events from the first.
        const response = await (connect ?? reconnect)();
        connect = undefined;
        if (response.status === 204 || !response.body) return;
        for await (const message of messagesOf(response.body)) {
          if (message.event === "error") {
            const problem = JSON.parse(message.data) as Problem;
            throw new ProblemError(problem.status, problem);
          }
          const event = JSON.parse(message.data) as WorkflowEvent;
          if (message.id) lastEventId = message.id;
          executionId ??= event.data.executionId;
          misses = 0;
          yield event;
          if (LAST_EVENTS.has(event.type)) return;
        }
        dropped = new Error("the event stream ended before the execution stopped");
      } catch (error) {
        if (signal?.aborted) return;
        if (error instanceof ProblemError) throw error;
        dropped = error;
      }
      connect = undefined;
      if (signal?.aborted) return;
      if (executionId === undefined || ++misses > maxReconnects) throw dropped;
      await sleep(reconnectDelayMs, signal);
      if (signal?.aborted) return;
    }
  }
}

/** `createClient({ baseUrl, token })`: the typed client of a durable-workflow app. */
export function createClient(options: ClientOptions): DurableWorkflowClient {
  return new DurableWorkflowClient(options);
}
