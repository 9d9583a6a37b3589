import { zValidator } from "@hono/zod-validator";
import type { ValidationTargets } from "hono";
import type { z } from "zod";
import { formatPath } from "../src/definition/issues.ts";
import { HttpProblem } from "./problems.ts";

const WHAT: Partial<Record<keyof ValidationTargets, string>> = {
  json: "request body",
  query: "query string",
  param: "path parameter",
  header: "header",
};

/**
 * `zValidator` with the API's failure answer: 400 problem+json listing every zod issue as `{ path, message }`
 * (paths relative to the body, query or params, e.g. `input` or `limit`).
 */
export function validate<Target extends keyof ValidationTargets, S extends z.ZodType>(target: Target, schema: S) {
  return zValidator(target, schema, (result) => {
    if (result.success) return;
    const errors = result.error.issues.flatMap((issue) =>
      issue.code === "unrecognized_keys"
        ? issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), message: "unknown key" }))
        : [{ path: formatPath(issue.path), message: issue.message }]
    );
    throw new HttpProblem(400, `Invalid ${WHAT[target] ?? target}: ${errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join("; ")}`, { errors });
  });
}
