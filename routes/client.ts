/**
 * `durable-workflow-edge/client`: a typed client of the HTTP API on Web `fetch` only (browsers, Workers, Deno,
 * Bun, Node 20). Its types are written out (the JSR package refuses types inferred from the route schemas) and
 * imported as types only, so the client carries none of the server; `routes/client.check.ts` proves each the same
 * as its route schema (`routes/schemas.ts`) at compile time. Errors are `ProblemError`s holding the problem+json
 * answer.
 */
import type { InputType } from "../src/definition/workflow.ts";
import type { FlowKeyState } from "../src/store/flow.ts";
import type { Entry, Execution as StoredExecution, ExecutionResult as RunResult, ExecutionStatus, StoredEvent } from "../src/types.ts";

export type { Entry, ExecutionStatus, FlowMark, HaltInfo, Json, JsonObject } from "../src/types.ts";
export type { FlowKeyState } from "../src/store/flow.ts";

/** The answer to an async start, resume or retry (202). */
export interface Accepted {
  executionId: string;
  /** The status when the answer was sent (an inline queue may already have finished the run). */
  status: ExecutionStatus;
}

/** An execution's record as GET /executions/:id shows it: without the engine's bookkeeping. */
export type Execution = Omit<StoredExecution, "eventSeq" | "loop" | "retry" | "answer" | "visits" | "epoch" | "pinned">;

/** What the list shows of an execution: the record without its data (input, ctx, result, halt data). */
export type ExecutionSummary = Pick<
  Execution,
  | "id"
  | "workflowId"
  | "workflowVersion"
  | "workflowHash"
  | "status"
  | "currentStep"
  | "recoverTo"
  | "error"
  | "createdAt"
  | "updatedAt"
  | "revision"
  | "leaseUntil"
  | "wakeAt"
  | "labels"
  | "compensating"
  | "compensated"
  | "flow"
>;

/** One page of executions. */
export interface ExecutionPage {
  /** Newest first. */
  executions: ExecutionSummary[];
  /** Present when there may be more: pass it as `cursor` for the next page. */
  cursor?: string;
}

/** What a sync start, resume or retry and a cancel return. */
export type ExecutionResult = Omit<RunResult, "yielded" | "flowStart">;

/** The filters of `list`. */
export interface ListFilters {
  /** Only executions of this workflow. */
  workflowId?: string;
  /** Only executions in this status. */
  status?: ExecutionStatus;
  /** Page size (default 50, at most 1000). */
  limit?: number;
  /** The `cursor` of the previous page. */
  cursor?: string;
  /** Only executions created at or after this ISO time. */
  createdFrom?: string;
  /** Only executions created before this ISO time. */
  createdTo?: string;
  /** Only executions last changed at or after this ISO time. */
  updatedFrom?: string;
  /** Only executions last changed before this ISO time. */
  updatedTo?: string;
}

/** The filters of `list` with labels: each becomes a `label.<name>=<value>` parameter. */
export interface ListOptions extends ListFilters {
  /** Only executions carrying every one of these labels. */
  labels?: Record<string, string>;
}

/** Which executions a bulk cancel or retry acts on: the list's filters without paging. */
export interface BulkFilter {
  workflowId?: string;
  status?: ExecutionStatus;
  createdFrom?: string;
  createdTo?: string;
  updatedFrom?: string;
  updatedTo?: string;
  /** Only executions carrying every one of these labels. */
  labels?: Record<string, string>;
}

/** A bulk cancel or retry (POST /executions/cancel, /retry). */
export interface BulkRequest {
  filter: BulkFilter;
  /** Act on at most this many (1–100), newest first. */
  max: number;
  /** List what would be acted on, and do nothing. */
  dryRun?: boolean;
  /** cancel: why (kept as `Cancelled: <reason>`). */
  reason?: string;
}

/** One execution a bulk action selected. */
export interface BulkResult {
  executionId: string;
  workflowId: string;
  ok: boolean;
  /** ok: the status after the action (or now, with dryRun). */
  status?: string;
  /** not ok: the problem, as the single route would answer it. */
  error?: { status: number; detail: string };
}

/** The answer of a bulk cancel or retry: one result per execution selected; `more` when more match. */
export interface BulkAnswer {
  action: "cancel" | "retry";
  dryRun: boolean;
  results: BulkResult[];
  more: boolean;
}

/** RFC 9457 problem details (application/problem+json). */
export interface Problem {
  /** `https://durable-workflow.dev/problems/<slug>` */
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: ProblemItem[];
}

/** One problem of a Problem's `errors`, with its path. */
export interface ProblemItem {
  path: string;
  message: string;
  /** In a workflow definition's source: where the problem is. */
  line?: number;
  column?: number;
}

/** One declared input of a workflow. */
export interface InputSpec {
  type?: InputType;
  required: boolean;
  default?: unknown;
  description?: string;
}

