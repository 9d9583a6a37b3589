import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Services } from "../src/mod.ts";
import { CliError } from "./command.ts";

/** The services object of a module: its default export, or its `services` export. */
export async function loadServices(path: string): Promise<Services> {
  let module: { default?: unknown; services?: unknown };
  try {
    module = await import(pathToFileURL(resolve(path)).href);
  } catch (error) {
    throw new CliError(`--services ${path}: cannot import it (${error instanceof Error ? error.message : String(error)})`);
  }
  const services = module.default ?? module.services;
  if (!services || typeof services !== "object") {
    throw new CliError(`--services ${path}: the module must export the services object as its default export or as "services"`);
  }
  return services as Services;
}
