import { z } from "zod";
import type { HaltInfo, Json, JsonObject, LoopCursor, Services } from "../types.ts";

/** Options of `http` steps (engine and app option `http`). */
export interface HttpOptions {
  /** The fetch the steps call (default: the global `fetch`). */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
  /**
   * When set, the only URLs a step may call: each entry an origin (`https://api.example.com`, `https://*.example.com`)
   * optionally followed by a path prefix (`https://api.example.com/v1/`).
   */
  allow?: readonly string[];
  /** Lets URLs that come from a reference target loopback, private and link-local addresses (default false). */
  allowPrivate?: boolean;
  /** Largest response body kept in ctx, in bytes (default 1 MiB); a larger one fails the step. */
  maxBodyBytes?: number;
}

/** The keys every step has. Step-specific keys are declared by each step type's schema. */
export interface StepDefinition {
  id: string;
  type: string;
  next?: string;
  on_error?: string;
  [key: string]: unknown;
}

/** The target that ends the run (or, inside a loop body, the iteration). */
export const FINISHED = "__FINISHED__";

const stepId = z.string().regex(/^[A-Za-z0-9_\-]+$/, "must be letters, digits, _ or -").max(100);
export const target = z.string().min(1);

/** Common keys of every step; a step type extends this object with its own keys. */
export const commonStepKeys = {
  id: stepId,
  next: target.optional(),
  on_error: target.optional(),
};

/**
 * The schema of a step type: its own keys plus the common ones, strict. `x-` keys and the aliases of older
 * workflow files (`next_step`, `method_name`) are handled by the definition loader before this schema sees the step.
 */
export function stepSchema<T extends z.ZodRawShape>(type: string, shape: T) {
  return z.strictObject({ ...commonStepKeys, type: z.literal(type), ...shape });
}

/** A nested step, checked as a step of its own type by the definition loader. */
export const nestedStep = z.looseObject({ id: z.string(), type: z.string() });

/** What an executor may read: never mutate it, return a new ctx instead. */
export interface StepState {
  readonly executionId: string;
  readonly workflowId: string;
  readonly input: Readonly<JsonObject>;
  readonly ctx: Readonly<JsonObject>;
  /** `<executionId>:<stepId>`, or inside a loop body `<executionId>:<loopId>[<index>]:<stepId>`. */
  readonly scope: string;
  /**
   * `<scope>:<visit>`: the same across attempts, re-deliveries and takeovers of one visit of the step; a new visit
   * (a router back-edge, an `on_error` loop) counts up, and after an operator retry it reads `r<epoch>.<visit>`.
   */
  readonly idempotencyKey: string;
  /** True inside a loop body or a parallel branch (where nothing may halt). */
  readonly nested: boolean;
  /** Set when a resume re-enters this step (approval, workflow): the halt data it left with. */
  readonly resumed?: { haltData: JsonObject | null };
  /** Set when a durable loop continues after a checkpoint. */
  readonly loop?: LoopCursor | null;
  /** Set when a call continues after a scheduled retry wait: the attempt to run now. */
  readonly retryAttempt?: number;
  /** W3C `traceparent` of the step's span, when traced: `http` steps send it. */
  readonly traceparent?: string;
}

