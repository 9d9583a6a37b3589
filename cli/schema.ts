import { workflowJsonSchema } from "../src/mod.ts";
import { type Command, UsageError } from "./command.ts";
import { writeOutput } from "./files.ts";

export const schema: Command = {
  name: "schema",
  summary: "print the JSON Schema of workflow files",
  help: `Usage: durable-workflow schema [-o file]

Prints the JSON Schema of a workflow definition, for editors (e.g. yaml-language-server) and other tools.

Options:
  -o, --output <file>   write to a file instead of stdout`,
  options: { output: { type: "string", short: "o" } },
  async run({ values, positionals }) {
    if (positionals.length) throw new UsageError(`schema takes no arguments, got ${positionals.join(" ")}`);
    await writeOutput(JSON.stringify(workflowJsonSchema, null, 2), values.output);
    return 0;
  },
};
