/**
 * One call of run / resume / continue / retry: the working copy of the execution, what is not stored yet
 * (entries, events, the changes since the last checkpoint) and the checkpoint itself — one compare-and-set
 * commit of the head plus what the body changed.
 */
import type { WorkflowDefinition } from "../definition/workflow.ts";
import { ExecutionError } from "../errors.ts";
import { jsonSize, setOwn } from "../json.ts";
import type { StepDefinition, StepTools } from "../steps/step.ts";
import { MAX_EVENTS_PER_EXECUTION, type Store, type StoredDefinition } from "../store/store.ts";
import type { Entry, EntryAction, EventType, Execution, ExecutionDelta, Json, JsonObject, LoopCursor, StoredEvent } from "../types.ts";
import type { Clock } from "./clock.ts";
import { type EventHandler, WorkflowEvent } from "./events.ts";

/** What a run needs of its engine. */
export interface RunContext {
  store: Store;
  clock: Clock;
  /** Entry ids (default: one UUID per run call, then `<uuid>.<n>`: unique, and cheap on a hot loop). */
  ids?: () => string;
  onEvent?: EventHandler;
  leaseMs: number;
  maxSteps: number;
  maxCtxBytes: number;
  /** Given on the first commit of a new execution whose definition this isolate has not stored yet. */
  definition?: StoredDefinition;
}

/** What the store holds of the body, as of the last checkpoint (references: values are never mutated). */
interface Stored {
  ctx: JsonObject;
  input: JsonObject;
  result: Json;
  haltData: JsonObject | null;
  loop: LoopCursor | null;
  loopOutputs: number;
}

export class Run {
  readonly exec: Execution;
  readonly workflow: WorkflowDefinition;
  readonly steps: ReadonlyMap<string, StepDefinition>;
  /** False until the execution exists in the store with this run's claim. */
  claimed: boolean;
  /** Steps executed by this call: a budget yield needs one, so every continuation makes progress. */
  stepsRun = 0;
  readonly startedAt: number;
  /** Aborted at the workflow deadline. */
  readonly abort = new AbortController();
  /** Set when a resume re-enters the halting step. */
  resumed?: { stepId: string; haltData: JsonObject | null };
  /** Who resumed the run: the next entry written records it. */
  actor?: string;
  /** The engine's cache of the tools of nested steps, per signal (see Engine #nestedTools). */
  readonly nestedTools = new Map<AbortSignal, { top: unknown; given: { ctx: JsonObject }; tools: StepTools }>();
  readonly #context: RunContext;
  #entries: Entry[] = [];
  #events: StoredEvent[] = [];
  /** Events are delivered to `onEvent` only once this call's claim is stored: a run that loses the race emits nothing. */
  #held: StoredEvent[] = [];
  #delivering = false;
  #stored: Stored | null;
  /** ctx size bookkeeping: the last ctx measured, and each key's value with its size (values are immutable). */
  #measuredCtx: JsonObject | null = null;
  #ctxBytes = 2;
  /** ctx keys changed since the last checkpoint, or null when unknown (the checkpoint compares every key). */
  #dirty: Set<string> | null = new Set();
  #sizes = new Map<string, { value: Json; size: number }>();
  /** The ISO text of the last time read, reused while the clock stays on the same millisecond. */
  #iso = { ms: NaN, text: "" };

