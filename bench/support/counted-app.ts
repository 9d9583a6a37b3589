/**
 * The app the paused-worker chaos runs (`bun bench/support/counted-app.ts`): the same configuration from env as
 * main.ts (Redis, QStash, DW_LEASE_SECONDS), one workflow of STEPS calls, and a service that reports the start
 * and the end of every call to the bench's counter (COUNTER_URL), naming this instance (WORKER). The sweeper runs
 * every DW_SWEEP_SECONDS.
 */
import { Redis } from "@upstash/redis";
import { appOptionsFromEnv, recoverOnce } from "../../config-from-env.ts";
import { createApp, loadWorkflow } from "../../mod.ts";

export const STEPS = 5;
const env = process.env;
const STEP_MS = Number(env.STEP_MS ?? 150);

const countedWorkflow = loadWorkflow({
  id: "counted",
  name: "Counted side effects",
  steps: [
    { id: "start", type: "start", next: "s1" },
    ...Array.from({ length: STEPS }, (_, i) => ({
      id: `s${i + 1}`,
      type: "call",
      service: "effect",
      input: { step: `s${i + 1}` },
      output: `r${i + 1}`,
      next: i + 1 < STEPS ? `s${i + 2}` : "finish",
    })),
    { id: "finish", type: "end", result: "done" },
  ],
});

if (import.meta.main) {
  const report = (phase: string, id: string, step: string) =>
    fetch(`${env.COUNTER_URL}/${phase}`, { method: "POST", body: JSON.stringify({ id, step, worker: env.WORKER }) }).then((r) =>
      r.arrayBuffer()
    );
  const services = {
    effect: async (input: { step: string }, context: { executionId: string }) => {
      await report("start", context.executionId, input.step);
      await Bun.sleep(STEP_MS);
      await report("end", context.executionId, input.step);
      return input.step;
    },
  };
  const options = appOptionsFromEnv(env, { workflows: [countedWorkflow], services, Redis, log: () => {} });
  const app = createApp(options);
  setInterval(() => void recoverOnce(options).catch(() => undefined), Number(env.DW_SWEEP_SECONDS ?? 2) * 1000);
  Bun.serve({ port: Number(env.PORT), fetch: app.fetch, idleTimeout: 0 });
}
