import type { Hook } from "@hono/zod-openapi";
import type { ValidationTargets } from "hono";
import type { AppEnv } from "./context.ts";
import { formatPath } from "../src/definition/issues.ts";
import { HttpProblem } from "./problems.ts";

const WHAT: Partial<Record<keyof ValidationTargets, string>> = {
  json: "request body",
  query: "query string",
  param: "path parameter",
  header: "header",
};

/**
 * The API's answer to a request that breaks a route's zod schema: 400 problem+json listing every zod issue
 * as `{ path, message }` (paths relative to the body, query or params, e.g. `input` or `limit`).
 */
export const validationHook: Hook<unknown, AppEnv, string, void> = (result) => {
  if (result.success) return;
  const errors = result.error.issues.flatMap((issue) =>
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), message: "unknown key" }))
      : [{ path: formatPath(issue.path), message: issue.message }]
  );
  const detail = errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join("; ");
  throw new HttpProblem(400, `Invalid ${WHAT[result.target] ?? result.target}: ${detail}`, { errors });
};
