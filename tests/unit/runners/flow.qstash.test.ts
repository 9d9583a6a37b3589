// QStash mapping of flow control (issue 20): start jobs carry QStash's own flowControl; continuations never do.
import { describe, expect, test } from "bun:test";
import { loadWorkflow } from "../../../src/definition/load.ts";
import { QStashAdapter, type QStashClient } from "../../../src/runners/adapters/qstash.ts";
import { AsyncRunner } from "../../../src/runners/async.ts";
import { jobBody } from "../../../src/runners/jobs.ts";
import { MemoryStore } from "../../../src/store/memory.ts";

const workflow = loadWorkflow(`
id: payments
name: Payments
concurrency: { limit: 5, key: $input.customer }
rate: { limit: 100, period: 60, key: $input.customer }
steps:
  - id: start
    type: start
`);

function recordingClient() {
  const published: Record<string, unknown>[] = [];
  const client = {
    publishJSON: (request: Record<string, unknown>) => (published.push(request), Promise.resolve({ messageId: "m", url: "" })),
    queue: () => ({ enqueueJSON: (request: Record<string, unknown>) => (published.push(request), Promise.resolve({ messageId: "m" })) }),
  } as unknown as QStashClient;
  return { client, published };
}

describe("QStash flowControl", () => {
  test("a start job carries the workflow's limits as flowControl (key per workflow and key value)", async () => {
    const { client, published } = recordingClient();
    const adapter = new QStashAdapter({ client, callbackUrl: "https://app.example/qstash" });
    await new AsyncRunner(workflow, { store: new MemoryStore(), adapter }).run({ customer: "C 7" }, { executionId: "p-1" });
    expect(published[0]!.flowControl).toEqual({ key: "payments.C_207", parallelism: 5, rate: 100, period: 60 });
    expect(published[0]!.body).not.toHaveProperty("flowControl");
  });

  test("a continuation never carries flowControl, even when the job has it", async () => {
    const { client, published } = recordingClient();
    const adapter = new QStashAdapter({ client, callbackUrl: "https://app.example/qstash" });
    const flowControl = { key: "payments.C7", parallelism: 5 };
    await adapter.enqueue({ workflowId: "payments", executionId: "p-1", action: "continue", flowControl }, { key: "k" });
    expect(published[0]).not.toHaveProperty("flowControl");
    expect(jobBody({ workflowId: "payments", executionId: "p-1", action: "start", flowControl })).not.toHaveProperty("flowControl");
  });
});
