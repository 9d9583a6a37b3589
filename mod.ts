/**
 * Everything public in one module, for use inside this repository and from Deno: the core API
 * (src/mod.ts, the package's main entry) and the HTTP layer (hono.ts, "durable-workflow-edge/hono").
 */
export * from "./src/mod.ts";
export * from "./hono.ts";
