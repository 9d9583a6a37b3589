import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { loadWorkflow, validateWorkflow } from "../../../src/definition/load.ts";
import type { ValidationIssue } from "../../../src/errors.ts";
import { StepRegistry } from "../../../src/steps/registry.ts";
import { proceed } from "../../../src/steps/step.ts";

/** A workflow around the given steps (YAML, indented as list items of `steps`). */
function wf(steps: string, head = ""): string {
  return `id: rules\nname: Rules\n${head}steps:\n${steps}`;
}

function issuesOf(source: string | object, registry?: StepRegistry): ValidationIssue[] {
  return validateWorkflow(source, registry ? { registry } : undefined).issues;
}

function only(source: string | object): { path: string; message: string } {
  const issues = issuesOf(source);
  expect(issues).toHaveLength(1);
  return { path: issues[0]!.path, message: issues[0]!.message };
}

function valid(source: string | object, registry?: StepRegistry): void {
  expect(issuesOf(source, registry)).toEqual([]);
}

describe("rule 1: unique step ids", () => {
  test("two top-level steps with one id are an issue at the second", () => {
    expect(only(wf(`
  - id: a
    type: start
    next: b
  - id: a
    type: end
  - id: b
    type: end
`))).toEqual({ path: "steps[1].id", message: 'duplicate step id "a" (already used by steps[0])' });
  });

  test("a nested step reusing a top-level id is an issue", () => {
    expect(only(wf(`
  - id: each
    type: loop
    over: [1]
    do:
      - id: each
        type: assign
        set: { v: 1 }
`))).toEqual({ path: "steps[0].do[0].id", message: 'duplicate step id "each" (already used by steps[0])' });
  });

  test("distinct ids across nested steps are fine", () => {
    valid(wf(`
  - id: each
    type: loop
    over: [1]
    do:
      - id: inner
        type: assign
        set: { v: 1 }
`));
  });

  test("__FINISHED__ cannot be a step id", () => {
    expect(only(wf("  - id: __FINISHED__\n    type: end\n")).message).toContain("reserved");
  });
});

describe("rule 2: registered step types", () => {
  test("an unknown top-level step type is an issue listing the known types", () => {
    expect(only(wf("  - id: a\n    type: teleport\n"))).toEqual({
      path: "steps[0].type",
      message:
        'unknown step type "teleport" (known: start, end, call, assign, router, loop, parallel, transform, halt, approval, workflow, wait, http, wait_for_event)',
    });
  });

  test("an unknown nested step type is an issue", () => {
    expect(
      only(wf(`
  - id: p
    type: parallel
    branches:
      - id: b
        type: teleport
`)).path,
    ).toBe("steps[0].branches[0].type");
  });

  test("a user-registered type is known to its registry, nested too", () => {
    const registry = new StepRegistry();
    registry.register("notify", { schema: z.object({ channel: z.string() }), execute: () => proceed() });
    valid(
      wf(`
  - id: each
    type: loop
    over: [1]
    do:
      - id: ping
        type: notify
        channel: ops
`),
      registry,
    );
  });

  test("a nested step is checked with its own type's schema", () => {
    expect(
      issuesOf(wf(`
  - id: each
    type: loop
    over: [1]
    do:
      - id: pay
        type: call
        servise: x
`)).map((i) => i.path),
    ).toEqual(["steps[0].do[0].service", "steps[0].do[0].servise"]);
  });
});

