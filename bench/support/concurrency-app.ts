/**
 * The app process of bench/concurrency.ts: ROOT's createApp, configured from the environment as a deployment is
 * (appOptionsFromEnv: the Redis store through the bridge, QStash through qstash-dev), with ROOT's 10-step linear
 * workflow (start, 8 calls, end), served by Bun.serve on PORT.
 */
import { Redis } from "@upstash/redis";

const root = process.env.ROOT!;
const { createApp } = await import(`${root}/mod.ts`);
const { appOptionsFromEnv } = await import(`${root}/config-from-env.ts`);
const { linearWorkflow } = await import(`${root}/tests/support/workflows.ts`);

/** REDIS_OPTIONS (JSON): extra options for the @upstash/redis client, to measure what they cost or save. */
const redisOptions = JSON.parse(process.env.REDIS_OPTIONS ?? "{}");
class TunedRedis extends Redis {
  constructor(config: ConstructorParameters<typeof Redis>[0]) {
    super({ ...config, ...redisOptions });
  }
}
const work = async (input: unknown) => input;
const app = createApp(appOptionsFromEnv(process.env, { workflows: [linearWorkflow(8)], services: { work }, Redis: TunedRedis }));
// reusePort: with APPS > 1, the app processes share the port and the kernel spreads the connections.
Bun.serve({ hostname: "127.0.0.1", port: Number(process.env.PORT), reusePort: true, idleTimeout: 0, fetch: app.fetch });
process.on("SIGTERM", () => process.exit(0)); // so that --cpu-prof writes its profile
console.log("ready");
