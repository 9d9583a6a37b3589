import { parseArgs, type ParseArgsConfig } from "node:util";

export type OptionSpecs = NonNullable<ParseArgsConfig["options"]>;

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** One subcommand of `durable-workflow`: its help text, its options and what it does. Resolves to the exit code. */
export interface Command {
  name: string;
  /** One line, for the command list of `durable-workflow --help`. */
  summary: string;
  /** The full `--help` text. */
  help: string;
  options: OptionSpecs;
  run(args: ParsedArgs): Promise<number>;
}

/** A mistake in the command line: reported in one line, exit code 2. */
export class UsageError extends Error {}

/** Something the user must fix (a missing file, a bad module): reported in one line, exit code 1. */
export class CliError extends Error {}

export function parseCommandArgs(command: Command, argv: string[]): ParsedArgs & { help: boolean } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...command.options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
    const { help, ...rest } = values as Record<string, string | boolean | undefined>;
    return { values: rest, positionals, help: help === true };
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** The value of an option limited to a few words, or the default. */
export function choice<T extends string>(value: string | boolean | undefined, option: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`--${option} must be one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
}
