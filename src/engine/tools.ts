/**
 * The tools handed to a step (StepTools: references, time, pinned values, call retry waits, loop checkpoints, child
 * workflows) and the runner of nested steps — a loop body or a parallel branch — that `tools.runSteps` is.
 */
import { lookupWorkflow } from "../config.ts";
import { ConflictError } from "../errors.ts";
import { resolveValue } from "../expressions/references.ts";
import { FINISHED, type NestedRun, type StepDefinition, type StepState, type StepTools } from "../steps/step.ts";
import type { JsonObject } from "../types.ts";
import { stepRate } from "./admission.ts";
import { runChild } from "./child.ts";
import { type EngineCore, resultOf, timeoutError } from "./core.ts";
import { executeStep, lastError, stepTypeOf } from "./execute-step.ts";
import type { Run } from "./run.ts";
import { visitOf } from "./visits.ts";

/**
 * Where a step's tools point: its top-level step, the ctx before that step, and the ctx the step was given (references
 * resolve against it). The tools read it at each call, so one set of tools serves every step of a run on one signal.
 */
export interface ToolPlace {
  top: StepDefinition;
  ctxBefore: JsonObject;
  ctx: Readonly<JsonObject>;
}

/** The tools of the steps at `place` (made once per run and signal: see toolsAt). */
export function stepTools(core: EngineCore, run: Run, signal: AbortSignal, place: ToolPlace): StepTools {
  const exec = run.exec;
  const clock = core.clock;
  const options = core.options;
  const nested = signal !== run.signal;
  return {
    resolve: (value, ctx) => resolveValue(value, { input: exec.input, ctx: ctx ?? place.ctx, now: () => clock.now() }),
    now: () => clock.now(),
    services: core.services,
    signal,
    sleep: (ms, sleepSignal) => clock.sleep(ms, sleepSignal),
    setTimer: (ms, fn) => clock.setTimer(ms, fn),
    waitToRetry: async (ms) => {
      const threshold = options.scheduleRetriesOverMs;
      if (threshold === undefined || ms <= threshold || nested || !run.claimed || exec.currentStep !== place.top.id) {
        await clock.sleep(ms, signal);
        return undefined;
      }
      return new Date(clock.now().getTime() + ms).toISOString();
    },
    pin: async (key, make) => {
      const top = place.top;
      const stored = exec.pinned && Object.hasOwn(exec.pinned, key) ? exec.pinned[key] : undefined;
      const value = stored === undefined ? make() : stored as ReturnType<typeof make>;
      if (stored === undefined) exec.pinned = { ...exec.pinned, [key]: value };
      if (stored === undefined || !run.claimed || run.unsaved > 0) await run.checkpointBefore(top.id);
      return value;
    },
    http: options.http ?? {},
    secrets: options.secrets ?? {},
    runSteps: (steps, ctx, nestedOptions) => runNested(core, run, steps, ctx, nestedOptions, place.top, place.ctxBefore),
    runChild: (request) =>
      runChild(
        core.store,
        request,
        lookupWorkflow(options.workflows, request.workflowId),
        (workflow) =>
          core.childEngine(workflow, {
            ...options,
            clock,
            store: core.store,
            services: core.services,
            registry: core.registry,
            onEvent: undefined,
            budgetMs: undefined,
            flowControl: false,
            traceparent: undefined,
          }),
        { parent: exec.deadline, now: clock.now().getTime() },
        resultOf,
      ),
    checkpointLoop: async ({ index, outputs, ctx, changed }) => {
      run.setCtx(ctx, changed);
      exec.loop = { stepId: place.top.id, index, outputs, before: place.ctxBefore };
      exec.pinned = null;
      if (core.budgetUsed(run)) return "yield";
      await run.checkpoint();
      return undefined;
    },
  };
}

/**
 * The tools of a step on `signal` (the run's own signal: a top-level step, or a loop body at the top level; a branch's
 * signal: a parallel branch), made once per run and signal and moved to the step (a hot loop or chain asks every step).
 * Only top-level steps checkpoint a loop.
 */
