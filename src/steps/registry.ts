import { z } from "zod";
import { ConfigError } from "../errors.ts";
import { setOwn, toJson } from "../json.ts";
import { approval } from "./approval.ts";
import { assign } from "./assign.ts";
import { call } from "./call.ts";
import { end } from "./end.ts";
import { halt } from "./halt.ts";
import { http } from "./http.ts";
import { loop } from "./loop.ts";
import { parallel } from "./parallel.ts";
import { router } from "./router.ts";
import { start } from "./start.ts";
import { commonStepKeys, type StepDefinition, type StepExecutor, type StepType } from "./step.ts";
import { transform } from "./transform.ts";
import { wait } from "./wait.ts";
import { waitForEvent } from "./wait-for-event.ts";
import { workflow } from "./workflow.ts";

/** The built-in step types. Adding one: a file in this folder and a line here. */
export const BUILT_IN_STEP_TYPES: readonly StepType[] = [
  start,
  end,
  call,
  assign,
  router,
  loop,
  parallel,
  transform,
  halt,
  approval,
  workflow,
  wait,
  http,
  waitForEvent,
] as unknown as StepType[];

/** What a user gives to add a step type: a zod object schema for its own keys, and an executor. */
export interface CustomStepSpec {
  schema: z.ZodObject;
  execute: StepExecutor;
  /** Declare the step side-effect free to have it batched into the next checkpoint (default false). */
  pure?: boolean;
}

const TYPE_NAME = /^[a-z][a-z0-9_\-.]*$/;

/** Step types by name. The engine and the validator both ask the same registry. */
export class StepRegistry {
  readonly #types = new Map<string, StepType>();

  constructor(types: readonly StepType[] = BUILT_IN_STEP_TYPES) {
    for (const t of types) this.#types.set(t.type, t);
  }

  get(type: string): StepType | undefined {
    return this.#types.get(type);
  }

  has(type: string): boolean {
    return this.#types.has(type);
  }

  names(): string[] {
    return [...this.#types.keys()];
  }

  all(): StepType[] {
    return [...this.#types.values()];
  }

  /** Adds a user step type; its keys are the common ones (`id`, `type`, `next`, `on_error`) plus the schema's. */
  register(type: string, spec: CustomStepSpec): void {
    if (!TYPE_NAME.test(type)) throw new ConfigError(`Step type name "${type}" must match ${TYPE_NAME}`);
    if (BUILT_IN_STEP_TYPES.some((t) => t.type === type)) throw new ConfigError(`"${type}" is a built-in step type`);
    if (!(spec?.schema instanceof z.ZodObject)) throw new ConfigError(`Step type "${type}" needs a zod object schema`);
    if (typeof spec.execute !== "function") throw new ConfigError(`Step type "${type}" needs an execute function`);
    const schema = z.strictObject({ ...spec.schema.shape, ...commonStepKeys, type: z.literal(type) });
    this.#types.set(type, {
      type,
      schema: schema as unknown as z.ZodType<StepDefinition>,
      execute: withOutput(spec.execute),
      pure: spec.pure === true,
      outputs: (step) => (typeof step.output === "string" ? [step.output] : []),
    });
  }

  clone(): StepRegistry {
    return new StepRegistry(this.all());
  }
}

/**
 * A custom step's `output` key works as it does for built-ins: the output it returns (checked to be JSON) is
 * stored in `ctx[output]`.
 */
function withOutput(execute: StepExecutor): StepExecutor {
  return async (step, state, tools) => {
    const outcome = await execute(step, state, tools);
    const key = step.output;
    if (typeof key !== "string" || outcome.kind !== "continue" || outcome.output === undefined) return outcome;
    const output = toJson(outcome.output, `The output of step "${step.id}"`);
    const ctx = { ...(outcome.ctx ?? state.ctx) };
    setOwn(ctx, key, output);
    return { ...outcome, output, ctx };
  };
}

/** The registry used when none is passed explicitly. */
export const defaultStepRegistry = new StepRegistry();

/** Adds a step type to the default registry: it validates and runs like a built-in. */
export function registerStepType(type: string, spec: CustomStepSpec): void {
  defaultStepRegistry.register(type, spec);
}
