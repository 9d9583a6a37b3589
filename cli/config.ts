import { existsSync } from "node:fs";
import { type CustomStepSpec, registerStepType, type Services } from "../src/mod.ts";
import { CliError, type OptionSpecs, type ParsedArgs } from "./command.ts";
import { importModule } from "./modules.ts";

/** What `durable-workflow.config.ts` exports (as its default export): the project's step types and services. */
export interface CliConfig {
  /** Step types of the project, registered before any workflow is read (as `registerStepType` would). */
  stepTypes?: Record<string, CustomStepSpec>;
  /** The services `run` calls (`--services` replaces them). */
  services?: Services;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** Looked for in the working directory, in this order, when `--config` is not given. */
const CONFIG_FILES = [
  "durable-workflow.config.ts",
  "durable-workflow.config.mts",
  "durable-workflow.config.js",
  "durable-workflow.config.mjs",
];

export const CONFIG_OPTION: OptionSpecs = { config: { type: "string", short: "c" } };

export const CONFIG_HELP = `  -c, --config <file>   the project's config module (default: ./durable-workflow.config.ts, .mts, .js or .mjs):
                        its default export { stepTypes, services } (importing it may also register step types)`;

/**
 * Imports the project's config module, registers its step types and returns it; {} when there is none.
 * An unknown key or a malformed value is an error naming it, never ignored.
 */
export async function loadConfig({ values }: ParsedArgs): Promise<CliConfig> {
  const file = typeof values.config === "string" ? values.config : CONFIG_FILES.find((name) => existsSync(name));
  if (!file) return {};
  if (!existsSync(file)) throw new CliError(`--config ${file}: no such file`);
  const module = await importModule(file, "--config");
  const config = module.default ?? {};
  if (!isObject(config)) throw new CliError(`--config ${file}: the default export must be an object { stepTypes, services }`);
  const unknown = Object.keys(config).filter((key) => key !== "stepTypes" && key !== "services");
  if (unknown.length) throw new CliError(`--config ${file}: unknown key ${JSON.stringify(unknown[0])} (allowed: stepTypes, services)`);
  const { stepTypes, services } = config as CliConfig;
  if (stepTypes !== undefined && !isObject(stepTypes)) {
    throw new CliError(`--config ${file}: "stepTypes" must map each type name to { schema, execute }`);
  }
  if (services !== undefined && !isObject(services)) {
    throw new CliError(`--config ${file}: "services" must be the services object`);
  }
  for (const [type, spec] of Object.entries(stepTypes ?? {})) {
    try {
      registerStepType(type, spec);
    } catch (error) {
      throw new CliError(`--config ${file}: step type "${type}": ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { stepTypes, services };
}
