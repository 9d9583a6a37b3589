import { loadWorkflow, type WorkflowDefinition } from "../../mod.ts";

/** start → `calls` call steps of the service `work` (s0, s1, … with outputs r0, r1, …) → end: calls + 2 steps. */
export function linearWorkflow(calls: number): WorkflowDefinition {
  const steps = Array.from({ length: calls }, (_, i) => `
  - id: s${i}
    type: call
    service: work
    input: { i: ${i} }
    output: r${i}
    next: ${i + 1 < calls ? `s${i + 1}` : "finish"}`).join("");
  return loadWorkflow(`
id: linear_${calls}
name: Linear, ${calls} calls
steps:
  - id: start
    type: start
    next: s0
${steps}
  - id: finish
    type: end
    result: { last: $r${calls - 1} }
`);
}

/** start → a loop whose body calls `work` once per item of `$input.items` → end. */
export function loopWorkflow(iterations: number): WorkflowDefinition {
  return loadWorkflow(`
id: loop_${iterations}
name: Loop of ${iterations}
steps:
  - id: start
    type: start
    next: each
  - id: each
    type: loop
    over: $input.items
    max: ${iterations}
    output: results
    do:
      - id: work
        type: call
        service: work
        input: $item
    next: finish
  - id: finish
    type: end
    result: { count: $input.count }
`);
}

/** start → call `work` with { n: 1 } (output a) → call `work` with { n: 2 } (output b) → end with { a, b }. */
export const twoCalls = loadWorkflow(`
id: two_calls
name: Two calls
steps:
  - id: start
    type: start
    next: first
  - id: first
    type: call
    service: work
    input: { n: 1 }
    output: a
    next: second
  - id: second
    type: call
    service: work
    input: { n: 2 }
    output: b
    next: finish
  - id: finish
    type: end
    result: { a: $a, b: $b }
`);
