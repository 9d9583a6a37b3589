/**
 * The operator's calls on one execution (cancel, retry, migrate, a kept answer, a resume's claim): each loads the
 * execution, checks it may change, and stores the change with one checkpoint.
 */
import { checkResumeAnswer } from "../definition/answer.ts";
import type { WorkflowDefinition } from "../definition/workflow.ts";
import { ConflictError } from "../errors.ts";
import { deepEqual } from "../json.ts";
import { FINISHED, type StepDefinition } from "../steps/step.ts";
import { type Execution, type ExecutionResult, isTerminal, type JsonObject } from "../types.ts";
import { hasCompensation } from "./compensation.ts";
import { release } from "./admission.ts";
import { type EngineCore, leaseExpiry, resultOf } from "./core.ts";
import { drive } from "./drive.ts";
import type { Run } from "./run.ts";

/** A resume (or a kept answer) that loses its store race to another change of the same halt tries this often. */
const HALT_CHANGE_ATTEMPTS = 5;

/**
 * Loads a halted execution and stores `change` to it (a resume's claim, a kept answer). When something else was
 * stored between the load and the change (a migrate, say), the same halt is changed again on what is stored now;
 * a halt answered meanwhile is a ConflictError. With `expectedRevision` (a queued job's), nothing is retried.
 */
export async function changeHalt<T>(
  core: EngineCore,
  executionId: string,
  options: { loaded?: Execution; expectedRevision?: number; refuse?: (exec: Execution) => void },
  change: (exec: Execution) => Promise<T>,
): Promise<T> {
  let loaded = options.loaded;
  let halt: Pick<Execution, "currentStep" | "haltData"> | undefined;
  for (let attempt = 1;; attempt++) {
    const exec = await core.loadOwn(executionId, loaded);
    loaded = undefined;
    if (exec.status !== "halted") {
      throw new ConflictError(`Execution "${executionId}" is ${exec.status}: only a halted execution can be resumed`);
    }
    if (options.expectedRevision !== undefined && exec.revision !== options.expectedRevision) {
      throw new ConflictError(
        `Execution "${executionId}" is at revision ${exec.revision}, not ${options.expectedRevision}: that halt was already answered`,
      );
    }
    if (halt && (halt.currentStep !== exec.currentStep || !deepEqual(halt.haltData, exec.haltData))) {
      throw new ConflictError(`Execution "${executionId}" was answered and halted again meanwhile: that halt was already answered`);
    }
    halt = { currentStep: exec.currentStep, haltData: exec.haltData };
    options.refuse?.(exec);
    try {
      return await change(exec);
    } catch (error) {
      if (error instanceof ConflictError && options.expectedRevision === undefined && attempt < HALT_CHANGE_ATTEMPTS) continue;
      throw error;
    }
  }
}

/** Engine.accept: keeps an answer on a halted execution for a queued resume (the first answer wins). */
export async function accept(
  core: EngineCore,
  executionId: string,
  options: { response?: unknown; approved?: unknown; actor?: string },
): Promise<Execution> {
  const answer = { ...checkResumeAnswer(options), ...(options.actor ? { actor: options.actor } : {}) };
  const refuse = (exec: Execution) => {
    if (exec.answer) throw new ConflictError(`Execution "${executionId}" already has an answer waiting to be applied`);
  };
  return await changeHalt(core, executionId, { refuse }, async (exec) => {
    const run = core.newRun(exec, core.workflow, true);
    exec.answer = answer;
    await run.checkpoint();
    return exec;
  });
}

/** Engine.cancel: cancelled at once, or compensating first (here, or in the worker holding a live lease). */
export async function cancel(
  core: EngineCore,
  executionId: string,
  options: { reason?: string; actor?: string },
): Promise<ExecutionResult> {
  const exec = await core.loadOwn(executionId);
  if (isTerminal(exec.status)) {
    throw new ConflictError(
      `Execution "${executionId}" is already ${exec.status}: only a pending, running or halted execution can be cancelled`,
    );
  }
  if (exec.compensating) {
    throw new ConflictError(`Execution "${executionId}" is already being compensated (it ends ${exec.compensating.status})`);
  }
  const reason = options.reason ?? "Cancelled by an operator";
  const workflow = await core.pinned(exec);
  const run = core.newRun(exec, workflow, true);
  const error = `Cancelled: ${reason}`;
  const actorField: JsonObject = options.actor ? { actor: options.actor } : {};
  if (hasCompensation(workflow)) {
    const inFlight = exec.status === "running" && leaseExpiry(exec, core.leaseMs) > core.clock.now().getTime();
    Object.assign(exec, { status: "running", error, wakeAt: null, retry: null, answer: null });
    exec.compensating = { status: "cancelled", error, reason, ok: true, cancelRevision: inFlight ? exec.revision + 1 : null };
    run.emit("workflow.compensating", { status: "cancelled", error, ...actorField });
    await run.checkpoint();
    return inFlight ? resultOf(exec) : await drive(core, run);
  }
  Object.assign(exec, { status: "cancelled", error, wakeAt: null, retry: null, answer: null });
  run.emit("workflow.cancelled", { reason, ...actorField });
  await operate(core, run, "cancel");
  return await release(core, run, resultOf(exec));
}

