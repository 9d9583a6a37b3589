import type { Services } from "../src/mod.ts";
import { CliError } from "./command.ts";
import { importModule } from "./modules.ts";

/** The services object of a module (JavaScript or TypeScript): its default export, or its `services` export. */
export async function loadServices(path: string): Promise<Services> {
  const module = await importModule(path, "--services");
  const services = module.default ?? module.services;
  if (!services || typeof services !== "object") {
    throw new CliError(`--services ${path}: the module must export the services object as its default export or as "services"`);
  }
  return services as Services;
}
