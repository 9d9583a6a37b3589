// A user's own app, as `durable-workflow dev --app` runs it (tests/e2e/cli.dev.test.ts): one workflow, configured from the environment.
import { Redis } from "@upstash/redis";
import { appOptionsFromEnv } from "../../config-from-env.ts";
import { createApp, loadWorkflow } from "../../mod.ts";

const workflow = loadWorkflow(`
id: shout
name: Shout
version: "1.0"
inputs:
  word: { type: string }
steps:
  - { id: start, type: start, next: finish }
  - id: finish
    type: end
    result: { said: "$input.word!" }
`);

const app = createApp(appOptionsFromEnv(process.env, { workflows: [workflow], Redis }));
export default { port: Number(process.env.PORT), fetch: app.fetch };