describe("rule 3: targets exist", () => {
  test("next naming no step is an issue", () => {
    expect(only(wf("  - id: a\n    type: start\n    next: nowhere\n"))).toEqual({
      path: "steps[0].next",
      message: 'unknown target "nowhere": no step has this id',
    });
  });

  test("on_error naming no step is an issue", () => {
    expect(only(wf("  - id: a\n    type: call\n    service: S\n    on_error: oops\n")).path).toBe("steps[0].on_error");
  });

  test("router then and default naming no step are issues", () => {
    const issues = issuesOf(wf(`
  - id: r
    type: router
    routes:
      - when: { field: input.x }
        then: yes_step
    default: no_step
`));
    expect(issues.map((i) => i.path)).toEqual(["steps[0].routes[0].then", "steps[0].default"]);
  });

  test("loop on_exhausted, halt resume_step, approval on_reject and on_timeout naming no step are issues", () => {
    const issues = issuesOf(wf(`
  - id: l
    type: loop
    while: { field: input.go }
    do:
      - id: body
        type: assign
        set: { v: 1 }
    on_exhausted: gone1
    next: h
  - id: h
    type: halt
    resume_step: gone2
    next: a
  - id: a
    type: approval
    prompt: ok?
    on_reject: gone3
    on_timeout: gone4
`));
    expect(issues.map((i) => i.path)).toEqual([
      "steps[0].on_exhausted",
      "steps[1].resume_step",
      "steps[2].on_reject",
      "steps[2].on_timeout",
    ]);
  });

  test("__FINISHED__ is always a valid target", () => {
    valid(wf(`
  - id: r
    type: router
    routes:
      - when: { field: input.x }
        then: __FINISHED__
    default: __FINISHED__
    on_error: __FINISHED__
`));
  });

  test("a top-level target naming a nested step is an issue", () => {
    expect(only(wf(`
  - id: each
    type: loop
    over: [1]
    next: after
    do:
      - id: inner
        type: assign
        set: { v: 1 }
  - id: after
    type: assign
    set: { w: 1 }
    next: inner
`))).toEqual({
        path: "steps[1].next",
        message:
          'target "inner" is a step inside the body of loop "each"; a top-level step can only go to a top-level step or __FINISHED__',
      });
  });

  test("inside a loop body a target may name a later step of the same body or __FINISHED__", () => {
    valid(wf(`
  - id: each
    type: loop
    over: [1, 2]
    do:
      - id: check
        type: router
        routes:
          - when: { field: item, op: eq, value: 1 }
            then: second
        default: __FINISHED__
      - id: first
        type: assign
        set: { v: 1 }
      - id: second
        type: assign
        set: { w: 2 }
`));
  });

  test("inside a loop body a target naming an earlier step is an issue", () => {
    const issue = only(wf(`
  - id: each
    type: loop
    over: [1]
    do:
      - id: first
        type: assign
        set: { v: 1 }
      - id: again
        type: assign
        set: { w: 1 }
        next: first
`));
    expect(issue.path).toBe("steps[0].do[1].next");
    expect(issue.message).toBe(
      'target "first" does not come after this step in the body of loop "each": inside a loop body a target may only name a later step of the same body or __FINISHED__ (body steps run in listed order)',
    );
  });

  test("inside a loop body a target naming a top-level step is an issue", () => {
    const issue = only(wf(`
  - id: each
    type: loop
    over: [1]
    next: after
    do:
      - id: body
        type: assign
        set: { v: 1 }
        next: after
  - id: after
    type: end
`));
    expect(issue.path).toBe("steps[0].do[0].next");
    expect(issue.message).toStartWith('target "after" is not a step of the body of loop "each"');
  });

  test("a parallel branch step with next or on_error is an issue", () => {
    const issues = issuesOf(wf(`
  - id: fan
    type: parallel
    branches:
      - id: a
        type: assign
        set: { v: 1 }
        next: b
      - id: b
        type: call
        service: S
        on_error: __FINISHED__
`));
    expect(issues.map((i) => i.path)).toEqual(["steps[0].branches[0].next", "steps[0].branches[1].on_error"]);
    expect(issues[0]!.message).toBe(
      'step "a" is a branch of parallel step "fan": a branch is a single step and cannot have "next" (for a sequence use a loop or a workflow step)',
    );
  });

  test("a parallel branch step targeting anything but __FINISHED__ is an issue", () => {
    expect(only(wf(`
  - id: fan
    type: parallel
    branches:
      - id: r
        type: router
        default: elsewhere
      - id: elsewhere
        type: assign
        set: { v: 1 }
`))).toEqual({
        path: "steps[0].branches[0].default",
        message: 'inside a parallel branch a target can only be __FINISHED__, got "elsewhere"',
      });
  });
});