/** A workflow at its current version, as the list shows it. */
export interface WorkflowSummary {
  id: string;
  name: string;
  version: string;
  description?: string;
  /** SHA-256 of the definition's canonical JSON. */
  hash: string;
  /** Declared inputs by name, or null when the workflow declares none. */
  inputs: Record<string, InputSpec> | null;
  /** Number of top-level steps. */
  steps: number;
}

/** A step, keys as in the definition format. */
export interface Step {
  id: string;
  type: string;
  [key: string]: unknown;
}

/** A workflow at its current version, with its steps and diagram. */
export interface WorkflowDetail extends Omit<WorkflowSummary, "steps"> {
  timeout?: number;
  steps: Step[];
  /** The graph as Mermaid `flowchart TD` text. */
  diagram: string;
  /** Cron schedules and events that start runs. */
  triggers?: Record<string, unknown>[];
  /** When each cron trigger fires next (ISO), in the order of the triggers. */
  nextStarts: NextStart[];
  /** Flow control, as declared. */
  concurrency?: { limit: number; key?: string };
  rate?: { limit: number; period: number; key?: string };
  priority?: number | string;
  debounce?: { period: number; key?: string; max?: number };
}

/** When a cron trigger fires next. */
export interface NextStart {
  cron: string;
  timezone: string;
  /** ISO-8601, or null when it never fires again. */
  next: string | null;
}

/** A workflow's flow-control limits as declared, and every key in use. */
export interface WorkflowFlow {
  workflowId: string;
  concurrency: Record<string, unknown> | null;
  rate: Record<string, unknown> | null;
  priority: number | string | null;
  debounce: Record<string, unknown> | null;
  keys: FlowKeyState[];
}

/** The JSON of each SSE `data:` line. */
export interface WorkflowEvent extends Omit<StoredEvent, "data"> {
  /**
   * `workflow.started`: workflowId, input; `workflow.completed`: output; `workflow.halted`: halt; `workflow.failed`:
   * error; step events: stepId, stepType, and output (completed, halted) or error (failed).
   */
  data: { executionId: string; [key: string]: unknown };
}

/** The body of a start, without `mode` (the method's overloads take it). */
export interface StartOptions {
  /** The run input, checked against the workflow's input rules. */
  input?: Record<string, unknown>;
  /** Id of the new execution (default: a UUID). Starting an id that exists is idempotent: its current state is returned. */
  executionId?: string;
  /** Among runs waiting for a flow-control slot, the higher priority starts first. */
  priority?: number;
  /** Labels of the new execution (over the definition's `labels:`); `list({ labels })` finds it. */
  labels?: Record<string, string>;
}

/** The body of a resume, without `mode` (the method's overloads take it). */
export interface ResumeAnswer {
  /** Any JSON; available to the workflow as `$response`. */
  response?: unknown;
  /** The decision of an approval step; available as `$approved`. */
  approved?: boolean;
}

/** The body of a cancel. */
export interface CancelOptions {
  /** Why (at most 500 characters); kept in the execution's `error` as `Cancelled: <reason>`. */
  reason?: string;
}

/** The options of `sendEvent`: the body of POST /events/:name without its payload. */
export interface SendEventOptions {
  /** Deduplication id: an id sent twice is delivered once. */
  id?: string;
}

/** What POST /events/:name answers. */
export interface EventSent {
  /** The event's id (the one given, or a new UUID). */
  id: string;
  /** Waiting executions it woke (0 for an id sent before). */
  delivered: number;
  /** The id was sent before: nothing was delivered again. */
  duplicate: boolean;
  /** Executions started by `event` triggers. */
  started: string[];
}

type Mode = { mode?: "async" } | { mode: "sync" };

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

  /** A workflow's flow-control limits and the keys in use (holders, rate windows, waiting runs). */
  flow(id: string): Promise<WorkflowFlow> {
    return this.#json("GET", `/workflows/${encodeURIComponent(id)}/flow`);
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
  list(filters: ListOptions = {}): Promise<ExecutionPage> {
    const query = new URLSearchParams();
    const { labels, ...rest } = filters;
    for (const [key, value] of Object.entries(rest)) if (value !== undefined) query.set(key, String(value));
    for (const [name, value] of Object.entries(labels ?? {})) query.set(`label.${name}`, value);
    return this.#json("GET", `/executions${query.size ? `?${query}` : ""}`);
  }

  /** Every execution matching the filters, newest first, page after page. */
  async *listAll(filters: Omit<ListOptions, "cursor"> = {}): AsyncGenerator<ExecutionSummary> {
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
   * Sends an event: every run waiting for it in a `wait_for_event` step whose match holds receives it once, an `id`
   * sent twice is delivered once, and `event` triggers start runs.
   */
  sendEvent(name: string, payload: unknown = null, options: SendEventOptions = {}): Promise<EventSent> {
    return this.#json("POST", `/events/${encodeURIComponent(name)}`, { payload, ...options });
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
