import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { loadWorkflow, validateWorkflow } from "../../../src/definition/load.ts";
import { ValidationError, type ValidationIssue } from "../../../src/errors.ts";
import { StepRegistry } from "../../../src/steps/registry.ts";
import { proceed } from "../../../src/steps/step.ts";

const ORDER = `id: order_fulfillment
name: Order fulfillment
description: Checks and charges an order
timeout: 300
inputs:
  order_id: { type: string, required: true, description: "the order" }
  options: { type: object, required: false, default: {} }
steps:
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
      - when: { field: validation.ok, op: truthy }
        then: done
    default: failed
  - id: done
    type: end
    result: { order: $input.order_id, validation: $validation }
  - id: failed
    type: end
`;

/** The same workflow written for the original gem: aliases, numbers, metadata. */
const GEM_STYLE = `id: gem_style
name: Gem style
version: 2
x-owner: team-a
steps:
  - id: start
    type: start
    next_step: charge
    x-note: first step
  - id: charge
    type: call
    service: Payments
    method_name: charge
    retry_delay: 1
    timeout: 30
    next_step: finish
  - id: finish
    type: end
`;

function issuesOf(source: string | object): ValidationIssue[] {
  return validateWorkflow(source).issues;
}

function errorOf(source: string | object, options?: { registry?: StepRegistry }): ValidationError {
  try {
    loadWorkflow(source, options);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error("expected a ValidationError");
}

function minimal(extra = ""): string {
  return `id: wf\nname: W\n${extra}steps:\n  - id: start\n    type: start\n`;
}

describe("loading", () => {
  test("YAML text loads into the normalised definition with step defaults applied", () => {
    const workflow = loadWorkflow(ORDER);
    expect(workflow.id).toBe("order_fulfillment");
    expect(workflow.name).toBe("Order fulfillment");
    expect(workflow.version).toBe("1.0");
    expect(workflow.timeout).toBe(300);
    expect(workflow.description).toBe("Checks and charges an order");
    expect(workflow.inputs).toEqual({
      order_id: { type: "string", required: true, description: "the order" },
      options: { type: "object", required: false, default: {} },
    });
    expect(workflow.steps.map((s) => s.id)).toEqual(["start", "validate", "check", "done", "failed"]);
    expect(workflow.steps[1]).toMatchObject({ retries: 0, retry_delay: 1, retry_backoff: 2 });
    expect(workflow.steps[2]).toMatchObject({ routes: [{ when: { field: "validation.ok", op: "truthy" }, then: "done" }] });
    expect(workflow.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  test("JSON text and a plain object load to the same definition as YAML", () => {
    const fromYaml = loadWorkflow(ORDER);
    const plain = JSON.parse(JSON.stringify(fromYaml));
    delete plain.hash;
    const fromObject = loadWorkflow(plain);
    const fromJson = loadWorkflow(JSON.stringify(plain));
    expect(fromObject).toEqual(fromYaml);
    expect(fromJson).toEqual(fromYaml);
    expect(fromJson.hash).toBe(fromYaml.hash);
  });

  test("the loaded definition is deeply frozen", () => {
    const workflow = loadWorkflow(ORDER);
    expect(Object.isFrozen(workflow)).toBe(true);
    expect(Object.isFrozen(workflow.steps)).toBe(true);
    expect(Object.isFrozen(workflow.steps[1])).toBe(true);
    expect(Object.isFrozen((workflow.steps[1] as unknown as { input: object }).input)).toBe(true);
    expect(Object.isFrozen(workflow.inputs!.options)).toBe(true);
  });

  test("loading an object never keeps a reference to the caller's data", () => {
    const list = [1];
    const source = {
      id: "wf",
      name: "W",
      steps: [{ id: "start", type: "start", next: "a" }, { id: "a", type: "assign", set: { v: list } }],
    };
    const workflow = loadWorkflow(source);
    list.push(2);
    expect((workflow.steps[1] as unknown as { set: { v: number[] } }).set.v).toEqual([1]);
  });

  test("a workflow without inputs has inputs null", () => {
    expect(loadWorkflow(minimal()).inputs).toBeNull();
  });

  test("an input with an empty spec is required with no type", () => {
    expect(loadWorkflow(minimal("inputs:\n  order_id:\n")).inputs).toEqual({ order_id: { required: true } });
  });

  test("a default that does not match the declared type is an issue", () => {
    expect(issuesOf(minimal("inputs:\n  n: { type: integer, default: 1.5 }\n"))).toEqual([
      expect.objectContaining({ path: "inputs.n.default", message: 'the default of input "n" must be of type integer, got number' }),
    ]);
  });
});

describe("version", () => {
  test("an unquoted YAML 1.0 keeps its source text", () => {
    expect(loadWorkflow(minimal("version: 1.0\n")).version).toBe("1.0");
  });

  test('an unquoted YAML 2 is "2" and 1.10 stays "1.10"', () => {
    expect(loadWorkflow(minimal("version: 2\n")).version).toBe("2");
    expect(loadWorkflow(minimal("version: 1.10\n")).version).toBe("1.10");
  });

  test("a JSON number keeps its source text too", () => {
    expect(loadWorkflow('{"id":"wf","name":"W","version":1.0,"steps":[{"id":"start","type":"start"}]}').version).toBe("1.0");
  });

  test("a number in an object source becomes String(n)", () => {
    expect(loadWorkflow({ id: "wf", name: "W", version: 1, steps: [{ id: "s", type: "start" }] }).version).toBe("1");
    expect(loadWorkflow({ id: "wf", name: "W", version: 1.5, steps: [{ id: "s", type: "start" }] }).version).toBe("1.5");
  });

  test('a missing version defaults to "1.0"', () => {
    expect(loadWorkflow(minimal()).version).toBe("1.0");
  });
});

describe("strict keys, x- metadata and aliases", () => {
  test("an unknown top-level key is an issue naming the key", () => {
    expect(issuesOf(minimal("owner: me\n"))).toEqual([
      expect.objectContaining({ path: "owner", message: expect.stringContaining('unknown key "owner" at the top level') }),
    ]);
  });

  test("an unknown step key is an issue naming the key and the step", () => {
    const issues = issuesOf(minimal().replace("type: start", "type: start\n    sevice: x"));
    expect(issues).toEqual([
      expect.objectContaining({
        path: "steps[0].sevice",
        message: expect.stringContaining('unknown key "sevice" in step "start" (start)'),
      }),
    ]);
  });

  test("an unknown key in a route entry is an issue with its path", () => {
    const source = `id: wf
name: W
steps:
  - id: r
    type: router
    routes:
      - when: { field: input.a }
        then: __FINISHED__
        else: x
`;
    expect(issuesOf(source)).toEqual([
      expect.objectContaining({ path: "steps[0].routes[0].else", message: expect.stringContaining("allowed: when, then") }),
    ]);
  });

  test("x- keys are accepted and removed at the top level, in inputs, steps, nested steps and route entries", () => {
    const source = `id: wf
name: W
x-owner: team
inputs:
  a: { type: string, x-ui: textbox }
steps:
  - id: start
    type: start
    next: each
    x-note: hi
  - id: each
    type: loop
    over: [1, 2]
    do:
      - id: body
        type: router
        x-note: nested
        routes:
          - when: { field: item, x-why: because }
            then: __FINISHED__
            x-comment: route metadata
`;
    const workflow = loadWorkflow(source);
    const text = JSON.stringify(workflow);
    expect(text).not.toContain("x-");
    expect(workflow.inputs).toEqual({ a: { type: "string", required: true } });
  });

  test("an x- key inside free data (assign set) is kept as data", () => {
    const workflow = loadWorkflow(
      minimal().replace("type: start", "type: start\n    next: a") + "  - id: a\n    type: assign\n    set: { x-total: 1 }\n",
    );
    expect((workflow.steps[1] as unknown as { set: object }).set).toEqual({ "x-total": 1 });
  });

  test("next_step and method_name are read as next and method, and numbers are accepted where the gem had them", () => {
    const workflow = loadWorkflow(GEM_STYLE);
    expect(workflow.version).toBe("2");
    expect(workflow.steps[0]).toEqual({ id: "start", type: "start", next: "charge" });
    expect(workflow.steps[1]).toMatchObject({ method: "charge", next: "finish", retry_delay: 1, timeout: 30 });
    expect(JSON.stringify(workflow)).not.toContain("next_step");
  });

  test("an alias and its canonical key together are an issue", () => {
    const issues = issuesOf(GEM_STYLE.replace("method_name: charge", "method_name: charge\n    method: refund"));
    expect(issues).toEqual([
      expect.objectContaining({ path: "steps[1].method_name", message: '"method_name" is an alias of "method": give only one of them' }),
    ]);
  });
});

describe("issues", () => {
  test("all problems are collected in one ValidationError", () => {
    const source = `id: bad id
steps:
  - id: start
    type: start
    next: nowhere
  - id: start
    type: teleport
  - id: pay
    type: call
    retries: many
`;
    const error = errorOf(source);
    const paths = error.issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining(["id", "name", "steps[1].type", "steps[2].service", "steps[2].retries", "steps[1].id", "steps[0].next"]),
    );
    expect(error.message).toStartWith('Invalid workflow "bad id" (');
    expect(error.message).toContain("steps[2].retries: expected a number, got a string");
  });

  test("an issue in YAML text carries the line and column of its node", () => {
    const source = ORDER.replace("output: validation", "output: validation\n    retries: -1");
    const [issue] = issuesOf(source);
    expect(issue).toEqual({ path: "steps[1].retries", message: "must be at least 0, got an integer (-1)", line: 18, column: 14 });
  });

  test("a value of the wrong form names the accepted forms", () => {
    expect(issuesOf(minimal("version: true\n"))).toEqual([
      expect.objectContaining({ path: "version", message: "expected a string or a number, got a boolean (true)" }),
    ]);
  });

  test("an unknown key points at the key itself", () => {
    const [issue] = issuesOf(minimal("colour: red\n"));
    expect(issue).toMatchObject({ path: "colour", line: 3, column: 1 });
  });

  test("a missing key points at the mapping that lacks it", () => {
    const [issue] = issuesOf("id: wf\nname: W\nsteps:\n  - id: pay\n    type: call\n");
    expect(issue).toMatchObject({ path: "steps[0].service", line: 4, column: 5 });
  });

  test("an object source gives issues without positions", () => {
    const [issue] = issuesOf({ id: "wf", name: "W", steps: [{ id: "s", type: "start", colour: 1 }] });
    expect(issue).toEqual({ path: "steps[0].colour", message: expect.stringContaining('unknown key "colour"') });
  });

  test("malformed YAML is an issue with line and column and no stack trace", () => {
    const error = errorOf("id: wf\nname: W\nsteps: [1,\n  - id: x\n");
    expect(error.issues.length).toBeGreaterThan(0);
    for (const issue of error.issues) {
      expect(issue.message).toStartWith("YAML syntax error: ");
      expect(issue.message).not.toMatch(/\n\s+at /);
      expect(issue.line).toBeGreaterThanOrEqual(3);
      expect(issue.column).toBeGreaterThanOrEqual(1);
    }
  });

  test("a duplicate YAML key is an issue with its position", () => {
    expect(issuesOf("id: wf\nname: W\nname: V\nsteps: []\n")[0]).toMatchObject({
      message: expect.stringContaining("unique"),
      line: 3,
      column: 1,
    });
  });

  test("a YAML document with two documents is an issue", () => {
    expect(issuesOf(`${minimal()}---\n${minimal()}`)[0]!.message).toContain("multiple documents");
  });

  test("an empty document is an issue", () => {
    expect(issuesOf("")).toEqual([{ path: "", message: "the document is empty" }]);
  });

  test("a source that is neither text nor a mapping is an issue", () => {
    expect(issuesOf([1, 2] as unknown as object)[0]!.message).toContain("got a list");
    expect(issuesOf(42 as unknown as object)[0]!.message).toContain("got a number");
    expect(issuesOf("- a\n- b\n")[0]!.message).toContain("must be a mapping");
  });

  test("steps that is not a list is an issue", () => {
    expect(issuesOf("id: wf\nname: W\nsteps: { start: { type: start } }\n")).toEqual([
      expect.objectContaining({ path: "steps", message: "expected a list, got a mapping", line: 3, column: 8 }),
    ]);
  });

  test("an empty steps list is an issue", () => {
    expect(issuesOf("id: wf\nname: W\nsteps: []\n")).toEqual([
      expect.objectContaining({ path: "steps", message: "must not be an empty list" }),
    ]);
  });

  test("a step that is not a mapping is an issue and the other steps are still checked", () => {
    const issues = issuesOf("id: wf\nname: W\nsteps:\n  - just a string\n  - id: s\n    type: start\n    colour: red\n");
    expect(issues.map((i) => i.path)).toEqual(["steps[0]", "steps[1].colour"]);
  });

  test("a step without a type is an issue listing the known types", () => {
    expect(issuesOf("id: wf\nname: W\nsteps:\n  - id: s\n")[0]!.message).toContain("start, end, call");
  });

  test("a never-thrown internal error still comes out as an issue", () => {
    const hostile = {
      id: "wf",
      name: "W",
      get steps(): never {
        throw new Error("boom");
      },
    };
    expect(validateWorkflow(hostile)).toEqual({ valid: false, issues: [{ path: "", message: "the definition could not be read: boom" }] });
  });

  test("validateWorkflow reports valid for a good definition", () => {
    expect(validateWorkflow(ORDER)).toEqual({ valid: true, issues: [] });
  });
});

describe("plain JSON only", () => {
  test("YAML dates stay strings", () => {
    const workflow = loadWorkflow(
      minimal().replace("type: start", "type: start\n    next: a") + "  - id: a\n    type: assign\n    set: { day: 2024-01-31 }\n",
    );
    expect((workflow.steps[1] as unknown as { set: object }).set).toEqual({ day: "2024-01-31" });
  });

  test("a !!binary tag is an issue", () => {
    const [issue] = issuesOf(minimal().replace("type: start", "type: start\n    x-blob: !!binary aGVsbG8="));
    expect(issue!.message).toContain("the YAML tag !!binary is not allowed");
    expect(issue!.line).toBe(6);
  });

  test("a custom YAML tag is an issue", () => {
    expect(issuesOf(minimal("description: !secret abc\n"))[0]!.message).toContain("!secret");
  });

  test("a non-finite number (.inf) is an issue", () => {
    expect(issuesOf(minimal("timeout: .inf\n"))).toEqual([
      expect.objectContaining({ path: "timeout", message: "Infinity is not a JSON number" }),
    ]);
  });

  test("a Date or a function in an object source is an issue", () => {
    const issues = issuesOf({ id: "wf", name: "W", description: new Date(0), steps: [{ id: "s", type: "start", "x-f": () => 1 }] });
    expect(issues.map((i) => [i.path, i.message])).toEqual([
      ["description", "a Date is not a JSON value"],
      ["steps[0].x-f", "a function is not a JSON value"],
    ]);
  });

  test("a __proto__ key in YAML is an issue with its path and Object.prototype stays clean", () => {
    const source = minimal().replace("type: start", "type: start\n    next: a") +
      "  - id: a\n    type: assign\n    set:\n      __proto__: { polluted: true }\n";
    const issues = issuesOf(source);
    expect(issues).toEqual([expect.objectContaining({ path: "steps[1].set.__proto__", line: 10, column: 7 })]);
    expect(issues[0]!.message).toContain('"__proto__" is not allowed');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test("constructor and prototype keys anywhere are issues", () => {
    const source = JSON.parse('{"id":"wf","name":"W","constructor":1,"steps":[{"id":"s","type":"end","result":{"a":{"prototype":1}}}]}');
    expect(issuesOf(source).map((i) => i.path)).toEqual(["constructor", "steps[0].result.a.prototype"]);
  });

  test("a __proto__ key from JSON.parse in an object source is an issue", () => {
    const source = JSON.parse('{"id":"wf","name":"W","__proto__":{"x":1},"steps":[{"id":"s","type":"start"}]}');
    expect(issuesOf(source).map((i) => i.path)).toEqual(["__proto__"]);
  });
});

describe("parser protection", () => {
  test("a billion-laughs alias bomb is rejected without being expanded", () => {
    const bomb = `id: wf
name: W
x-a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
x-b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
x-c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
x-d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
x-e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
x-f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
x-g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
x-h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
x-i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
steps:
  - id: start
    type: start
`;
    expect(issuesOf(bomb)).toEqual([expect.objectContaining({ path: "", message: expect.stringContaining("alias bomb") })]);
  });

  test("a merge-key bomb is rejected too", () => {
    const levels = ["x-l0: &l0 { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8 }"];
    for (let i = 1; i < 10; i++) {
      levels.push(`x-l${i}: &l${i} { ${Array.from({ length: 8 }, (_, k) => `k${k}: { <<: *l${i - 1} }`).join(", ")} }`);
    }
    const issues = issuesOf(`id: wf\nname: W\n${levels.join("\n")}\nsteps:\n  - id: start\n    type: start\n`);
    expect(issues.length).toBe(1);
    expect(issues[0]!.message).toMatch(/alias|expands/);
  });

  test("a few aliases and merge keys are fine", () => {
    const source = `id: wf
name: W
x-defaults: &retry { retries: 2, retry_delay: 0.5 }
steps:
  - id: start
    type: start
    next: pay
  - id: pay
    type: call
    service: Payments
    <<: *retry
`;
    expect(loadWorkflow(source).steps[1]).toMatchObject({ retries: 2, retry_delay: 0.5 });
  });

  test("a document over 1 MiB is rejected before parsing", () => {
    const big = minimal(`description: "${"a".repeat(1.1 * 1024 * 1024)}"\n`);
    expect(issuesOf(big)).toEqual([{ path: "", message: expect.stringContaining("at most 1048576 bytes (1 MiB)") }]);
  });

  test("the 1 MiB limit counts UTF-8 bytes, not characters", () => {
    const text = minimal(`description: "${"é".repeat(600_000)}"\n`);
    expect(text.length).toBeLessThan(1_048_576);
    expect(issuesOf(text)[0]!.message).toContain("bytes");
  });

  test("more than 1000 steps are rejected", () => {
    const steps = Array.from({ length: 1001 }, (_, i) => `  - id: s${i}\n    type: assign\n    set: { v: ${i} }\n`).join("");
    expect(issuesOf(`id: wf\nname: W\nsteps:\n${steps}`)).toEqual([
      expect.objectContaining({ path: "steps", message: expect.stringContaining("more than 1000 steps") }),
    ]);
  });

  test("more than 1000 steps counting nested ones are rejected", () => {
    const body = Array.from({ length: 1000 }, (_, i) => ({ id: `b${i}`, type: "assign", set: { v: i } }));
    const source = { id: "wf", name: "W", steps: [{ id: "each", type: "loop", over: [1], do: body }] };
    expect(issuesOf(source)[0]!.message).toContain("more than 1000 steps (nested ones included)");
  });

  test("1000 chained steps load", () => {
    const steps = Array.from(
      { length: 1000 },
      (_, i) => ({ id: `s${i}`, type: "assign", set: { [`v${i}`]: i ? `$v${i - 1}` : 0 }, ...(i < 999 ? { next: `s${i + 1}` } : {}) }),
    );
    expect(loadWorkflow({ id: "wf", name: "W", steps }).steps.length).toBe(1000);
  });

  test("flow nesting deeper than 64 levels is rejected", () => {
    const deep = minimal().replace("type: start", `type: start\n    x-deep: ${"[".repeat(500_000)}`);
    const issues = issuesOf(deep);
    expect(issues[0]!.message).toContain("nested more than 64 levels deep");
    expect(issues[0]!.line).toBe(6);
  });

  test("block nesting deeper than 64 levels is rejected", () => {
    const lines = Array.from({ length: 70 }, (_, i) => `${" ".repeat(i * 2 + 6)}k${i}:`).join("\n");
    const issues = issuesOf(minimal().replace("type: start", `type: start\n    x-deep:\n${lines} 1`));
    expect(issues).toEqual([expect.objectContaining({ message: "the document is nested more than 64 levels deep" })]);
  });

  test("an object source nested deeper than 64 levels is rejected", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = { a: deep };
    const issues = issuesOf({ id: "wf", name: "W", steps: [{ id: "s", type: "end", result: deep }] });
    expect(issues).toEqual([expect.objectContaining({ message: "nested more than 64 levels deep" })]);
  });

  test("a circular object source is an issue, not a hang", () => {
    const result: Record<string, unknown> = {};
    result.self = result;
    expect(issuesOf({ id: "wf", name: "W", steps: [{ id: "s", type: "end", result }] })[0]!.message).toContain("circular");
  });
});

describe("custom step types", () => {
  const execute = () => proceed();

  test("a step type registered in a fresh registry validates its keys", () => {
    const registry = new StepRegistry();
    registry.register("notify", { schema: z.object({ channel: z.string() }), execute });
    const source = "id: wf\nname: W\nsteps:\n  - id: ping\n    type: notify\n    channel: ops\n    next_step: __FINISHED__\n";
    expect(loadWorkflow(source, { registry }).steps[0]).toEqual({ id: "ping", type: "notify", channel: "ops", next: "__FINISHED__" });
    const error = errorOf(source.replace("channel: ops", "chanel: ops"), { registry });
    expect(error.issues.map((i) => i.path)).toEqual(["steps[0].channel", "steps[0].chanel"]);
  });

  test("a type registered elsewhere is unknown to the default registry", () => {
    const source = "id: wf\nname: W\nsteps:\n  - id: ping\n    type: notify\n    channel: ops\n";
    expect(issuesOf(source)).toEqual([
      expect.objectContaining({ path: "steps[0].type", message: expect.stringContaining('unknown step type "notify"') }),
    ]);
  });
});

describe("content hash", () => {
  test("the hash is stable over key order", () => {
    const a = loadWorkflow({ id: "wf", name: "W", steps: [{ id: "s", type: "call", service: "S", retries: 1, next: "__FINISHED__" }] });
    const b = loadWorkflow({ steps: [{ next: "__FINISHED__", retries: 1, service: "S", type: "call", id: "s" }], name: "W", id: "wf" });
    expect(a.hash).toBe(b.hash);
  });

  test("the hash differs for different content", () => {
    expect(loadWorkflow(minimal()).hash).not.toBe(loadWorkflow(minimal('version: "1.1"\n')).hash);
    expect(loadWorkflow(minimal()).hash).not.toBe(loadWorkflow(minimal("description: other\n")).hash);
  });

  test("defaults written out or left implicit give the same hash", () => {
    const implicit = loadWorkflow({ id: "wf", name: "W", steps: [{ id: "s", type: "call", service: "S" }] });
    const explicit = loadWorkflow({
      id: "wf",
      name: "W",
      version: "1.0",
      steps: [{ id: "s", type: "call", service: "S", retries: 0, retry_delay: 1, retry_backoff: 2 }],
    });
    expect(implicit.hash).toBe(explicit.hash);
  });

  test("x- metadata and comments do not change the hash", () => {
    expect(loadWorkflow(minimal("x-owner: me # a comment\n")).hash).toBe(loadWorkflow(minimal()).hash);
  });
});
