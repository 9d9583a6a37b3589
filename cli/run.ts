import { httpFromEnv, redisStoreFromEnv } from "../config-from-env.ts";
import { type Json, MemoryStore, type Store, StreamRunner } from "../src/mod.ts";
import { askForAnswer, LineReader } from "./answers.ts";
import { CliError, type Command, UsageError } from "./command.ts";
import { CONFIG_HELP, CONFIG_OPTION, loadConfig } from "./config.ts";
import { readWorkflow } from "./files.ts";
import { Progress } from "./progress.ts";
import { loadServices } from "./services.ts";

function parseInput(text: string | boolean | undefined): Json {
  if (text === undefined) return {};
  try {
    return JSON.parse(String(text)) as Json;
  } catch (error) {
    throw new UsageError(`--input must be JSON (${error instanceof Error ? error.message : String(error)})`);
  }
}

async function redisStore(env: Record<string, string | undefined>): Promise<Store> {
  if (!env.UPSTASH_REDIS_REST_URL || !env.UPSTASH_REDIS_REST_TOKEN) {
    throw new CliError("--redis needs UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN in the environment");
  }
  const { Redis } = await import("@upstash/redis");
  return redisStoreFromEnv(env, Redis).store;
}

export const run: Command = {
  name: "run",
  summary: "run a workflow here, answering its halts on stdin",
  help: `Usage: durable-workflow run <file> [--input JSON] [--services module] [--redis] [--config file]

Runs a workflow and shows each step as it ends, with its status and duration. When the run halts it shows
what it halted for and asks on stdin: y/n for an approval, a JSON response for a halt; then it resumes.
Prints the output and exits 0 when the run completes, 1 when it fails.

Options:
  --input <JSON>        the workflow's input (default {})
  --services <module>   a JS/TS module whose default export (or "services" export) is the services object
                        (default: the config module's services)
  --redis               keep the execution in Upstash Redis (UPSTASH_REDIS_REST_URL and
                        UPSTASH_REDIS_REST_TOKEN, optional DW_REDIS_PREFIX) instead of in memory

http steps read DW_HTTP_ALLOW, DW_HTTP_ALLOW_PRIVATE, DW_HTTP_MAX_BODY_BYTES and DW_SECRET_<NAME> (for
$secrets.<NAME>) from the environment, as the server does.
${CONFIG_HELP}`,
  options: { input: { type: "string" }, services: { type: "string" }, redis: { type: "boolean" }, ...CONFIG_OPTION },
  async run(args) {
    const { values, positionals } = args;
    if (positionals.length !== 1) throw new UsageError("run needs exactly one workflow file");
    const input = parseInput(values.input);
    const config = await loadConfig(args);
    const workflow = await readWorkflow(positionals[0]!);
    const services = typeof values.services === "string" ? await loadServices(values.services) : config.services;
    const store = values.redis ? await redisStore(process.env) : new MemoryStore();
    const tty = process.stdout.isTTY === true;
    const progress = new Progress({ write: (text) => process.stdout.write(text), live: tty, color: tty && !process.env.NO_COLOR });
    // The file given is what runs ("as-given"): a trial run never makes it the store's current version.
    const runner = new StreamRunner(workflow, { store, services, definitions: "as-given", ...httpFromEnv(process.env) })
      .subscribe(progress.handle);
    const lines = new LineReader(process.stdin);
    try {
      let result = await runner.run(input);
      while (result.status === "halted") {
        const answer = await askForAnswer(result.halt!, lines, progress, process.stdin.isTTY !== true);
        if (!answer) throw new CliError(`stdin ended before the halt of execution ${result.executionId} was answered`);
        result = await runner.resume(result.executionId, answer);
      }
      if (result.status === "completed") progress.print(JSON.stringify(result.output ?? null, null, 2));
      else if (result.status !== "failed") progress.print(`execution ${result.executionId} is ${result.status}`);
      return result.status === "completed" ? 0 : 1;
    } finally {
      await lines.close();
    }
  },
};