export function toolsAt(
  core: EngineCore,
  run: Run,
  signal: AbortSignal,
  top: StepDefinition,
  ctxBefore: JsonObject,
  ctx: JsonObject,
  level: "top" | "nested",
): StepTools {
  const key = level === "top" ? run : signal;
  let cached = run.tools.get(key);
  if (!cached) {
    const place = { top, ctxBefore, ctx };
    const tools = stepTools(core, run, signal, place);
    cached = { place, tools: level === "top" ? tools : { ...tools, checkpointLoop: undefined } };
    run.tools.set(key, cached);
  }
  const place = cached.place;
  place.top = top;
  place.ctxBefore = ctxBefore;
  place.ctx = ctx;
  return cached.tools;
}

/** Steps of a loop body or a parallel branch, in listed order (a target may jump forward or end the body). */
async function runNested(
  core: EngineCore,
  run: Run,
  steps: StepDefinition[],
  ctxIn: JsonObject,
  options: Parameters<StepTools["runSteps"]>[2],
  top: StepDefinition,
  ctxBefore: JsonObject,
): Promise<NestedRun> {
  let ctx = ctxIn;
  if (options.base) run.rebaseCtx(ctx, options.base.ctx, options.base.changed);
  /** The keys the steps changed (a key may repeat), or null once one changed ctx without saying which. */
  let changed: string[] | null = [];
  let output: NestedRun["output"] = null;
  let sideEffects = false;
  /** A step failed and its `on_error` took over: the body's output is null, whatever the handler returns. */
  let handled = false;
  const signal = options.signal ?? run.signal;
  for (let i = 0; i < steps.length;) {
    const step = steps[i]!;
    if (signal.aborted) throw signal.reason;
    if (run.pastDeadline()) throw timeoutError(run);
    run.countStep();
    const type = stepTypeOf(core.registry, step);
    if (!type.pure) {
      sideEffects = true;
      await run.fence(step.id);
    }
    const state: StepState = {
      executionId: run.exec.id,
      workflowId: run.exec.workflowId,
      input: run.exec.input,
      ctx,
      scope: `${options.scope}:${step.id}`,
      idempotencyKey: `${options.scope}:${step.id}:${visitOf(run.exec, top.id)}`,
      nested: true,
    };
    const tools = toolsAt(core, run, signal, top, ctxBefore, ctx, "nested");
    if (step.rate) await stepRate(core, run, step, state.scope, false, signal);
    const end = await executeStep(run, step, type, nestedLabel(options.parentId, step), state, tools);
    let next: string | undefined;
    if (end.kind === "fail") {
      const error = end.error;
      if (!step.on_error || signal.aborted || error instanceof ConflictError) throw error;
      ctx = { ...ctx, _last_error: lastError(step.id, error) };
      changed = changed && [...changed, "_last_error"];
      handled = true;
      next = step.on_error;
    } else {
      // execute-step.ts fails a nested halt or `again`; a `wait` inside a body goes on at once.
      const outcome = end.kind === "done" || "outcome" in end && end.kind === "wait-until" ? end.outcome : undefined;
      if (outcome?.ctx && outcome.ctx !== ctx) {
        // Most bodies are one step: its own list is the body's.
        changed = !outcome.changed || !changed ? null : changed.length ? [...changed, ...outcome.changed] : outcome.changed;
        ctx = outcome.ctx;
      }
      output = outcome?.output ?? null;
      next = outcome?.next ?? step.next;
    }
    if (next === FINISHED) break;
    i = next ? steps.findIndex((s) => s.id === next) : i + 1;
    if (i < 0) break;
  }
  return { ctx, output: handled ? null : output, sideEffects, changed: changed ?? undefined };
}

const labels = new WeakMap<StepDefinition, { id: string; type: string }>();

/** How a nested step is recorded: `<parent>:<step>` (made once per step definition: a step has one parent). */
function nestedLabel(parentId: string, step: StepDefinition): { id: string; type: string } {
  let label = labels.get(step);
  if (!label) labels.set(step, label = { id: `${parentId}:${step.id}`, type: step.type });
  return label;
}
