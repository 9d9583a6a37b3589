import { buildWorkflowJsonSchema } from "../src/mod.ts";
import { type Command, UsageError } from "./command.ts";
import { CONFIG_HELP, CONFIG_OPTION, loadConfig } from "./config.ts";
import { writeOutput } from "./files.ts";

export const schema: Command = {
  name: "schema",
  summary: "print the JSON Schema of workflow files",
  help: `Usage: durable-workflow schema [-o file] [--config file]

Prints the JSON Schema of a workflow definition, for editors (e.g. yaml-language-server) and other tools,
with the project's own step types (from its config module) beside the built-in ones.

Options:
  -o, --output <file>   write to a file instead of stdout
${CONFIG_HELP}`,
  options: { output: { type: "string", short: "o" }, ...CONFIG_OPTION },
  async run(args) {
    const { values, positionals } = args;
    if (positionals.length) throw new UsageError(`schema takes no arguments, got ${positionals.join(" ")}`);
    await loadConfig(args);
    await writeOutput(JSON.stringify(buildWorkflowJsonSchema(), null, 2), values.output);
    return 0;
  },
};