/** What an executor may do: resolve references, call services, run nested steps and child workflows. */
export interface StepTools {
  /** Resolves `$references` in a value against the given ctx (default: the state's ctx). */
  resolve(value: unknown, ctx?: Readonly<JsonObject>): Json;
  /** The injected clock. */
  now(): Date;
  services: Services;
  /** Aborted when the workflow deadline passes. */
  signal: AbortSignal;
  /** Sleeps `ms` of the injected clock (rejects when `signal` is aborted). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls `fn` after `ms` of the injected clock; returns a function that cancels it (attempt timeouts). */
  setTimer(ms: number, fn: () => void): () => void;
  /**
   * Waits before a call's next attempt (`attempt` failed with `error` before it; a `step.retrying` event tells):
   * sleeps and resolves to undefined; or, for a built-in step when the engine schedules long waits (async adapters) and
   * `ms` is over its threshold, resolves to the ISO time of the attempt at once: the step then returns
   * `runAgain({ until, attempt })`, and a continuation runs `attempt` after the wait.
   */
  waitToRetry(ms: number, attempt: number, error: unknown): Promise<string | undefined>;
  /**
   * Stores the value `make` gives under `key` (an idempotency key) with a checkpoint, before a side effect that
   * must be repeated exactly; when the step is run again for the same key (an attempt after a scheduled wait, a
   * re-delivery, a takeover) it returns the stored value instead. Cleared when the top-level step ends.
   */
  pin<T extends Json>(key: string, make: () => T): Promise<T>;
  /** Options of `http` steps (fetch, allow-list, body limit) and the secrets `$secrets.NAME` may name. */
  http: HttpOptions;
  secrets: Readonly<Record<string, string>>;
  /** Runs the steps of a loop body or a parallel branch from `ctx`; returns the ctx after and the last output. */
  runSteps(
    steps: StepDefinition[],
    ctx: JsonObject,
    options: {
      parentId: string;
      scope: string;
      signal?: AbortSignal;
      /** `ctx` is `base.ctx` with the `base.changed` keys set (a loop's variables): the engine then measures only those. */
      base?: { ctx: Readonly<JsonObject>; changed: string[] };
    },
  ): Promise<NestedRun>;
  /** Runs (or resumes, or reads the result of) the child workflow of a `workflow` step. */
  runChild(request: ChildRequest): Promise<ChildOutcome>;
  /**
   * Loop checkpoint hook: the engine persists the cursor after an iteration with side effects. Resolves to "yield" when
   * the call's time budget is used up: the loop then returns `runAgain()` (a continuation goes on from the cursor).
   */
  checkpointLoop?(cursor: { index: number; outputs: Json[]; ctx: JsonObject; changed?: string[] }): Promise<"yield" | undefined>;
}

export interface NestedRun {
  ctx: JsonObject;
  output: Json;
  /** True when a body step had side effects (call, workflow, custom non-pure step). */
  sideEffects: boolean;
  /** The keys the steps changed in `ctx`, when every step that changed it said which (a checkpoint then compares only those). */
  changed?: string[];
}

export interface ChildRequest {
  workflowId: string;
  childId: string;
  input: JsonObject;
  timeoutSeconds?: number;
  /** Present when the parent is being resumed at this step. */
  resume?: { response?: Json; approved?: boolean };
  /** False inside loop bodies and parallel branches: a halting child fails the step. */
  mayHalt: boolean;
  /** The `workflow` step span's traceparent, when traced: the parent of the child's trace. */
  traceparent?: string;
}

export type ChildOutcome =
  | { status: "completed"; output: Json }
  | { status: "halted"; halt: Omit<HaltInfo, "resumeStep"> };

export type StepOutcome =
  | {
    /** Go on at `next` (default: the step's `next`) once `until` (ISO) has passed. */
    kind: "wait";
    until: string;
    next?: string;
    output?: Json;
    ctx?: JsonObject;
    changed?: string[];
  }
  | {
    kind: "continue";
    /** Where to go; default: the step's `next`, or the end of the run. */
    next?: string;
    output?: Json;
    /** The new ctx when the step changed it. */
    ctx?: JsonObject;
    /** The only keys `ctx` set or removed, when the step knows them: the engine then looks at nothing else. */
    changed?: string[];
    /** Attempts a call took (1 by default). */
    attempt?: number;
  }
  | {
    /**
     * End this call at a checkpoint (top level only): a continuation runs the step again, not before `until` — a
     * call at `attempt` after a scheduled retry wait, a loop from its stored cursor.
     */
    kind: "again";
    until?: string;
    attempt?: number;
  }
  | {
    kind: "halt";
    data: JsonObject;
    prompt?: string;
    /** Where a resume continues (default: the step's `next`). */
    resumeStep?: string;
    /** When the halt ends by itself (ISO): the run is woken then and the step resumed without an answer. */
    wakeAt?: string;
    ctx?: JsonObject;
    changed?: string[];
    output?: Json;
  };