/** Engine.retry: a failed execution reopened `pending` at the step that failed. */
export async function retry(core: EngineCore, executionId: string, options: { actor?: string }): Promise<Execution> {
  const exec = await core.loadOwn(executionId);
  if (exec.status !== "failed") {
    throw new ConflictError(`Execution "${executionId}" is ${exec.status}: only a failed execution can be retried`);
  }
  if (exec.compensated !== null) {
    throw new ConflictError(`Execution "${executionId}" was compensated (its completed steps were undone): start a new execution`);
  }
  const workflow = await core.pinned(exec);
  const run = core.newRun(exec, workflow, true);
  Object.assign(exec, {
    status: "pending",
    error: null,
    recoverTo: exec.recoverTo ?? exec.currentStep ?? workflow.steps[0]!.id,
    deadline: core.deadlineFrom(core.clock.now(), workflow),
    retry: null,
    loop: null,
    wakeAt: null,
    epoch: (exec.epoch ?? 0) + 1,
    pinned: null,
  });
  run.emit("workflow.resumed", { retry: true, ...(options.actor ? { actor: options.actor } : {}) });
  return await operate(core, run, "retry");
}

/** Engine.migrate: a halted or pending execution moved onto `target` when every step it stands on exists there. */
export async function migrate(
  core: EngineCore,
  executionId: string,
  target: WorkflowDefinition,
  options: { actor?: string },
): Promise<Execution> {
  const exec = await core.loadOwn(executionId);
  if (exec.status !== "halted" && exec.status !== "pending") {
    throw new ConflictError(`Execution "${executionId}" is ${exec.status}: only a halted or pending execution can be migrated`);
  }
  if (target.id !== exec.workflowId) {
    throw new ConflictError(`Execution "${executionId}" belongs to workflow "${exec.workflowId}", not "${target.id}"`);
  }
  const ids = new Set(allStepIds(target.steps));
  const needed = [exec.currentStep, exec.recoverTo, exec.loop?.stepId, exec.retry?.stepId].filter((id): id is string =>
    !!id && id !== FINISHED
  );
  const missing = [...new Set(needed)].filter((id) => !ids.has(id));
  if (missing.length) {
    throw new ConflictError(
      `Execution "${executionId}" cannot move to version ${target.version} (${target.hash.slice(0, 12)}): it stands on step${
        missing.length === 1 ? "" : "s"
      } ${missing.map((id) => `"${id}"`).join(", ")}, missing there`,
    );
  }
  const run = core.newRun(exec, target, true);
  run.emit("workflow.migrated", {
    fromVersion: exec.workflowVersion,
    fromHash: exec.workflowHash,
    version: target.version,
    hash: target.hash,
    ...(options.actor ? { actor: options.actor } : {}),
  });
  Object.assign(exec, { workflowVersion: target.version, workflowHash: target.hash });
  return await operate(core, run, "migrate");
}

/** An operator's change (cancel, retry, migrate): one checkpoint, traced as a short segment of its own. */
async function operate(core: EngineCore, run: Run, kind: string): Promise<Execution> {
  run.trace = core.startSegment(run.exec, kind);
  return await core.within(run.trace, async () => {
    await run.checkpoint();
    return run.exec;
  });
}

function allStepIds(steps: readonly StepDefinition[]): string[] {
  const ids: string[] = [];
  for (const step of steps) {
    ids.push(step.id);
    for (const key of ["do", "branches"]) {
      const body = step[key];
      if (Array.isArray(body)) ids.push(...allStepIds(body as StepDefinition[]));
    }
  }
  return ids;
}
