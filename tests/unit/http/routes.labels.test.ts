import { describe, expect, test } from "bun:test";
import { loadWorkflow } from "../../../src/definition/load.ts";
import { ValidationError } from "../../../src/errors.ts";
import { problemOf, send, setup } from "../../support/routes.ts";

/** Halts at once; its definition labels every run with the input's customer. */
const labelled = loadWorkflow({
  id: "labelled",
  name: "Labelled",
  inputs: { customer_id: { type: "string" }, note: { type: "string", required: false } },
  labels: { customer: "$input.customer_id", kind: "demo" },
  steps: [
    { id: "start", type: "start", next: "wait" },
    { id: "wait", type: "halt", reason: "Go on?", next: "finish" },
    { id: "finish", type: "end", result: "done" },
  ],
});

function app() {
  return setup({ workflows: [labelled] });
}

async function start(t: ReturnType<typeof app>, customer: string, labels?: Record<string, string>) {
  const response = await send(t.app, "POST", "/workflows/labelled/executions", {
    mode: "sync",
    input: { customer_id: customer },
    ...(labels ? { labels } : {}),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { executionId: string }).executionId;
}

async function list(t: ReturnType<typeof app>, query: string) {
  const response = await t.app.request(`/executions?${query}`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { executions: { id: string; status: string; labels: Record<string, string> }[] }).executions;
}

describe("labels and search", () => {
  test("a start's labels join the definition's resolved labels, and the list filters by them", async () => {
    const t = app();
    const mine = await start(t, "C-7", { batch: "b1" });
    await start(t, "C-8", { batch: "b1" });
    const found = await list(t, "label.customer=C-7");
    expect(found.map((e) => [e.id, e.labels])).toEqual([[mine, { customer: "C-7", kind: "demo", batch: "b1" }]]);
    expect((await list(t, "label.batch=b1&label.kind=demo")).length).toBe(2);
    expect(await list(t, "label.customer=C-7&status=completed")).toEqual([]);
  });

  test("a start with a bad label is refused with 422 naming it, and nothing is stored", async () => {
    const t = app();
    const response = await send(t.app, "POST", "/workflows/labelled/executions", {
      mode: "sync",
      input: { customer_id: "C-7" },
      labels: { "no spaces": "x" },
    });
    const problem = await problemOf(response);
    expect(problem.status).toBe(422);
    expect(problem.body.errors?.map((e) => e.path)).toEqual(["labels.no spaces"]);
    expect((await t.store.find()).executions).toEqual([]);
  });

  test("a bad label filter or time bound is a 400 naming it", async () => {
    const t = app();
    const bad = await problemOf(await t.app.request("/executions?label.x=" + "v".repeat(201)));
    expect(bad.status).toBe(400);
    expect(bad.body.errors?.[0]?.path).toBe("label filter.x");
    const time = await problemOf(await t.app.request("/executions?createdFrom=yesterday"));
    expect([400, 422]).toContain(time.status);
    expect(JSON.stringify(time.body)).toContain("createdFrom");
  });

  test("the list filters by created range", async () => {
    const t = app();
    const ids = [await start(t, "A"), await start(t, "B"), await start(t, "C")];
    const all = await list(t, "");
    const created = new Map(all.map((e) => [e.id, (e as unknown as { createdAt: string }).createdAt]));
    const found = await list(t, `createdFrom=${created.get(ids[1]!)}&createdTo=${created.get(ids[2]!)}`);
    expect(found.map((e) => e.id)).toEqual([ids[1]]);
  });

  test("a definition label may only reference a declared input", () => {
    const define = (labels: Record<string, string>) =>
      loadWorkflow({
        id: "w",
        name: "W",
        inputs: { a: { type: "string" } },
        labels,
        steps: [{ id: "start", type: "start", next: "finish" }, { id: "finish", type: "end" }],
      });
    expect(() => define({ x: "$ctx.y" })).toThrow("a label may only reference $input.<name>");
    expect(() => define({ x: "$input.b" })).toThrow('declares no input "b"');
    expect(() => define({ "bad name": "v" })).toThrow(ValidationError);
    expect(define({ x: "$input.a" }).labels).toEqual({ x: "$input.a" });
  });

  test("bulk cancel by label: a dry run changes nothing, then each selected execution is cancelled and reported", async () => {
    const t = app();
    const c7 = [await start(t, "C-7"), await start(t, "C-7"), await start(t, "C-7")];
    const other = await start(t, "C-8");
    const body = { filter: { labels: { customer: "C-7" } }, max: 10, reason: "customer left" };
    const dry = await send(t.app, "POST", "/executions/cancel", { ...body, dryRun: true });
    expect(dry.status).toBe(200);
    const dryAnswer = (await dry.json()) as { results: { executionId: string; status: string }[]; more: boolean };
    expect(dryAnswer.results.map((r) => [r.executionId, r.status])).toEqual(c7.map((id) => [id, "halted"]).reverse());
    expect((await t.store.load(c7[0]!))?.status).toBe("halted");

    const done = (await (await send(t.app, "POST", "/executions/cancel", body)).json()) as {
      results: { executionId: string; ok: boolean; status: string }[];
      more: boolean;
    };
    expect(done.results.map((r) => [r.executionId, r.ok, r.status])).toEqual(c7.map((id) => [id, true, "cancelled"]).reverse());
    expect(done.more).toBe(false);
    expect((await t.store.load(c7[0]!))?.error).toBe("Cancelled: customer left");
    expect((await t.store.load(other))?.status).toBe("halted");
  });

  test("bulk cancel acts on at most max executions and says there are more", async () => {
    const t = app();
    for (let i = 0; i < 3; i++) await start(t, "C-7");
    const answer =
      (await (await send(t.app, "POST", "/executions/cancel", { filter: { labels: { customer: "C-7" } }, max: 2 })).json()) as {
        results: unknown[];
        more: boolean;
      };
    expect(answer.results.length).toBe(2);
    expect(answer.more).toBe(true);
    expect((await list(t, "label.customer=C-7&status=halted")).length).toBe(1);
  });

  test("bulk retry refuses a status filter that cannot be retried", async () => {
    const t = app();
    const problem = await problemOf(await send(t.app, "POST", "/executions/retry", { filter: { status: "completed" }, max: 5 }));
    expect(problem.status).toBe(422);
    expect(problem.body.errors?.[0]?.path).toBe("filter.status");
  });

  test("bulk cancel without max is refused", async () => {
    const t = app();
    const problem = await problemOf(await send(t.app, "POST", "/executions/cancel", { filter: {} }));
    expect(problem.status).toBe(400);
    expect(problem.body.errors?.map((e) => e.path)).toEqual(["max"]);
  });
});
