import type { WorkflowDefinition } from "../src/definition/workflow.ts";
import { defaultStepRegistry } from "../src/steps/registry.ts";
import type { StepDefinition } from "../src/steps/step.ts";
import type { Services } from "../src/types.ts";

/** Every `service` or `service.method` that a `call` step of `workflow` (nested ones included) names and `services` lacks. */
export function missingServices(workflow: WorkflowDefinition, services: Services): string[] {
  const missing = new Set<string>();
  const visit = (steps: readonly StepDefinition[]) => {
    for (const step of steps) {
      if (step.type === "call") {
        const name = String(step.service);
        const method = typeof step.method === "string" ? step.method : undefined;
        const service = Object.hasOwn(services, name) ? services[name] : undefined;
        if (service === undefined) missing.add(method ? `${name}.${method}` : name);
        else if (
          method &&
          !(service && typeof service === "object" && Object.hasOwn(service, method) &&
            typeof (service as Record<string, unknown>)[method] === "function")
        ) {
          missing.add(`${name}.${method}`);
        }
      }
      for (const body of defaultStepRegistry.get(step.type)?.bodies?.(step as never) ?? []) visit(body.steps);
    }
  };
  visit(workflow.steps);
  return [...missing];
}
