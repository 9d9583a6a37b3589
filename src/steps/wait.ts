import { z } from "zod";
import { ExecutionError } from "../errors.ts";
import { stepSchema, type StepType, waitUntil } from "./step.ts";

/** The latest time a Date can hold (ms since the epoch): a wake time after it cannot be stored. */
const LATEST_TIME_MS = 8.64e15;
/** The longest `seconds` that can end before LATEST_TIME_MS even when counted from 1970. */
const MAX_WAIT_SECONDS = LATEST_TIME_MS / 1000;

const schema = stepSchema("wait", {
  seconds: z.union([
    z.number().min(0).max(MAX_WAIT_SECONDS),
    z.string().startsWith("$"),
  ]).optional(),
  until: z.string().min(1).optional(),
}).superRefine((step, issue) => {
  if ((step.seconds === undefined) === (step.until === undefined)) {
    issue.addIssue({ code: "custom", path: ["seconds"], message: "a wait needs exactly one of `seconds` and `until`" });
  }
  if (step.until !== undefined && !step.until.startsWith("$") && Number.isNaN(Date.parse(step.until))) {
    issue.addIssue({ code: "custom", path: ["until"], message: `"${step.until}" is not an ISO-8601 time or a $reference` });
  }
});

type WaitStep = typeof schema._output;

/**
 * Waits `seconds` (a number or a reference to one) or `until` a time (ISO-8601, or a reference to one), then
 * goes on at `next`. A long wait costs nothing: the execution is stored `pending` with its wake time, and a
 * delayed job, a timer or the sweeper continues it. A time already past goes on at once.
 */
export const wait: StepType<WaitStep> = {
  type: "wait",
  schema,
  topLevelOnly: true,
  references: (step) => [
    ...(typeof step.seconds === "string" ? [{ key: "seconds", kind: "value" as const, value: step.seconds }] : []),
    ...(step.until?.startsWith("$") ? [{ key: "until", kind: "value" as const, value: step.until }] : []),
  ],
  execute: (step, _state, tools) => {
    const now = tools.now().getTime();
    let until: number;
    if (step.seconds !== undefined) {
      const seconds = tools.resolve(step.seconds);
      if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) {
        throw new ExecutionError(`Wait "${step.id}": \`seconds\` must be a number of seconds ≥ 0, got ${JSON.stringify(seconds)}`, {
          stepId: step.id,
        });
      }
      until = now + seconds * 1000;
    } else {
      const time = tools.resolve(step.until);
      until = typeof time === "string" ? Date.parse(time) : NaN;
      if (Number.isNaN(until)) {
        throw new ExecutionError(`Wait "${step.id}": \`until\` must be an ISO-8601 time, got ${JSON.stringify(time)}`, { stepId: step.id });
      }
    }
    if (until > LATEST_TIME_MS) {
      const what = step.seconds !== undefined ? `a wait of ${JSON.stringify(tools.resolve(step.seconds))} seconds` : "its `until`";
      throw new ExecutionError(
        `Wait "${step.id}": ${what} ends after ${new Date(LATEST_TIME_MS).toISOString()}, the latest time a date can hold`,
        { stepId: step.id },
      );
    }
    const iso = new Date(Math.max(until, now)).toISOString();
    return waitUntil({ until: iso, output: { until: iso } });
  },
};
