/**
 * One call of run / resume / continue / retry: the working copy of the execution, what is not stored yet
 * (entries, events, the changes since the last checkpoint) and the checkpoint itself — one compare-and-set
 * commit of the head plus what the body changed.
 */
import type { WorkflowDefinition } from "../definition/workflow.ts";
import { ConflictError, errorText, ExecutionError, LeaseLostError } from "../errors.ts";
import { jsonSize, setOwn } from "../json.ts";
import type { StepDefinition, StepTools } from "../steps/step.ts";
import { type CommitResult, type EventWait, MAX_EVENTS_PER_EXECUTION, type Store, type StoredDefinition } from "../store/store.ts";
import type { Entry, EntryAction, EventType, Execution, ExecutionDelta, Json, JsonObject, LoopCursor, StoredEvent } from "../types.ts";
import type { Clock } from "./clock.ts";
import { type EventHandler, WorkflowEvent } from "./events.ts";
import type { ToolPlace } from "./tools.ts";
import { type Instruments, instruments, type SegmentTrace, timed } from "./tracing.ts";

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
  /** Given with `definition`'s place: the first commit of a new execution is refused unless this is the current version (Commit.currentHash). */
  currentHash?: string;
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
  /**
   * Claimed by the store with its load (claimedByStore), and no checkpoint or side effect since: the time budget lets
   * the first side effect run, as for a run whose claim travels with the checkpoint before it (each call makes progress).
   */
  storeClaimed = false;
  /** Entries not checkpointed yet of `replayable` steps: they need not be stored before a side effect. */
  replayed = 0;
  /** Steps executed by this call: a budget yield needs one, so every continuation makes progress. */
  stepsRun = 0;
  readonly startedAt: number;
  /** Aborted at the workflow deadline. */
  readonly abort = new AbortController();
  /** Set when a resume re-enters the halting step. */
  resumed?: { stepId: string; haltData: JsonObject | null };
  /** Who resumed the run: the next entry written records it. */
  actor?: string;
  /** The tools of this run's steps, per signal (the run itself for top-level steps), with where they point (tools.ts toolsAt). */
  readonly tools = new Map<object, { place: ToolPlace; tools: StepTools }>();
  /** This segment's spans, when an SDK records them (see tracing.ts). */
  trace: SegmentTrace | undefined;
  /** The metric instruments, when a meter provider is registered. */
  readonly meter: Instruments | undefined = instruments();
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
  /**
   * This worker's claim, measured on the monotonic clock from when the claim (or its last renewal) was sent:
   * `end` is when it runs out by that measure minus a margin; `sentAt` when it was sent. -Infinity: no claim.
   */
  #lease = { end: -Infinity, sentAt: -Infinity };
  /** Checkpoints started (a renewal refused while one of them moved the revision is not a loss). */
  #commits = 0;
  /** Set when the claim was lost: the worker starts nothing more. */
  lost?: LeaseLostError;
  /** The next checkpoint takes a running execution over: the store refuses it while the lease is live by its clock. */
  takeover = false;

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

  /** The abort signal, read once (a getter of the platform's that every step asks for). */
  readonly signal: AbortSignal = this.abort.signal;

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

  #deadline = { text: "", ms: NaN };

  /** The workflow deadline has passed by the clock (the deadline is parsed once, not at every step that asks). */
  pastDeadline(): boolean {
    const text = this.exec.deadline;
    if (!text) return false;
    if (text !== this.#deadline.text) this.#deadline = { text, ms: Date.parse(text) };
    return this.nowMs() >= this.#deadline.ms;
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

  /** A step's `step.retrying` event (`extra`: more fields, as `compensate: true`); returns its data (without executionId). */
  emitRetrying(step: { id: string; type: string }, delayMs: number, attempt: number, error: unknown, extra?: JsonObject): JsonObject {
    const data: JsonObject = { stepId: step.id, stepType: step.type, attempt, error: errorText(error), delayMs, ...extra };
    this.emit("step.retrying", data);
    return data;
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
    const entry: Entry = {
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
    };
    // Set after the literal (not spread into it): every entry keeps the literal's shape, which JSON.stringify is fastest on.
    if (this.actor) entry.actor = this.actor;
    this.#entries.push(entry);
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
    this.#measure(ctx, known);
    if (this.#ctxBytes > this.#context.maxCtxBytes) {
      throw new ExecutionError(`ctx is ${this.#ctxBytes} bytes after step "${stepId}", over the limit of ${this.#context.maxCtxBytes}`, {
        stepId,
      });
    }
  }

  /**
   * `ctx` is `from` with the `changed` keys set (a loop's variables): when `from` is the ctx measured last, measures those
   * keys now, so that the next step's check measures only its own (the limit is checked by that step, as before).
   */
  rebaseCtx(ctx: JsonObject, from: Readonly<JsonObject>, changed: string[]): void {
    if (from === this.#measuredCtx && ctx !== from) this.#measure(ctx, { from, changed });
  }

  #measure(ctx: JsonObject, known?: { from: Readonly<JsonObject>; changed: string[] }): void {
    const sizes = this.#sizes;
    if (known && known.from === this.#measuredCtx) {
      // Only the keys the step changed: the cost of a step does not grow with the size of ctx.
      for (const key of known.changed) {
        this.#ctxBytes -= sizes.get(key)?.size ?? 0;
        if (Object.hasOwn(ctx, key)) this.#ctxBytes += this.#sizeOf(ctx, key);
        else sizes.delete(key);
      }
    } else {
      let total = 2;
      let keys = 0;
      for (const key in ctx) {
        if (!Object.hasOwn(ctx, key)) continue;
        keys += 1;
        total += this.#sizeOf(ctx, key);
      }
      if (sizes.size > keys) { for (const key of [...sizes.keys()]) if (!Object.hasOwn(ctx, key)) sizes.delete(key); }
      this.#ctxBytes = total;
    }
    this.#measuredCtx = ctx;
  }

  /** The size of one key of ctx as JSON, from the cache while its value is the one measured. */
  #sizeOf(ctx: JsonObject, key: string): number {
    const value = ctx[key]!;
    const entry = this.#sizes.get(key);
    if (entry && entry.value === value) return entry.size;
    const size = jsonSize(value) + key.length + 4;
    this.#sizes.set(key, { value, size });
    return size;
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
  async checkpoint(wait?: EventWait): Promise<CommitResult> {
    const exec = this.exec;
    this.#commits += 1;
    const sentAt = this.#monotonic();
    const now = this.now();
    exec.updatedAt = now.toISOString();
    exec.leaseUntil = exec.status === "running" ? new Date(now.getTime() + this.#context.leaseMs).toISOString() : null;
    const stored = this.#stored;
    const definition = stored ? undefined : this.#context.definition;
    const commit = {
      execution: exec,
      expectedRevision: stored ? exec.revision : 0,
      ...(stored ? { delta: deltaOf(stored, exec, this.#dirty) } : {}),
      entries: this.#entries,
      events: this.#events,
      ...(definition ? { definition } : {}),
      ...(!stored && this.#context.currentHash ? { currentHash: this.#context.currentHash } : {}),
      ...(wait ? { wait } : {}),
      ...(exec.status === "running" ? { leaseMs: this.#context.leaseMs } : {}),
      ...(this.takeover ? { takeover: true } : {}),
    };
    if (this.trace) this.trace.storeRequests += 1;
    const committed = await timed(this.meter, "commit", () => this.#context.store.commit(commit));
    this.takeover = false;
    exec.revision = committed.revision;
    this.#lease = exec.status === "running" ? this.#leaseFrom(sentAt) : { end: -Infinity, sentAt: -Infinity };
    this.#entries = [];
    this.#events = [];
    this.replayed = 0;
    this.storeClaimed = false;
    this.#stored = storedOf(exec);
    this.#dirty = new Set();
    this.claimed = true;
    if (!this.#delivering) {
      this.#delivering = true;
      for (const event of this.#held.splice(0)) this.#deliver(event);
    }
    return committed;
  }

  /**
   * After a refused renewal: when the only commit since this worker's last one is a cancel that left the compensations
   * to it (`compensating.cancelRevision`), the run takes that cancel on instead of losing its claim — the step in flight
   * goes on, and the engine compensates once it ends. Events not stored yet are renumbered after the cancel's.
   */
  async #takeCancel(): Promise<boolean> {
    const exec = this.exec;
    const stored = await this.cancelToJoin();
    if (!stored) return false;
    const { compensations, revision, compensating, error, eventSeq } = stored;
    Object.assign(exec, { compensations, revision, compensating, error, eventSeq });
    for (const event of this.#events) event.seq = ++exec.eventSeq;
    return true;
  }

  /**
   * The execution as stored when the only commit since this run's last one is a cancel that left the compensations to
   * the lease holder, with the compensations of the steps this run completed meanwhile added; null otherwise.
   */
  async cancelToJoin(): Promise<Execution | null> {
    const exec = this.exec;
    const stored = await this.#context.store.load(exec.id);
    const cancel = stored?.compensating?.cancelRevision;
    if (!stored || stored.status !== "running" || cancel !== stored.revision || cancel !== exec.revision + 1) return null;
    const known = new Set(stored.compensations.map((item) => item.key));
    stored.compensations = [...stored.compensations, ...exec.compensations.filter((item) => !known.has(item.key))];
    return stored;
  }

  /**
   * Takes over what `from`, a run of the same execution whose checkpoint lost, had not stored: its entries, and its
   * events renumbered after this run's (not delivered again to `onEvent`).
   */
  adopt(from: Run): void {
    this.#entries.push(...from.#entries);
    for (const event of from.#events) this.#events.push({ ...event, seq: ++this.exec.eventSeq });
  }

  #chain: Promise<void> = Promise.resolve();

  /** A checkpoint after those already asked for (parallel branches may ask at once; each commit needs the last revision). */
  checkpointInTurn(): Promise<void> {
    const next = this.#chain.then(async () => {
      await this.checkpoint();
    });
    this.#chain = next.catch(() => undefined);
    return next;
  }

  /** Before a side effect of `stepId`: a checkpoint (in turn) with the fence before it and again after it. */
  async checkpointBefore(stepId: string): Promise<void> {
    await this.fence(stepId, true);
    await this.checkpointInTurn();
    // The commit may have been stored long ago (a worker paused while it waited for the answer): look again.
    await this.fence(stepId, true);
  }

  #monotonic(): number {
    return monotonicMs(this.#context.clock);
  }

  /** The store made this run's claim with its load (Store.claim), sent at `sentAt` (monotonicMs): the lease counts from then. */
  claimedByStore(sentAt: number): void {
    this.#lease = this.#leaseFrom(sentAt);
    this.#delivering = true;
    this.storeClaimed = true;
  }

  #leaseFrom(sentAt: number): { end: number; sentAt: number } {
    const leaseMs = this.#context.leaseMs;
    return { end: sentAt + leaseMs - leaseMargin(leaseMs), sentAt };
  }

  /**
   * The fence before a side effect: throws a LeaseLostError (starting nothing) when this worker's claim has run
   * out by its own clock, and renews the claim when a third of the lease has passed since it was last renewed
   * (so a step that starts and ends well within the lease costs no extra request). With `checkpointDue`, the
   * caller checkpoints next (which renews anyway).
   */
  async fence(stepId: string, checkpointDue = false): Promise<void> {
    if (this.lost) throw this.lost;
    if (!this.claimed || this.exec.status !== "running") return;
    this.#checkLease(stepId);
    if (checkpointDue || this.#monotonic() - this.#lease.sentAt < this.#context.leaseMs / 3) return;
    await this.renew().catch((error) => {
      // A store blip is not a loss: the claim still has time left by this worker's own measure.
      if (error instanceof LeaseLostError) throw error;
    });
    // The renewal counts from when it was sent: a worker paused while it waited has no more time than before.
    this.#checkLease(stepId);
  }

  #checkLease(stepId: string): void {
    const now = this.#monotonic();
    if (now < this.#lease.end) return;
    const late = Math.round(now - this.#lease.end);
    throw this.#lose(`its lease ran out ${late} ms ago by this worker's clock (margin included): step "${stepId}" was not started`);
  }

  /** Extends the claim by a lease from now (one store request, no new revision); a refusal loses it. */
  async renew(): Promise<void> {
    const exec = this.exec;
    const commits = this.#commits;
    const sentAt = this.#monotonic();
    const leaseUntil = new Date(this.nowMs() + this.#context.leaseMs).toISOString();
    try {
      await this.#context.store.renew(exec.id, { revision: exec.revision, leaseUntil, leaseMs: this.#context.leaseMs });
    } catch (error) {
      // Our own checkpoint moved the revision meanwhile: that commit renewed the lease itself.
      if (!(error instanceof ConflictError) || commits !== this.#commits) throw error;
      if (await this.#takeCancel()) return await this.renew();
      throw this.#lose(`its renewal was refused (${error.message})`);
    }
    if (commits !== this.#commits || this.exec.status !== "running") return;
    exec.leaseUntil = leaseUntil;
    this.#lease = this.#leaseFrom(sentAt);
  }

  /**
   * Renews the claim every third of the lease while a step with side effects runs; a refused renewal aborts the
   * run's signal with a LeaseLostError (the call is told to stop), a store blip does not (it is retried every tenth
   * of the lease) unless the lease runs out by this worker's measure meanwhile. Returns the stop function.
   */
  heartbeat(): () => void {
    const clock = this.#context.clock;
    let stopped = false;
    let cancel = () => {};
    const leaseMs = this.#context.leaseMs;
    const arm = (atLeast = 0) => {
      const wait = Math.max(atLeast, this.#lease.sentAt + leaseMs / 3 - this.#monotonic());
      cancel = clock.setTimer(wait, () => {
        if (stopped) return;
        this.renew().then(
          () => !stopped && arm(),
          (error) => {
            if (stopped) return;
            if (error instanceof LeaseLostError) this.abort.abort(error);
            // A store blip: try again soon; once the lease has run out by this worker's measure, another worker may
            // take over, so the call is told to stop.
            else if (this.#monotonic() >= this.#lease.end) {
              this.abort.abort(this.#lose(`its lease ran out while the store could not be reached (${errorText(error)})`));
            } else arm(leaseMs / 10);
          },
        );
      });
    };
    if (this.claimed && this.exec.status === "running") arm();
    return () => {
      stopped = true;
      cancel();
    };
  }

  #lose(why: string): LeaseLostError {
    this.lost ??= new LeaseLostError(`This worker lost its claim on execution "${this.exec.id}": ${why}`);
    return this.lost;
  }

  #deliver(event: StoredEvent): void {
    if (this.trace || this.meter) this.#observe(event);
    const handler = this.#context.onEvent;
    if (!handler) return;
    try {
      handler(WorkflowEvent.fromStored(event));
    } catch {
      // A subscriber's error never breaks the run; the runners report it.
    }
  }

  /** An event of a stored claim on the segment's span, and in the execution counters. */
  #observe(event: StoredEvent): void {
    const type = event.type;
    if (!type.startsWith("workflow.")) return;
    this.trace?.event(type, event.data);
    const meter = this.meter;
    if (!meter) return;
    const workflow = { "workflow.id": this.exec.workflowId };
    if (type === "workflow.started") meter.started.add(1, workflow);
    else if (type === "workflow.completed" || type === "workflow.failed" || type === "workflow.cancelled") {
      meter.finished.add(1, { ...workflow, "execution.status": type.slice("workflow.".length) });
    }
  }
}

/** The clock's monotonic time in ms (performance.now() for a clock without one): what leases are measured by. */
export function monotonicMs(clock: Clock): number {
  return clock.monotonicMs ? clock.monotonicMs() : performance.now();
}

/** How much of a lease a holder does not count on (clock drift, the request's way back): 10%, at least 2 s, at most half. */
function leaseMargin(leaseMs: number): number {
  return Math.min(leaseMs / 2, Math.max(leaseMs / 10, 2_000));
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
