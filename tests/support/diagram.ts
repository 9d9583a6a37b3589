import { exampleSources } from "../../examples/index.ts";
import { loadWorkflow } from "../../src/definition/load.ts";
import type { StepDefinition } from "../../src/steps/step.ts";

/** Example workflows the diagram tests draw: with approvals and on_error, with a loop, with parallel branches. */
export const order = loadWorkflow(exampleSources.order_fulfillment);
export const batch = loadWorkflow(exampleSources.batch_pricing);
export const fanOut = loadWorkflow(exampleSources.customer_profile);
/** start → one POST http step → end. */
export const httpCall = loadWorkflow(`
id: h
name: H
steps:
  - id: start
    type: start
    next: fetch
  - id: fetch
    type: http
    method: POST
    url: https://api.example.com/orders
    next: finish
  - id: finish
    type: end
`);

/** Every step id of a definition, nested ones included. */
export const allIds = (steps: readonly StepDefinition[]): string[] =>
  steps.flatMap((s) => [s.id, ...allIds([...((s.do ?? s.branches ?? []) as StepDefinition[])])]);
