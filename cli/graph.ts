import { renderWorkflowSvg, workflowDiagram } from "../src/mod.ts";
import { choice, type Command, UsageError } from "./command.ts";
import { CONFIG_HELP, CONFIG_OPTION, loadConfig } from "./config.ts";
import { readWorkflow, writeOutput } from "./files.ts";

export const graph: Command = {
  name: "graph",
  summary: "draw a workflow as SVG or Mermaid",
  help: `Usage: durable-workflow graph <file> [--format svg|mermaid] [-o file] [--config file]

Prints the diagram of a workflow: its steps and every way one leads to another.

Options:
  --format svg|mermaid   svg (default) or a Mermaid flowchart
  -o, --output <file>    write to a file instead of stdout
${CONFIG_HELP}`,
  options: { format: { type: "string" }, output: { type: "string", short: "o" }, ...CONFIG_OPTION },
  async run(args) {
    const { values, positionals } = args;
    const format = choice(values.format, "format", ["svg", "mermaid"], "svg");
    if (positionals.length !== 1) throw new UsageError("graph needs exactly one workflow file");
    await loadConfig(args);
    const workflow = await readWorkflow(positionals[0]!);
    await writeOutput(format === "svg" ? renderWorkflowSvg(workflow) : workflowDiagram(workflow), values.output);
    return 0;
  },
};