  constructor(
    exec: Execution,
    workflow: WorkflowDefinition,
    steps: ReadonlyMap<string, StepDefinition>,
    claimed: boolean,
    context: RunContext,
  ) {
    this.exec = exec;
    this.workflow = workflow;
    this.steps = steps;
    this.claimed = claimed;
    this.#context = context;
    this.startedAt = this.nowMs();
    this.#stored = claimed ? storedOf(exec) : null;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Entries not checkpointed yet. */
  get unsaved(): number {
    return this.#entries.length;
  }

  now(): Date {
    return this.#context.clock.now();
  }

  #entryIds = { prefix: "", n: 0 };

  #nextEntryId(): string {
    if (!this.#entryIds.prefix) this.#entryIds.prefix = crypto.randomUUID();
    return `${this.#entryIds.prefix}.${++this.#entryIds.n}`;
  }

  /** The clock's time in ms, without a Date when the clock can give it so (the hot path asks twice per step). */
  nowMs(): number {
    const clock = this.#context.clock;
    return clock.nowMs ? clock.nowMs() : clock.now().getTime();
  }

  #isoAt(ms = this.nowMs()): string {
    if (ms !== this.#iso.ms) this.#iso = { ms, text: new Date(ms).toISOString() };
    return this.#iso.text;
  }

  /** Emits an event stamped `at` (ms; default: now); `data` gets the execution's id. */
  emit(type: EventType, data: JsonObject, at?: number): void {
    this.#push(type, { executionId: this.exec.id, ...data }, at);
  }

  /** A step's event, `{ executionId, stepId, stepType }` and one more field: built in one go (the hottest event). */
  emitStep(type: EventType, step: { id: string; type: string }, at: number, key?: "output" | "error", value?: Json): void {
    const data: JsonObject = { executionId: this.exec.id, stepId: step.id, stepType: step.type };
    if (key) data[key] = value!;
    this.#push(type, data, at);
  }

  #push(type: EventType, data: JsonObject, at?: number): void {
    const event: StoredEvent = { seq: ++this.exec.eventSeq, type, data, timestamp: this.#isoAt(at) };
    this.#events.push(event);
    // The store keeps only the newest events of an execution: older unsaved ones need not travel.
    if (this.#events.length >= 2 * MAX_EVENTS_PER_EXECUTION) this.#events.splice(0, this.#events.length - MAX_EVENTS_PER_EXECUTION);
    if (this.#delivering) this.#deliver(event);
    else this.#held.push(event);
  }

  /** Records a step's history entry, ended at `endedAt` (ms; default: now). */
  entry(
    step: { id: string; type: string },
    action: EntryAction,
    startedAt: number,
    extra: { output?: Json; error?: string; attempt?: number },
    endedAt = this.nowMs(),
  ): void {
    this.#entries.push({
      id: this.#context.ids?.() ?? this.#nextEntryId(),
      executionId: this.exec.id,
      stepId: step.id,
      stepType: step.type,
      action,
      attempt: extra.attempt ?? 1,
      durationMs: Math.max(0, endedAt - startedAt),
      output: extra.output ?? null,
      error: extra.error ?? null,
      timestamp: this.#isoAt(endedAt),
      ...(this.actor ? { actor: this.actor } : {}),
    });
    this.actor = undefined;
  }

  /** Counts one executed step against the run limit. */
  countStep(): void {
    this.stepsRun += 1;
    this.exec.stepsExecuted += 1;
    if (this.exec.stepsExecuted > this.#context.maxSteps) {
      throw new ExecutionError(`Run limit: more than ${this.#context.maxSteps} steps executed in execution "${this.exec.id}"`);
    }
  }

  /**
   * Checks the ctx size limit after a step, measuring only the values that changed since the last ctx measured
   * (unchanged values keep their identity: ctx values are never mutated in place).
   */
  checkCtxSize(ctx: JsonObject, stepId: string, known?: { from: Readonly<JsonObject>; changed: string[] }): void {
    if (ctx === this.#measuredCtx) return;
    const sizes = this.#sizes;
    const measure = (key: string) => {
      const value = ctx[key]!;
      const entry = sizes.get(key);
      if (entry && entry.value === value) return entry.size;
      const size = jsonSize(value) + key.length + 4;
      sizes.set(key, { value, size });
      return size;
    };
    if (known && known.from === this.#measuredCtx) {
      // Only the keys the step changed: the cost of a step does not grow with the size of ctx.
      for (const key of known.changed) {
        this.#ctxBytes -= sizes.get(key)?.size ?? 0;
        if (Object.hasOwn(ctx, key)) this.#ctxBytes += measure(key);
        else sizes.delete(key);
      }
    } else {
      let total = 2;
      let keys = 0;
      for (const key in ctx) {
        if (!Object.hasOwn(ctx, key)) continue;
        keys += 1;
        total += measure(key);
      }
      if (sizes.size > keys) { for (const key of [...sizes.keys()]) if (!Object.hasOwn(ctx, key)) sizes.delete(key); }
      this.#ctxBytes = total;
    }
    this.#measuredCtx = ctx;
    if (this.#ctxBytes > this.#context.maxCtxBytes) {
      throw new ExecutionError(`ctx is ${this.#ctxBytes} bytes after step "${stepId}", over the limit of ${this.#context.maxCtxBytes}`, {
        stepId,
      });
    }
  }

  /**
   * Sets the execution's ctx; `changed`: the only keys that differ from the ctx it replaces, when known (the next
   * checkpoint then writes those without comparing the rest).
   */
  setCtx(ctx: JsonObject, changed?: string[]): void {
    if (ctx === this.exec.ctx) return;
    if (changed && this.#dirty) { for (const key of changed) this.#dirty.add(key); }
    else this.#dirty = null;
    this.exec.ctx = ctx;
  }

  /**
   * One store round trip: the head, what the body changed since the last checkpoint, the new entries and
   * events; creates the execution on the first checkpoint of a new run. A `running` execution's lease is renewed.
   */
  async checkpoint(): Promise<void> {
    const exec = this.exec;
    const now = this.now();
    exec.updatedAt = now.toISOString();
    exec.leaseUntil = exec.status === "running" ? new Date(now.getTime() + this.#context.leaseMs).toISOString() : null;
    const stored = this.#stored;
    const definition = stored ? undefined : this.#context.definition;
    const { revision } = await this.#context.store.commit({
      execution: exec,
      expectedRevision: stored ? exec.revision : 0,
      ...(stored ? { delta: deltaOf(stored, exec, this.#dirty) } : {}),
      entries: this.#entries,
      events: this.#events,
      ...(definition ? { definition } : {}),
    });
    exec.revision = revision;
    this.#entries = [];
    this.#events = [];
    this.#stored = storedOf(exec);
    this.#dirty = new Set();
    this.claimed = true;
    if (!this.#delivering) {
      this.#delivering = true;
      for (const event of this.#held.splice(0)) this.#deliver(event);
    }
  }

  #chain: Promise<void> = Promise.resolve();

  /** A checkpoint after those already asked for (parallel branches may ask at once; each commit needs the last revision). */
  checkpointInTurn(): Promise<void> {
    const next = this.#chain.then(() => this.checkpoint());
    this.#chain = next.catch(() => undefined);
    return next;
  }

  #deliver(event: StoredEvent): void {
    const handler = this.#context.onEvent;
    if (!handler) return;
    try {
      handler(WorkflowEvent.fromStored(event));
    } catch {
      // A subscriber's error never breaks the run; the runners report it.
    }
  }
}

function storedOf(exec: Execution): Stored {
  return {
    ctx: exec.ctx,
    input: exec.input,
    result: exec.result,
    haltData: exec.haltData,
    loop: exec.loop,
    loopOutputs: exec.loop?.outputs.length ?? 0,
  };
}

/**
 * What the body changed between the last checkpoint and now (identity comparisons: values are immutable). With
 * `dirty` (the keys steps said they changed) only those keys are looked at.
 */
function deltaOf(stored: Stored, exec: Execution, dirty: ReadonlySet<string> | null): ExecutionDelta {
  const delta: ExecutionDelta = {};
  if (exec.ctx !== stored.ctx) {
    const set: JsonObject = {};
    const unset: string[] = [];
    let changed = false;
    for (const key of dirty ?? Object.keys(exec.ctx)) {
      if (!Object.hasOwn(exec.ctx, key)) continue;
      if (exec.ctx[key] !== stored.ctx[key] || !Object.hasOwn(stored.ctx, key)) {
        setOwn(set, key, exec.ctx[key]!);
        changed = true;
      }
    }
    for (const key of dirty ?? Object.keys(stored.ctx)) {
      if (!Object.hasOwn(exec.ctx, key) && Object.hasOwn(stored.ctx, key)) unset.push(key);
    }
    if (changed) delta.set = set;
    if (unset.length) delta.unset = unset;
  }
  if (exec.input !== stored.input) delta.input = exec.input;
  if (exec.result !== stored.result) delta.result = exec.result;
  if (exec.haltData !== stored.haltData) delta.haltData = exec.haltData;
  const loop = exec.loop;
  if (loop !== stored.loop || (loop && loop.outputs.length !== stored.loopOutputs)) {
    if (!loop) delta.loop = null;
    else if (
      stored.loop && stored.loop.stepId === loop.stepId && stored.loop.before === loop.before && loop.outputs.length >= stored.loopOutputs
    ) {
      delta.loop = { index: loop.index, append: loop.outputs.slice(stored.loopOutputs) };
    } else delta.loop = loop;
  }
  return delta;
}
