import type { ValidationIssue } from "../errors.ts";
import type { StepDefinition } from "../steps/step.ts";
import type { WorkflowDefinition } from "./workflow.ts";

/**
 * What can outlast a run's lease (`leaseMs`) and let another worker take the run over while a step still works: an
 * attempt `timeout` longer than the lease, and — inside a loop body or a parallel branch, where retry waits are slept
 * in process — a backoff wait longer than the lease, or any retried `http` step (its `Retry-After` is the server's
 * choice) or `call` step (its service may throw `RetryAfterError`); the same for a `compensate:`, whose retry waits are
 * always slept (warned when its backoff alone can outlast the lease). Warnings, not errors: the definition is valid.
 */
export function leaseWarnings(workflow: Pick<WorkflowDefinition, "steps">, leaseMs: number): ValidationIssue[] {
  const warnings: ValidationIssue[] = [];
  const lease = `the lease (${leaseMs / 1000}s)`;
  /**
   * `slept`: why its retry waits are slept in process (null at the top level, where long ones are scheduled); `any`: a
   * server's or service's own wait is worth a warning too.
   */
  const attempts = (step: StepDefinition, at: string, slept: string | null, any = true) => {
    if (typeof step.timeout === "number" && step.timeout * 1000 > leaseMs) {
      warnings.push({
        path: `${at}.timeout`,
        message: `an attempt of ${step.timeout}s can outlast ${lease}: another worker may take the run over while it runs`,
      });
    }
    const retries = typeof step.retries === "number" ? step.retries : 0;
    const delay = typeof step.retry_delay === "number" ? step.retry_delay : 1;
    const backoff = typeof step.retry_backoff === "number" ? step.retry_backoff : 2;
    const longest = delay * backoff ** (retries - 1) * 1000;
    if (slept && retries > 0 && (any || longest > leaseMs)) {
      const why = longest > leaseMs
        ? `its retry wait of up to ${longest / 1000}s`
        : step.type === "http"
        ? "a Retry-After wait"
        : "a RetryAfterError wait";
      warnings.push({ path: `${at}.retries`, message: `${slept} retry waits are slept in process: ${why} can outlast ${lease}` });
    }
  };
  const visit = (steps: readonly StepDefinition[], path: string, nested: boolean) => {
    steps.forEach((step, i) => {
      const at = `${path}[${i}]`;
      if (step.type === "call" || step.type === "http") {
        attempts(step, at, nested ? "inside a loop body or a parallel branch" : null);
        const compensate = step.compensate;
        if (compensate && typeof compensate === "object" && !Array.isArray(compensate)) {
          attempts(
            { ...compensate as Record<string, unknown>, id: step.id, type: step.type },
            `${at}.compensate`,
            "in a compensation",
            false,
          );
        }
      }
      for (const key of ["do", "branches"]) {
        if (Array.isArray(step[key])) visit(step[key] as StepDefinition[], `${at}.${key}`, true);
      }
    });
  };
  visit(workflow.steps, "steps", false);
  return warnings;
}