describe("rule 4: every step is reachable", () => {
  test("a top-level step no target leads to is an issue", () => {
    expect(only(wf(`
  - id: start
    type: start
    next: done
  - id: orphan
    type: assign
    set: { v: 1 }
    next: done
  - id: done
    type: end
`))).toEqual({ path: "steps[1]", message: 'step "orphan" is unreachable: no path leads to it from the first step ("start")' });
  });

  test("top-level steps do not fall through: a step without next ends the run", () => {
    expect(only(wf("  - id: start\n    type: start\n  - id: never\n    type: end\n")).message).toContain('step "never" is unreachable');
  });

  test("steps reached through router routes, on_error, approval and loop targets are reachable", () => {
    valid(wf(`
  - id: start
    type: start
    next: route
  - id: route
    type: router
    routes:
      - when: { field: input.kind, value: a }
        then: ask
    default: pay
  - id: pay
    type: call
    service: S
    on_error: failed
    next: retry
  - id: retry
    type: loop
    while: { field: iteration, op: lt, value: 3 }
    do:
      - id: tick
        type: assign
        set: { t: 1 }
    on_exhausted: failed
    next: ask
  - id: ask
    type: approval
    prompt: go?
    on_reject: rejected
    on_timeout: failed
    next: done
  - id: done
    type: end
  - id: rejected
    type: end
  - id: failed
    type: end
`));
  });

  test("a body step skipped by every path of the body is an issue", () => {
    expect(only(wf(`
  - id: each
    type: loop
    over: [1]
    do:
      - id: first
        type: assign
        set: { v: 1 }
        next: third
      - id: second
        type: assign
        set: { w: 1 }
      - id: third
        type: assign
        set: { x: 1 }
`))).toEqual({
        path: "steps[0].do[1]",
        message: 'step "second" is unreachable: no path leads to it from the first step of the body of loop "each" ("first")',
      });
  });

  test("body steps without next fall through in listed order", () => {
    valid(wf(`
  - id: each
    type: loop
    over: [1]
    do:
      - id: first
        type: assign
        set: { v: 1 }
      - id: second
        type: assign
        set: { w: $v }
`));
  });
});

describe("rule 5: references are set on every path", () => {
  test("a reference to a variable set by an earlier step is fine", () => {
    valid(wf(`
  - id: pay
    type: call
    service: Payments
    output: payment
    next: charge
  - id: charge
    type: call
    service: Payments
    input: { id: $payment.id, note: "paid $payment.amount" }
`));
  });

  test("a reference set on only one path is an issue naming the step, the reference and the root", () => {
    const issue = only(wf(`
  - id: route
    type: router
    routes:
      - when: { field: input.card }
        then: pay
    default: charge
  - id: pay
    type: call
    service: Payments
    output: payment
    next: charge
  - id: charge
    type: call
    service: Payments
    input: { id: $payment.id }
`));
    expect(issue).toEqual({
      path: "steps[2].input",
      message: 'step "charge" references "$payment.id" but "payment" is not set on every path to it',
    });
  });

  test("a reference no step ever sets is an issue", () => {
    expect(only(wf("  - id: done\n    type: end\n    result: $ghost\n")).message).toBe(
      'step "done" references "$ghost" but no step sets "ghost"',
    );
  });

  test("the on_error path does not carry the failing step's outputs", () => {
    expect(only(wf(`
  - id: pay
    type: call
    service: Payments
    output: paid
    on_error: recover
    next: done
  - id: recover
    type: end
    result: { error: $_last_error, paid: $paid }
  - id: done
    type: end
    result: $paid
`))).toEqual({ path: "steps[1].result", message: 'step "recover" references "$paid" but "paid" is not set on every path to it' });
  });

  test("input, now, response, approved and _last_error are always available", () => {
    valid(wf("  - id: done\n    type: end\n    result: [$input.anything, $now, $response.x, $approved, $_last_error.message]\n"));
  });

  test("with declared inputs, $input.<name> must name one of them", () => {
    expect(
      only(
        wf(
          "  - id: done\n    type: end\n    result: [$input.order_id, $input.ordr_id, $input]\n",
          "inputs:\n  order_id: { type: string }\n",
        ),
      ),
    )
      .toEqual({
        path: "steps[0].result",
        message: 'step "done" references "$input.ordr_id" but the workflow declares no input "ordr_id" (declared: order_id)',
      });
  });

  test("a condition field is a path without $ and its root is checked too", () => {
    expect(
      only(wf(`
  - id: route
    type: router
    routes:
      - when: { field: status.code, op: eq, value: 1 }
        then: __FINISHED__
`)).message,
    ).toBe('step "route" reads "status.code" but no step sets "status"');
  });

  test("a condition value reference is checked", () => {
    expect(
      only(wf(`
  - id: route
    type: router
    routes:
      - when: { field: input.n, op: gt, value: $limit }
        then: __FINISHED__
`)).message,
    ).toBe('step "route" references "$limit" but no step sets "limit"');
  });

  test("a transform input path is checked", () => {
    expect(only(wf("  - id: t\n    type: transform\n    input: orders.items\n    expression: { count: null }\n    output: n\n")).path).toBe(
      "steps[0].input",
    );
  });

  test("an assign value may reference a key set earlier in the same step, not a later one", () => {
    expect(only(wf("  - id: a\n    type: assign\n    set: { total: 1, doubled: $total, early: $later, later: 2 }\n")).message)
      .toBe('step "a" references "$later" but "later" is not set on every path to it');
  });

  test("inside a loop body the loop variables and earlier body outputs are available", () => {
    valid(wf(`
  - id: each
    type: loop
    over: [1, 2]
    as: order
    index_as: i
    do:
      - id: price
        type: call
        service: Prices
        input: { order: $order, position: $i }
        output: quote
      - id: keep
        type: assign
        set: { last_quote: $quote }
    next: spin
  - id: spin
    type: loop
    while: { field: iteration, op: lt, value: 3 }
    do:
      - id: count
        type: assign
        set: { n: $iteration }
`));
  });

  test("a body step cannot reference the output of a later body step", () => {
    expect(
      only(wf(`
  - id: each
    type: loop
    over: [1]
    do:
      - id: early
        type: assign
        set: { a: $b }
      - id: late
        type: assign
        set: { b: 1 }
`)).message,
    ).toBe('step "early" references "$b" but "b" is not set on every path to it');
  });

  test("loop variables are not available after the loop, but body outputs and the loop output are", () => {
    expect(
      only(wf(`
  - id: each
    type: loop
    over: [1]
    output: all
    next: after
    do:
      - id: body
        type: assign
        set: { seen: $item }
  - id: after
    type: end
    result: { all: $all, seen: $seen, item: $item }
`)).message,
    ).toBe('step "after" references "$item" but "item" is not set on every path to it');
  });

  test("parallel branches see what is set before the parallel step, and their outputs are set after it", () => {
    valid(wf(`
  - id: setup
    type: assign
    set: { user: 1 }
    next: fan
  - id: fan
    type: parallel
    output: results
    branches:
      - id: profile
        type: call
        service: Profiles
        input: $user
        output: profile
      - id: orders
        type: call
        service: Orders
        input: $user
        output: orders
    next: done
  - id: done
    type: end
    result: { results: $results, profile: $profile, orders: $orders }
`));
  });

  test("a parallel branch cannot reference another branch's output", () => {
    expect(
      only(wf(`
  - id: fan
    type: parallel
    branches:
      - id: one
        type: call
        service: S
        output: first
      - id: two
        type: call
        service: S
        input: $first
`)).message,
    ).toBe('step "two" references "$first" but "first" is not set on every path to it');
  });

  test("a loop's while condition may read iteration", () => {
    valid(wf(`
  - id: spin
    type: loop
    while: { field: iteration, op: lte, value: 3 }
    do:
      - id: tick
        type: assign
        set: { t: $iteration }
`));
  });

  test("a variable set on every path around a cycle is available", () => {
    valid(wf(`
  - id: init
    type: assign
    set: { n: 0 }
    next: check
  - id: check
    type: router
    routes:
      - when: { field: n, op: lt, value: 3 }
        then: bump
    default: done
  - id: bump
    type: assign
    set: { n: 1, last: $n }
    next: check
  - id: done
    type: end
    result: $n
`));
  });

  test("custom step types without references are not checked", () => {
    const registry = new StepRegistry();
    registry.register("notify", { schema: z.object({ text: z.string() }), execute: () => proceed() });
    valid(wf("  - id: ping\n    type: notify\n    text: $nobody_sets_this\n"), registry);
  });
});

