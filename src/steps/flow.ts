/**
 * The flow-control keys of a definition (issue 20): `concurrency`, `rate`, `priority`, `debounce` at the top level,
 * `rate` on a `call` or `http` step. Their zod schemas live here so that step schemas and the workflow schema share them.
 */
import { z } from "zod";
import { same } from "../schemas.ts";

/** A flow key is one `$input…` reference: it is resolved when the run starts (the ctx is still empty then). */
export const flowKeySchema = z.string().regex(
  /^\$input(\.[A-Za-z0-9_-]+)+$/,
  "must be a reference to the run's input, such as $input.customer_id",
);

const limit = z.number().int("must be a whole number").min(1, "must be at least 1");
const period = z.number().positive("must be more than 0 seconds");

/** At most `limit` executions of the workflow `running` at once per key. */
export const concurrencySchema = z.strictObject({ limit, key: flowKeySchema.optional() });
/** At most `limit` starts (or calls, on a step) per `period` seconds per key. */
export const rateSchema = z.strictObject({ limit, period, key: flowKeySchema.optional() });
/** Starts within `period` seconds of each other with one key are one run (the last input wins), at most `max` seconds late. */
export const debounceSchema = z.strictObject({ period, key: flowKeySchema.optional(), max: period.optional() });
/** A number, or a reference to the input that resolves to one. */
export const prioritySchema = z.union([z.number(), flowKeySchema]);

/** At most `limit` executions running at once per key (`$input…`; none: the whole workflow). */
export interface ConcurrencySpec {
  limit: number;
  key?: string;
}

/** At most `limit` starts (or a step's calls) per `period` seconds per key. */
export interface RateSpec {
  limit: number;
  period: number;
  key?: string;
}

/** Starts within `period` seconds with one key are one run (the last input wins), at most `max` seconds late. */
export interface DebounceSpec {
  period: number;
  key?: string;
  max?: number;
}

// The types above are written out (JSR refuses inferred types in a public API); proven equal to the schemas here.
same<z.output<typeof concurrencySchema>, ConcurrencySpec>(true);
same<z.output<typeof rateSchema>, RateSpec>(true);
same<z.output<typeof debounceSchema>, DebounceSpec>(true);
