import { readFile, writeFile } from "node:fs/promises";
import { loadWorkflow, ValidationError, type WorkflowDefinition } from "../src/mod.ts";
import { CliError } from "./command.ts";

export class UnreadableFile extends CliError {
  constructor(readonly file: string, readonly reason: string) {
    super(`${file}: ${reason}`);
  }
}

/** A file's text; a missing or unreadable file is an UnreadableFile error. */
export async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new UnreadableFile(file, code === "ENOENT" ? "no such file" : `cannot read (${code ?? String(error)})`);
  }
}

/** Reads and loads a workflow file (YAML or JSON); an invalid one is a CliError listing its issues. */
export async function readWorkflow(file: string): Promise<WorkflowDefinition> {
  const text = await readText(file);
  try {
    return loadWorkflow(text);
  } catch (error) {
    if (error instanceof ValidationError) throw new CliError(`${file}: ${error.message}`);
    throw error;
  }
}

/** Writes `text` to the `-o` file, or to stdout. */
export async function writeOutput(text: string, file: string | boolean | undefined): Promise<void> {
  const body = text.endsWith("\n") ? text : `${text}\n`;
  if (typeof file === "string") await writeFile(file, body);
  else process.stdout.write(body);
}