describe("rule 6: halt and approval only at the top level", () => {
  test("a halt step inside a loop body is an issue", () => {
    expect(only(wf(`
  - id: each
    type: loop
    over: [1]
    do:
      - id: wait
        type: halt
`))).toEqual({
        path: "steps[0].do[0].type",
        message: 'a "halt" step is not allowed in the body of loop "each": it could not be resumed there (put it at the top level)',
      });
  });

  test("an approval step inside a parallel branch is an issue", () => {
    expect(
      only(wf(`
  - id: fan
    type: parallel
    branches:
      - id: ask
        type: approval
        prompt: ok?
`)).message,
    ).toBe('a "approval" step is not allowed in a branch of parallel step "fan": it could not be resumed there (put it at the top level)');
  });

  test("a workflow step is allowed inside a loop body", () => {
    valid(wf(`
  - id: each
    type: loop
    over: [1]
    do:
      - id: child
        type: workflow
        workflow_id: other
`));
  });
});

describe("rule 7: loops and patterns", () => {
  test("a loop with neither over nor while is an issue", () => {
    expect(only(wf("  - id: l\n    type: loop\n    do:\n      - id: b\n        type: assign\n        set: { v: 1 }\n")))
      .toEqual({ path: "steps[0].over", message: "a loop needs exactly one of `over` and `while`" });
  });

  test("a loop with both over and while is an issue", () => {
    expect(
      only(
        wf(
          "  - id: l\n    type: loop\n    over: [1]\n    while: { field: iteration, op: lt, value: 2 }\n    do:\n      - id: b\n        type: assign\n        set: { v: 1 }\n",
        ),
      ).path,
    )
      .toBe("steps[0].over");
  });

  test("a router matches pattern that does not compile is an issue", () => {
    const issue = only(wf(`
  - id: r
    type: router
    routes:
      - when: { field: input.email, op: matches, value: "([a-z]+" }
        then: __FINISHED__
`));
    expect(issue.path).toBe("steps[0].routes[0].when.value");
    expect(issue.message).toStartWith('invalid regular expression "([a-z]+": ');
  });

  test("a matches pattern that can backtrack exponentially is an issue", () => {
    const issue = only(wf(`
  - id: r
    type: router
    routes:
      - when: { field: input.s, op: matches, value: "^(a+)+$" }
        then: __FINISHED__
`));
    expect(issue.path).toBe("steps[0].routes[0].when.value");
    expect(issue.message).toStartWith('unsafe regular expression "^(a+)+$": a repeated group');
  });

  test("a matches pattern longer than 256 characters is an issue", () => {
    expect(
      only(wf(`
  - id: r
    type: router
    routes:
      - when: { field: input.s, op: matches, value: "${"a".repeat(257)}" }
        then: __FINISHED__
`)).message,
    ).toBe("the pattern is 257 characters long; at most 256 are allowed");
  });

  test("a loop while matches pattern is checked too", () => {
    expect(
      only(
        wf(
          "  - id: l\n    type: loop\n    while: { field: input.s, op: matches, value: '*' }\n    do:\n      - id: b\n        type: assign\n        set: { v: 1 }\n",
        ),
      ).path,
    )
      .toBe("steps[0].while.value");
  });

  test("a valid matches pattern of 256 characters and a pattern from a reference are fine", () => {
    valid(wf(`
  - id: r
    type: router
    routes:
      - when: { field: input.s, op: matches, value: "^${"a".repeat(254)}$" }
        then: __FINISHED__
      - when: { field: input.s, op: matches, value: $input.pattern }
        then: __FINISHED__
`));
  });
});

