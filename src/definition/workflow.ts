import type { ConcurrencySpec, DebounceSpec, RateSpec } from "../steps/flow.ts";
import type { StepDefinition } from "../steps/step.ts";
import type { Condition } from "../expressions/conditions.ts";
import type { Json, JsonObject } from "../types.ts";

export const INPUT_TYPES = ["string", "integer", "number", "boolean", "array", "object"] as const;
export type InputType = (typeof INPUT_TYPES)[number];

/** One declared input: `required` defaults to true; `default` is applied before the required check. */
export interface InputSpec {
  type?: InputType;
  required: boolean;
  default?: Json;
  description?: string;
}

/** What starts runs of a workflow by itself: a schedule, or an event. */
export type Trigger =
  | { readonly cron: string; readonly timezone?: string; readonly input?: Readonly<JsonObject> }
  | { readonly event: string; readonly match?: Condition };

/** A loaded, validated workflow (immutable: frozen deeply by the loader). */
export interface WorkflowDefinition {
  readonly id: string;
  readonly name: string;
  /** Always a string; an unquoted YAML number keeps its source text (`1.0`). */
  readonly version: string;
  readonly description?: string;
  /** Whole-execution limit in seconds. */
  readonly timeout?: number;
  /** Declared inputs, or null when the workflow declares none (then any input key may be referenced). */
  readonly inputs: Readonly<Record<string, InputSpec>> | null;
  /** Labels of every execution (`labels:`): literal text or a `$input.…` reference, resolved at start. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Normalised steps (aliases resolved, `x-` keys removed, defaults applied by the step schemas). */
  readonly steps: readonly StepDefinition[];
  /** Schedules and events that start runs (absent when none is declared). */
  readonly triggers?: readonly Trigger[];
  /** Flow control (issue 20): at most `limit` running per key, at most `limit` starts per period, the start order, debouncing. */
  readonly concurrency?: Readonly<ConcurrencySpec>;
  readonly rate?: Readonly<RateSpec>;
  readonly priority?: number | string;
  readonly debounce?: Readonly<DebounceSpec>;
  /** Content hash (SHA-256 hex of the canonical JSON, stable over key order). */
  readonly hash: string;
}
