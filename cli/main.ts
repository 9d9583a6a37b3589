#!/usr/bin/env node
/**
 * The `durable-workflow` command: `durable-workflow <command> [options]`, `--help` on each command.
 * Runs from the package (dist/cli.js, Node >= 20) and in the repository (`bun cli/main.ts`).
 * Errors are one line `durable-workflow: <message>`: exit 2 for a usage mistake, 1 otherwise.
 */
import { type Command, parseCommandArgs, UsageError } from "./command.ts";
import { dev } from "./dev.ts";
import { diff } from "./diff.ts";
import { graph } from "./graph.ts";
import { lint } from "./lint.ts";
import { run } from "./run.ts";
import { schema } from "./schema.ts";
import { sendEventCommand } from "./send-event.ts";

const COMMANDS: Command[] = [lint, graph, schema, run, diff, dev, sendEventCommand];

const HELP = `Usage: durable-workflow <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(11)}${c.summary}`).join("\n")}

Run "durable-workflow <command> --help" for a command's options.`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(`${HELP}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)} (commands: ${COMMANDS.map((c) => c.name).join(", ")})`);
  const args = parseCommandArgs(command, rest);
  if (args.help) {
    process.stdout.write(`${command.help}\n`);
    return 0;
  }
  return command.run(args);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`durable-workflow: ${message.split("\n")[0]}\n`);
  if (error instanceof UsageError) process.stderr.write(`Run "durable-workflow --help" for usage.\n`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
}