describe("all rules together", () => {
  test("problems of different rules are reported together", () => {
    const issues = issuesOf(wf(`
  - id: start
    type: start
    next: missing
  - id: each
    type: loop
    over: [1]
    do:
      - id: wait
        type: halt
  - id: start
    type: end
`));
    expect(issues.map((i) => i.path)).toEqual(["steps[1].do[0].type", "steps[2].id", "steps[0].next"]);
  });

  test("a real-looking workflow passes every rule", () => {
    const workflow = loadWorkflow(wf(
      `
  - id: start
    type: start
    next: validate
  - id: validate
    type: call
    service: OrderService
    method: validate_order
    input: { order_id: "$input.order_id" }
    output: validation
    on_error: failed
    next: check
  - id: check
    type: router
    routes:
      - when: { field: validation.total, op: gt, value: 1000 }
        then: approve
    default: charge
  - id: approve
    type: approval
    prompt: "Approve order $input.order_id for $validation.total?"
    on_reject: failed
    next: charge
  - id: charge
    type: call
    service: Payments
    input: { amount: $validation.total }
    output: payment
    next: done
  - id: done
    type: end
    result: { payment: $payment }
  - id: failed
    type: end
    result: { error: $_last_error }
`,
      "inputs:\n  order_id: { type: string }\n",
    ));
    expect(workflow.steps).toHaveLength(7);
  });
});

describe("one pass", () => {
  test("a step that fails its schema still has its references checked, in the same report", () => {
    const issues = issuesOf(wf(`
  - id: ask
    type: approval
    promt: Approve?
    context: { who: $nobody }
    next: done
  - id: done
    type: end
`));
    expect(issues.map((i) => i.path)).toEqual(["steps[0].prompt", "steps[0].promt", "steps[0].context"]);
    expect(issues[2]!.message).toBe('step "ask" references "$nobody" but no step sets "nobody"');
  });

  test("a step whose targets cannot be read does not make the steps after it unreachable", () => {
    const issues = issuesOf(wf(`
  - id: pick
    type: router
    routes: { then: later }
  - id: later
    type: end
`));
    expect(issues.map((i) => i.path)).toEqual(["steps[0].routes"]);
  });

  test("references are not checked while a step type is unknown: it could set any variable", () => {
    const issues = issuesOf(wf(`
  - id: slug
    type: slugify
    output: handle
    next: done
  - id: done
    type: end
    result: $handle
`));
    expect(issues.map((i) => i.path)).toEqual(["steps[0].type"]);
  });
});
