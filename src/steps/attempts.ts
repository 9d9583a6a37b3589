/**
 * The attempts of a step with side effects (`call`, `http`): up to `1 + retries`, each bounded by `timeout` and
 * aborted through its signal, with `retry_delay * retry_backoff^(k-1)` seconds before attempt k+1 — or the
 * seconds of a `RetryAfterError`; a `NonRetryableError` ends them at once.
 */
import { z } from "zod";
import { ExecutionError, NonRetryableError, RetryAfterError, TimeoutError } from "../errors.ts";
import { setOwn } from "../json.ts";
import type { Json } from "../types.ts";
import { proceed, runAgain, type StepOutcome, type StepState, type StepTools } from "./step.ts";

/** The keys of a step's attempts, shared by the schemas of `call` and `http`. */
export const attemptKeys = {
  timeout: z.number().positive().optional(),
  retries: z.number().int().min(0).max(100).default(0),
  retry_delay: z.number().min(0).default(1),
  retry_backoff: z.number().min(1).default(2),
};

export interface AttemptPolicy {
  id: string;
  timeout?: number;
  retries: number;
  retry_delay: number;
  retry_backoff: number;
}

/** Milliseconds to wait before `attempt` (the 2nd or later), after `error` ended the one before it. */
function delayBefore(step: AttemptPolicy, attempt: number, error: unknown): number {
  if (error instanceof RetryAfterError) return error.seconds * 1000;
  return step.retry_delay * step.retry_backoff ** (attempt - 2) * 1000;
}

/** What the attempts came to: a value, or (the engine scheduled the wait) the attempt to run at `later`. */
export type Attempted<T> = { value: T; attempt: number; later?: undefined } | { later: string; attempt: number };

/**
 * Runs `attempt` until it succeeds, it throws a NonRetryableError, or the attempts are used up (then the last
 * error is thrown); a wait the engine schedules ends them with `later`. A run continuing after a scheduled retry
 * wait starts at `state.retryAttempt`.
 */
export async function withAttempts<T>(
  step: AttemptPolicy,
  state: StepState,
  tools: StepTools,
  attempt: (n: number, signal: AbortSignal) => T | Promise<T>,
): Promise<Attempted<T>> {
  const attempts = 1 + step.retries;
  const first = state.retryAttempt ?? 1;
  let lastError: unknown;
  for (let n = first; n <= attempts; n++) {
    if (n > first) {
      const later = await tools.waitToRetry(delayBefore(step, n, lastError), n, lastError);
      if (later !== undefined) return { later, attempt: n };
    }
    if (tools.signal.aborted) throw tools.signal.reason;
    try {
      return { value: await bounded(step, n, tools, (signal) => attempt(n, signal)), attempt: n };
    } catch (error) {
      lastError = error;
      if (tools.signal.aborted || error instanceof NonRetryableError) break;
    }
  }
  throw lastError;
}

/**
 * The outcome of a step whose attempts came to `attempted`: run again after a scheduled wait, or go on with the value
 * as the step's output (also set at `ctx[output]` when the step names one).
 */
export function attemptedOutcome(attempted: Attempted<Json>, output: string | undefined, state: StepState): StepOutcome {
  if (attempted.later !== undefined) return runAgain({ until: attempted.later, attempt: attempted.attempt });
  const { value, attempt } = attempted;
  if (!output) return proceed({ output: value, attempt });
  const ctx = { ...state.ctx };
  setOwn(ctx, output, value);
  return proceed({ output: value, ctx, changed: [output], attempt });
}

/** The value of attempts whose waits are always slept (a compensation's tools never schedule one). */
export function settled<T>(attempted: Attempted<T>): T {
  if (attempted.later !== undefined) throw new ExecutionError(`A retry wait was scheduled where it must be slept`);
  return attempted.value;
}

/** One attempt, raced against the step's signal and its `timeout`; its own signal aborts when either ends it. */
async function bounded<T>(
  step: AttemptPolicy,
  attempt: number,
  tools: StepTools,
  run: (signal: AbortSignal) => T | Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const outer = tools.signal;
  const onAbort = () => controller.abort(outer.reason);
  if (outer.aborted) onAbort();
  else outer.addEventListener("abort", onAbort, { once: true });
  let cancelTimer: (() => void) | undefined;
  try {
    const aborted = new Promise<never>((_, reject) => {
      const fail = () =>
        reject(controller.signal.reason instanceof Error ? controller.signal.reason : new ExecutionError(`Step "${step.id}" was aborted`));
      if (controller.signal.aborted) fail();
      controller.signal.addEventListener("abort", fail, { once: true });
    });
    if (step.timeout !== undefined) {
      cancelTimer = tools.setTimer(
        step.timeout * 1000,
        () =>
          controller.abort(
            new TimeoutError(`Step "${step.id}" timed out after ${step.timeout}s (attempt ${attempt})`, { stepId: step.id }),
          ),
      );
    }
    return await Promise.race([Promise.resolve().then(() => run(controller.signal)), aborted]);
  } finally {
    cancelTimer?.();
    outer.removeEventListener("abort", onAbort);
  }
}
