// @upstash/workflow 1.3 (its Hono `serve`, on Bun.serve) runs against qstash-dev: the SDK's own Client.trigger
// starts a run, qstash-dev keeps the run's step log and delivers it, and the SDK ends the run with DELETE.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { Client as QStashClient, Receiver } from "@upstash/qstash";
import { Client as WorkflowClient } from "@upstash/workflow";
import { serve } from "@upstash/workflow/hono";
import { Hono } from "hono";
import {
  DEV_CURRENT_SIGNING_KEY,
  DEV_NEXT_SIGNING_KEY,
  DEV_QSTASH_TOKEN,
  type QStashDevServer,
  startQStashDev,
} from "durable-workflow-edge-dev/qstash";

const DAY_MS = 86_400_000;

let qstash: QStashDevServer;
let endpoint: ReturnType<typeof Bun.serve>;
let endpointUrl: string;
let workflows: WorkflowClient;
/** What each workflow's steps saw, in order. */
let trail: string[];
/** The body of every delivery the endpoint got, in order. */
let bodies: string[];

function workflowApp(qstashUrl: string): Hono {
  const options = {
    qstashClient: new QStashClient({ baseUrl: qstashUrl, token: DEV_QSTASH_TOKEN, retry: false, enableTelemetry: false }),
    receiver: new Receiver({ currentSigningKey: DEV_CURRENT_SIGNING_KEY, nextSigningKey: DEV_NEXT_SIGNING_KEY }),
    env: {},
    disableTelemetry: true,
  };
  const app = new Hono();
  app.post(
    "/three-steps",
    serve<{ n: number }>(async (context) => {
      const a = await context.run("add", () => {
        trail.push("add");
        return context.requestPayload.n + 1;
      });
      const b = await context.run("double", () => {
        trail.push("double");
        return a * 2;
      });
      return await context.run("describe", () => {
        trail.push("describe");
        return { result: b };
      });
    }, options),
  );
  app.post(
    "/sleeps",
    serve(async (context) => {
      await context.run("before", () => void trail.push("before"));
      await context.sleep("three-days", 3 * 24 * 60 * 60);
      await context.run("after", () => void trail.push("after"));
    }, options),
  );
  return app;
}

beforeEach(() => {
  trail = [];
  bodies = [];
  qstash = startQStashDev({ port: 0, retryDelayMs: 1 });
  const app = workflowApp(qstash.url);
  endpoint = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: async (req) => {
      bodies.push(await req.clone().text());
      return app.fetch(req);
    },
  });
  endpointUrl = `http://127.0.0.1:${endpoint.port}`;
  workflows = new WorkflowClient({ baseUrl: qstash.url, token: DEV_QSTASH_TOKEN });
});

afterEach(async () => {
  await qstash.stop();
  await endpoint.stop(true);
});

const decodeSteps = (body: string) => (JSON.parse(body) as { body: string }[]).map((step) => atob(step.body));

