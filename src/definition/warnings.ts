import type { ValidationIssue } from "../errors.ts";
import type { StepDefinition } from "../steps/step.ts";
import type { WorkflowDefinition } from "./workflow.ts";

/**
 * What can outlast a run's lease (`leaseMs`) and let another worker take the run over while a step still works: an
 * attempt `timeout` longer than the lease, and — inside a loop body or a parallel branch, where retry waits are slept
 * in process — a backoff wait longer than the lease, or any retried `http` step (its `Retry-After` is the server's
 * choice) or `call` step (its service may throw `RetryAfterError`). Warnings, not errors: the definition is valid.
 */
export function leaseWarnings(workflow: Pick<WorkflowDefinition, "steps">, leaseMs: number): ValidationIssue[] {
  const warnings: ValidationIssue[] = [];
  const lease = `the lease (${leaseMs / 1000}s)`;
  const visit = (steps: readonly StepDefinition[], path: string, nested: boolean) => {
    steps.forEach((step, i) => {
      const at = `${path}[${i}]`;
      if (typeof step.timeout === "number" && step.timeout * 1000 > leaseMs && (step.type === "call" || step.type === "http")) {
        warnings.push({
          path: `${at}.timeout`,
          message: `an attempt of ${step.timeout}s can outlast ${lease}: another worker may take the run over while it runs`,
        });
      }
      const retries = typeof step.retries === "number" ? step.retries : 0;
      if (nested && retries > 0 && (step.type === "call" || step.type === "http")) {
        const delay = typeof step.retry_delay === "number" ? step.retry_delay : 1;
        const backoff = typeof step.retry_backoff === "number" ? step.retry_backoff : 2;
        const longest = delay * backoff ** (retries - 1) * 1000;
        const why = longest > leaseMs
          ? `its retry wait of up to ${longest / 1000}s`
          : step.type === "http"
          ? "a Retry-After wait"
          : "a RetryAfterError wait";
        warnings.push({
          path: `${at}.retries`,
          message: `inside a loop body or a parallel branch retry waits are slept in process: ${why} can outlast ${lease}`,
        });
      }
      for (const key of ["do", "branches"]) {
        if (Array.isArray(step[key])) visit(step[key] as StepDefinition[], `${at}.${key}`, true);
      }
    });
  };
  visit(workflow.steps, "steps", false);
  return warnings;
}
