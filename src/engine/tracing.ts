/**
 * OpenTelemetry traces and metrics through `@opentelemetry/api` only: the app wires an SDK and an exporter, and
 * with none every call here is a null check or one no-op span per run segment (see docs/observability.md).
 *
 * One execution is one trace: its start is a span (a child of the start request's `traceparent`) whose context is
 * stored on the execution; every run segment (a queue delivery, a sync call) is a child of it and links to the
 * span that asked for it (the segment that enqueued the job); every step is a child of its segment (nested steps:
 * of their top-level step). Contexts are passed explicitly, so no context manager is needed.
 */
import {
  type Attributes,
  type Context,
  type Counter,
  createNoopMeter,
  type Histogram,
  isSpanContextValid,
  type Link,
  metrics,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import type { Execution, ExecutionResult, JsonObject } from "../types.ts";

const NAME = "durable-workflow-edge";
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The span context of a W3C `traceparent` header value (version 00), or undefined when it is not one. */
export function parseTraceparent(value: string | null | undefined): SpanContext | undefined {
  const match = typeof value === "string" ? TRACEPARENT.exec(value.trim().toLowerCase()) : null;
  if (!match) return undefined;
  const context: SpanContext = { traceId: match[1]!, spanId: match[2]!, traceFlags: parseInt(match[3]!, 16) & 1, isRemote: true };
  return isSpanContextValid(context) ? context : undefined;
}

export function formatTraceparent(context: SpanContext): string {
  return `00-${context.traceId}-${context.spanId}-0${context.traceFlags & 1}`;
}

function contextOf(traceparent: string | undefined): Context {
  const parent = parseTraceparent(traceparent);
  return parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
}

function tracer() {
  return trace.getTracer(NAME);
}

const EXECUTION_ATTRIBUTES = (exec: Execution): Attributes => ({
  "workflow.id": exec.workflowId,
  "workflow.version": exec.workflowVersion,
  "workflow.hash": exec.workflowHash,
  "execution.id": exec.id,
});

/**
 * The trace context stored on a new execution: a `workflow.start` span, a child of `traceparent` (the start
 * request's), when an SDK records it; else `traceparent` as given (a later segment under an SDK still joins the
 * request's trace); undefined when there is neither.
 */
export function startTrace(exec: Execution, traceparent: string | undefined): { traceparent: string } | undefined {
  const span = tracer().startSpan(`workflow.start ${exec.workflowId}`, { attributes: EXECUTION_ATTRIBUTES(exec) }, contextOf(traceparent));
  if (!span.isRecording()) return parseTraceparent(traceparent) ? { traceparent: traceparent!.trim().toLowerCase() } : undefined;
  span.end();
  return { traceparent: formatTraceparent(span.spanContext()) };
}

/** Attributes a workflow event may put on a span: never ctx, input or outputs (they may hold secrets). */
const EVENT_FIELDS = ["stepId", "stepType", "attempt", "delayMs", "error", "reason"] as const;

function eventAttributes(data: JsonObject): Attributes {
  const attributes: Attributes = {};
  for (const key of EVENT_FIELDS) {
    const value = data[key];
    if (typeof value === "string" || typeof value === "number") attributes[key] = value;
  }
  return attributes;
}

/** How a segment ended: an execution result, or the execution an operator's change stored. */
export type Outcome = Pick<ExecutionResult, "status"> & { error?: string | null };

/** The spans of one run segment; made only when an SDK records (see `startSegment`). */
export class SegmentTrace {
  readonly span: Span;
  readonly #context: Context;
  /** The execution's attributes, put on every span of the segment. */
  readonly #attributes: Attributes;
  /** The running top-level step's span and context: nested steps are its children. */
  #top: { span: Span; context: Context } | undefined;
  /** Store requests made by this segment so far (Run counts them). */
  storeRequests = 0;

  constructor(span: Span, exec: Execution) {
    this.span = span;
    this.#context = trace.setSpan(ROOT_CONTEXT, span);
    this.#attributes = EXECUTION_ATTRIBUTES(exec);
  }

  /** W3C traceparent of the segment: follow-up jobs carry it, so the next segment links to this one. */
  get traceparent(): string {
    return formatTraceparent(this.span.spanContext());
  }

  startStep(step: { id: string; type: string }, nested: boolean): StepSpan {
    const parent = nested && this.#top ? this.#top.context : this.#context;
    const span = tracer().startSpan(`step ${step.id}`, {
      attributes: { ...this.#attributes, "step.id": step.id, "step.type": step.type },
    }, parent);
    const stepSpan = new StepSpan(span, this.storeRequests);
    if (!nested) this.#top = { span, context: trace.setSpan(ROOT_CONTEXT, span) };
    return stepSpan;
  }

  endStep(step: StepSpan, outcome: string, attempt: number, error?: string): void {
    const span = step.span;
    span.setAttributes({
      "step.outcome": outcome,
      "step.attempt": attempt,
      "store.requests": this.storeRequests - step.storeRequestsBefore,
    });
    if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    span.end();
    if (this.#top?.span === span) this.#top = undefined;
  }

  /** A workflow event (halted, resumed, completed…) as an event of the segment's span. */
  event(type: string, data: JsonObject): void {
    this.span.addEvent(type, eventAttributes(data));
  }

  end(result: Outcome | undefined, error?: unknown): void {
    const span = this.span;
    span.setAttributes({ "store.requests": this.storeRequests, "execution.status": result?.status ?? "error" });
    if (result?.status === "failed") span.setStatus({ code: SpanStatusCode.ERROR, message: result.error ?? "failed" });
    if (error !== undefined) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    }
    span.end();
  }
}

export class StepSpan {
  constructor(readonly span: Span, readonly storeRequestsBefore: number) {}

  /** A step event (a retry) as an event of the step's span. */
  event(type: string, data: JsonObject): void {
    this.span.addEvent(type, eventAttributes(data));
  }

  get traceparent(): string {
    return formatTraceparent(this.span.spanContext());
  }
}

/**
 * The span of one run segment, a child of the execution's stored trace context and linked to `link` (the
 * traceparent of what asked for it: a queued job's publisher); undefined when no SDK records it.
 */
export function startSegment(exec: Execution, kind: string, link: string | undefined): SegmentTrace | undefined {
  const linked = parseTraceparent(link);
  const links: Link[] = linked ? [{ context: linked }] : [];
  const span = tracer().startSpan(`workflow.${kind} ${exec.workflowId}`, {
    kind: SpanKind.INTERNAL,
    attributes: EXECUTION_ATTRIBUTES(exec),
    links,
  }, contextOf(exec.trace?.traceparent));
  return span.isRecording() ? new SegmentTrace(span, exec) : undefined;
}

const NOOP_METER = createNoopMeter().constructor;

/** The instruments, made once per meter provider (a provider registered later is picked up). */
export interface Instruments {
  started: Counter;
  finished: Counter;
  stepDuration: Histogram;
  stepAttempts: Histogram;
  storeDuration: Histogram;
  queueLag: Histogram;
}

const instrumentsOf = new WeakMap<object, Instruments>();

/** The metric instruments, or undefined when no meter provider is registered (nothing to record). */
export function instruments(): Instruments | undefined {
  const provider = metrics.getMeterProvider();
  let made = instrumentsOf.get(provider);
  if (made) return made;
  const meter = provider.getMeter(NAME);
  if (meter.constructor === NOOP_METER) return undefined;
  made = {
    started: meter.createCounter("workflow.executions.started", { description: "Executions started" }),
    finished: meter.createCounter("workflow.executions.finished", { description: "Executions ended, by status" }),
    stepDuration: meter.createHistogram("workflow.step.duration", { unit: "ms", description: "Step duration, by step type and outcome" }),
    stepAttempts: meter.createHistogram("workflow.step.attempts", { description: "Attempts a step took, by step type" }),
    storeDuration: meter.createHistogram("workflow.store.duration", { unit: "ms", description: "Store request duration, by operation" }),
    queueLag: meter.createHistogram("workflow.queue.lag", {
      unit: "ms",
      description: "Delivery time of a queued job minus the time it was due, by action",
    }),
  };
  instrumentsOf.set(provider, made);
  return made;
}

/** Runs one store request, recording its duration (a monotonic clock's, not the engine's) when metrics are on. */
export function timed<T>(meter: Instruments | undefined, operation: string, request: () => Promise<T>): Promise<T> {
  if (!meter) return request();
  const start = performance.now();
  return request().finally(() => meter.storeDuration.record(performance.now() - start, { "store.operation": operation }));
}