describe("running @upstash/workflow", () => {
  test("a 3-step workflow triggered by Client.trigger runs to completion, each step once", async () => {
    const { workflowRunId } = await workflows.trigger({ url: `${endpointUrl}/three-steps`, body: { n: 4 } });
    const run = await qstash.dev.waitForRun(workflowRunId);

    expect(trail).toEqual(["add", "double", "describe"]);
    expect(run.ended).toEqual({ cancelled: false, result: JSON.stringify({ result: 10 }) });
    expect(run.pending).toBe(0);
    expect(run.steps).toHaveLength(4);
    const deliveries = qstash.messages().filter((m) => m.workflowRunId === workflowRunId);
    expect(deliveries.map((m) => m.state)).toEqual(["DELIVERED", "DELIVERED", "DELIVERED", "DELIVERED"]);
  });

  test("delivery k carries the run's step log up to and including message k", async () => {
    const { workflowRunId } = await workflows.trigger({ url: `${endpointUrl}/three-steps`, body: { n: 1 } });
    await qstash.dev.waitForRun(workflowRunId);

    const seen = bodies.map(decodeSteps);
    expect(seen.map((log) => log.length)).toEqual([1, 2, 3, 4]);
    expect(JSON.parse(seen[0]![0]!)).toEqual({ n: 1 });
    expect(JSON.parse(seen[3]![3]!)).toMatchObject({ stepId: 3, stepName: "describe", stepType: "Run" });
  });

  test("a run's steps are readable while it runs and answer 404 once it ended", async () => {
    const { workflowRunId } = await workflows.trigger({ url: `${endpointUrl}/three-steps`, body: { n: 1 } });
    await qstash.dev.waitForRun(workflowRunId);

    const response = await fetch(`${qstash.url}/v2/workflows/runs/${workflowRunId}`, {
      headers: { Authorization: `Bearer ${DEV_QSTASH_TOKEN}` },
    });
    expect(response.status).toBe(404);
    expect(qstash.dev.workflowRun(workflowRunId)?.steps).toHaveLength(4);
  });

  test("publishing a step into a run that ended is refused with 400", async () => {
    const { workflowRunId } = await workflows.trigger({ url: `${endpointUrl}/three-steps`, body: { n: 1 } });
    await qstash.dev.waitForRun(workflowRunId);

    const response = await fetch(`${qstash.url}/v2/batch`, {
      method: "POST",
      headers: { Authorization: `Bearer ${DEV_QSTASH_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify([
        {
          destination: `${endpointUrl}/three-steps`,
          headers: { "Upstash-Workflow-RunId": workflowRunId, "Upstash-Workflow-Init": "false" },
          body: "{}",
        },
      ]),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toContain("has ended");
  });

  test("a second trigger with the same run id is deduplicated and runs nothing again", async () => {
    const first = await workflows.trigger({ url: `${endpointUrl}/three-steps`, body: { n: 1 }, workflowRunId: "wfr_same" });
    await qstash.dev.waitForRun(first.workflowRunId);
    const again = await fetch(`${qstash.url}/v2/batch`, {
      method: "POST",
      headers: { Authorization: `Bearer ${DEV_QSTASH_TOKEN}` },
      body: JSON.stringify([
        {
          destination: `${endpointUrl}/three-steps`,
          headers: { "Upstash-Workflow-RunId": first.workflowRunId, "Upstash-Workflow-Init": "true" },
          body: "{}",
        },
      ]),
    });

    expect((await again.json()) as unknown).toEqual([expect.objectContaining({ deduplicated: true })]);
    await qstash.waitIdle();
    expect(trail).toEqual(["add", "double", "describe"]);
  });

  test("context.sleep of three days completes when advanceTime skips three days", async () => {
    const { workflowRunId } = await workflows.trigger({ url: `${endpointUrl}/sleeps`, body: {} });
    await qstash.waitIdle();
    expect(trail).toEqual(["before"]);
    expect(qstash.dev.workflowRun(workflowRunId)?.ended).toBeUndefined();

    qstash.advanceTime(3 * DAY_MS - 1_000);
    await qstash.waitIdle();
    expect(trail).toEqual(["before"]);

    qstash.advanceTime(1_000);
    const run = await qstash.dev.waitForRun(workflowRunId);
    expect(trail).toEqual(["before", "after"]);
    expect(run.ended?.cancelled).toBe(false);
  });
});

describe("counters and control routes", () => {
  test("a 3-step run costs 4 deliveries to the endpoint and 5 requests to qstash-dev", async () => {
    const { workflowRunId } = await workflows.trigger({ url: `${endpointUrl}/three-steps`, body: { n: 1 } });
    await qstash.dev.waitForRun(workflowRunId);

    const stats = qstash.dev.stats();
    expect(stats.deliveries).toBe(4);
    expect(stats.requests).toBe(5); // the trigger, three step publishes, the DELETE
    expect(stats.destinations).toEqual({ [`${endpointUrl}/three-steps`]: { deliveries: 4, bytes: stats.bytesDelivered } });
    expect(stats.bytesReceived).toBeGreaterThan(0);
  });

  test("resetStats zeroes every counter", async () => {
    const { workflowRunId } = await workflows.trigger({ url: `${endpointUrl}/three-steps`, body: { n: 1 } });
    await qstash.dev.waitForRun(workflowRunId);
    qstash.dev.resetStats();

    expect(qstash.dev.stats()).toEqual({ requests: 0, bytesReceived: 0, deliveries: 0, bytesDelivered: 0, destinations: {} });
  });

  test("GET /_dev/wait/:runId answers once the run ended, and /_dev/stats and /_dev/reset mirror stats()", async () => {
    const { workflowRunId } = await workflows.trigger({ url: `${endpointUrl}/three-steps`, body: { n: 1 } });
    const waited = await fetch(`${qstash.url}/_dev/wait/${workflowRunId}`);
    expect(waited.status).toBe(200);
    expect((await waited.json()) as unknown).toMatchObject({ runId: workflowRunId, pending: 0, ended: { cancelled: false } });

    expect((await (await fetch(`${qstash.url}/_dev/stats`)).json()) as unknown).toEqual(qstash.dev.stats());
    expect((await fetch(`${qstash.url}/_dev/reset`, { method: "POST" })).status).toBe(204);
    expect(qstash.dev.stats().requests).toBe(0);
  });

  test("the /_dev routes refuse a caller that is not on loopback", async () => {
    const response = await qstash.dev.fetch(new Request("http://qstash.test/_dev/stats"), { remoteAddress: "10.1.2.3" });
    expect(response.status).toBe(403);
  });
});