export function proceed(
  options: { next?: string; output?: Json; ctx?: JsonObject; changed?: string[]; attempt?: number } = {},
): StepOutcome {
  // The options object is the caller's own literal: it becomes the outcome (no copy on a hot path).
  return Object.assign(options, { kind: "continue" as const });
}

export function waitUntil(options: { until: string; next?: string; output?: Json }): StepOutcome {
  return { kind: "wait", ...options };
}

/** A halt whose data has an `expires_at` time (approval, wait_for_event) wakes then: `{ wakeAt }`, else nothing. */
export function wakeAtOf(data: JsonObject): { wakeAt?: string } {
  const at = data.expires_at;
  return typeof at === "string" && !Number.isNaN(Date.parse(at)) ? { wakeAt: at } : {};
}

export function runAgain(options: { until?: string; attempt?: number } = {}): StepOutcome {
  return { kind: "again", ...options };
}

export function halt(
  options: { data: JsonObject; prompt?: string; resumeStep?: string; wakeAt?: string; ctx?: JsonObject; changed?: string[] },
): StepOutcome {
  return { kind: "halt", ...options };
}

export type StepExecutor<S extends StepDefinition = StepDefinition> = (
  step: S,
  state: StepState,
  tools: StepTools,
) => StepOutcome | Promise<StepOutcome>;

/** A value of a step whose `$references` must be available when the step runs (checked at load). */
export interface ReferenceSite {
  /** Key path inside the step, e.g. `input.order_id` or `routes[0].when.field`. */
  key: string;
  /** `value`: `$references` inside it are checked; `path`: the value is a path without `$` (a condition's field). */
  kind: "value" | "path";
  value: unknown;
  /** Roots available at this site only (assign keys set earlier in the same step, `iteration` in a while). */
  extraRoots?: string[];
}

/** A nested list of steps: a loop body or the branches of a parallel step. */
export interface StepBody {
  key: "do" | "branches" | string;
  steps: StepDefinition[];
  /** Variables available inside the body besides what is available before the step. */
  locals: string[];
}

/**
 * One step type: its zod schema (the whole step object, common keys included) and its executor,
 * plus what the validator needs to know about it. Adding a step type = one file exporting one of these.
 */
export interface StepType<S extends StepDefinition = StepDefinition> {
  type: string;
  schema: z.ZodType<S>;
  execute: StepExecutor<S>;
  /** No side effects: batched into the next checkpoint instead of costing a store round trip. */
  pure?: boolean;
  /**
   * Pure, and what it does depends on the stored execution alone (not the time, not an id): a worker that takes the
   * run over does the same, so its entry need not be stored before the next side effect (it goes with the checkpoint after).
   */
  replayable?: boolean;
  /**
   * Stores what it is about to do with `tools.pin` before its side effect: that checkpoint replaces the one the engine
   * makes before a step with side effects, so the step costs no extra commit.
   */
  pins?: boolean;
  /** Not allowed inside loop bodies or parallel branches. */
  topLevelOnly?: boolean;
  /** Targets besides `next` and `on_error`: `[{ key: "routes[0].then", target: "x" }]`. */
  targets?(step: S): { key: string; target: string }[];
  /** Nested step lists. */
  bodies?(step: S): StepBody[];
  /** ctx variables the step sets when it continues. */
  outputs?(step: S): string[];
  /** Values whose `$references` must be available when the step runs (checked at load). */
  references?(step: S): ReferenceSite[];
  /**
   * `compensate:` (call, http): `resolve` runs when the step completed (`state.ctx` is the ctx after it, `state.idempotencyKey`
   * the compensation's key) and gives what is stored; `run` undoes the step from it after a failure or a cancel.
   */
  compensation?: {
    resolve(step: S, state: StepState, tools: StepTools): Json;
    run(step: S, resolved: Json, state: StepState, tools: StepTools): Promise<Json>;
  };
}
