// The dashboard in a real browser: Debian's Chromium driven by playwright-core, against the app served by
// Bun.serve on a loopback port. The tests run in order and share one page: a run is started, watched live
// until it halts, approved, and then looked at on a phone-sized screen. Runs "started two hours ago" (an app on
// the same store with a clock in the past) are stuck by now: their jobs were lost or their worker hangs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { type Browser, chromium, type Page } from "playwright-core";
import { loadExamples } from "../../examples/index.ts";
import { createApp } from "../../routes/app.ts";
import { loadWorkflow } from "../../src/definition/load.ts";
import { ManualClock } from "../../src/engine/clock.ts";
import { InlineAdapter } from "../../src/runners/adapters/inline.ts";
import type { QueueAdapter } from "../../src/runners/jobs.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import type { ServiceMethod, Services } from "../../src/types.ts";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = "test-output/dashboard";
const TOKEN = "dashboard-test-token-7c1e";
const MARKUP = "<script>alert(1)</script>";
/** A time as the page shows it: in the browser's zone (its offset at that date) or UTC. */
const TIME = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC(?:[+-]\d{1,2}(?::\d\d)?)?`;

/** Over 1000 in total: the order halts at `manager_approval`. */
const ORDER = {
  order_id: "BIG-7",
  customer_id: MARKUP,
  items: [{ sku: "LAPTOP", quantity: 1, price: 1499 }],
  payment: { card: "4242424242424242" },
};

/** A halt that is not an approval: the page offers a JSON response form. */
const FEEDBACK = loadWorkflow({
  id: "feedback",
  name: "Feedback",
  inputs: { topic: { type: "string" } },
  steps: [
    { id: "start", type: "start", next: "ask" },
    { id: "ask", type: "halt", reason: "What do you think of $input.topic?", next: "finish" },
    { id: "finish", type: "end", result: { topic: "$input.topic", answer: "$response" } },
  ],
});

/** One call: for a run whose job is lost, a worker that dies mid-call, and a call that fails once. */
const callOnce = (id: string) =>
  loadWorkflow({
    id,
    name: id,
    steps: [
      { id: "start", type: "start", next: "work" },
      { id: "work", type: "call", service: id, output: "done", next: "finish" },
      { id: "finish", type: "end", result: { done: "$done" } },
    ],
  });
const CHORE = callOnce("chore");
const HANG = callOnce("hang");
const FLAKY = callOnce("flaky");

/** A loop whose `weigh` call takes as long as its item says (on a manual clock) and a pure step after it. */
const TALLY = loadWorkflow({
  id: "tally",
  name: "Tally",
  inputs: { weights: { type: "array" } },
  steps: [
    { id: "start", type: "start", next: "each" },
    {
      id: "each",
      type: "loop",
      over: "$input.weights",
      as: "ms",
      output: "weighed",
      do: [
        { id: "weigh", type: "call", service: "weigh", input: { ms: "$ms" }, output: "w" },
        { id: "note", type: "assign", set: { last: "$w" } },
      ],
      next: "finish",
    },
    { id: "finish", type: "end", result: { weighed: "$weighed" } },
  ],
});

/** A booking undone after the next step fails: its compensation shows in the timeline. */
const SAGA = loadWorkflow({
  id: "saga",
  name: "Saga",
  steps: [
    { id: "start", type: "start", next: "book" },
    { id: "book", type: "call", service: "book", output: "booking", compensate: { service: "unbook", input: "$booking" }, next: "pay" },
    { id: "pay", type: "call", service: "decline", next: "finish" },
    { id: "finish", type: "end" },
  ],
});

/** A day-long wait: pending with its wake time. */
const NAP = loadWorkflow({
  id: "nap",
  name: "Nap",
  steps: [
    { id: "start", type: "start", next: "sleep" },
    { id: "sleep", type: "wait", seconds: 86_400, next: "finish" },
    { id: "finish", type: "end", result: { rested: true } },
  ],
});

/** A run that waits for its parcel to ship; also started by a schedule and by an event. */
const PARCEL = loadWorkflow({
  id: "parcel",
  name: "Parcel",
  inputs: { order: { type: "string" } },
  triggers: [{ cron: "0 9 * * mon", timezone: "Europe/Paris", input: { order: "weekly" } }, { event: "order:placed" }],
  steps: [
    { id: "start", type: "start", next: "shipped" },
    {
      id: "shipped",
      type: "wait_for_event",
      event: ["order:shipped", "order:lost"],
      match: { field: "event.order", value: "$input.order" },
      timeout: 86_400,
      output: "parcel",
      next: "finish",
    },
    { id: "finish", type: "end", result: "$parcel.payload" },
  ],
});

/** One run at a time: its call never returns, so a second run waits for the slot. */
const LINE = loadWorkflow({
  id: "line",
  name: "Line",
  concurrency: { limit: 1 },
  steps: [
    { id: "start", type: "start", next: "hold" },
    { id: "hold", type: "call", service: "hold", next: "finish" },
    { id: "finish", type: "end" },
  ],
});

const available = existsSync(CHROMIUM);
if (!available && !process.env.CI) {
  console.warn(`\n!!! ${CHROMIUM} is missing: SKIPPING the dashboard browser tests (apt-get install -y chromium) !!!\n`);
}

/** A promise the test resolves by hand. */
function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** Every service method waits for the gate, then a little per call, so steps land one after another. */
function gated(services: Services, opened: Promise<void>): Services {
  const wrap = (method: ServiceMethod): ServiceMethod => async (input, context) => {
    await opened;
    await Bun.sleep(60);
    return method(input, context);
  };
  return Object.fromEntries(
    Object.entries(services).map(([name, service]) => [
      name,
      typeof service === "function" ? wrap(service) : Object.fromEntries(Object.entries(service).map(([m, fn]) => [m, wrap(fn)])),
    ]),
  );
}

(available ? describe : process.env.CI ? describe : describe.skip)("dashboard in Chromium", () => {
  let server: ReturnType<typeof Bun.serve>;
  let browser: Browser;
  let page: Page;
  let base = "";
  let executionId = "";
  const services = gate();
  const requests: { url: string; authorization?: string }[] = [];
  const dialogs: string[] = [];
  const consoleErrors: string[] = [];
  const pageErrors: string[] = [];
  let store: MemoryStore;
  /** Starts a run through the API: now, or two hours ago with its job lost or run in the background. */
  let start: (
    workflowId: string,
    when: "now" | "earlier" | "earlier, job lost",
    input?: object,
    labels?: Record<string, string>,
  ) => Promise<string>;
  let hangCalls = 0;
  let flakyCalls = 0;

  beforeAll(async () => {
    if (!available) throw new Error(`${CHROMIUM} is missing and CI is set: install it (apt-get install -y chromium)`);
    mkdirSync(SHOTS, { recursive: true });
    store = new MemoryStore();
    const examples = loadExamples();
    const lifecycle: Services = {
      chore: () => Promise.resolve("chore done"),
      hold: () => new Promise(() => {}),
      // The first call never answers: its worker is gone, and its lease runs out.
      hang: () => (++hangCalls === 1 ? new Promise(() => {}) : Promise.resolve("taken over")),
      flaky: () => (++flakyCalls === 1 ? Promise.reject(new Error("upstream is down")) : Promise.resolve("worked")),
      book: () => Promise.resolve("B-1"),
      unbook: (input: string) => Promise.resolve(`released ${input}`),
      decline: () => Promise.reject(new Error("card declined")),
      // Runs started "earlier" only: the call takes `ms` on that app's manual clock.
      weigh: (input: { ms: number }) => {
        past.advance(input.ms);
        return Promise.resolve(input.ms);
      },
    };
    const runnerOptions = {
      store,
      services: { ...gated(examples.services, services.opened), ...lifecycle },
      workflows: [...examples.workflows, FEEDBACK, CHORE, HANG, FLAKY, NAP, TALLY, PARCEL, SAGA, LINE],
    };
    const inline = new InlineAdapter(runnerOptions);
    // Jobs run in the background, so POST answers 202 at once and the page watches the run happen.
    const adapter: QueueAdapter = {
      enqueue(job, options) {
        inline.enqueue(job, options).catch(() => {});
        return Promise.resolve();
      },
    };
    const app = createApp({ ...runnerOptions, token: TOKEN, adapter });
    // The same app two hours ago, on the same store: what it left behind is stuck by now.
    const past = new ManualClock(Date.now() - 2 * 3600_000);
    const pastInline = new InlineAdapter({ ...runnerOptions, clock: () => past.now() });
    let lost = false;
    const earlier = createApp({
      ...runnerOptions,
      token: TOKEN,
      clock: () => past.now(),
      adapter: {
        enqueue(job, options) {
          if (!lost) pastInline.enqueue(job, options).catch(() => {});
          return Promise.resolve();
        },
      },
    });
    start = async (workflowId, when, input = {}, labels) => {
      lost = when === "earlier, job lost";
      const response = await (when === "now" ? app : earlier).request(`/workflows/${workflowId}/executions`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ input, mode: "async", ...(labels ? { labels } : {}) }),
      });
      expect(response.status).toBe(202);
      return ((await response.json()) as { executionId: string }).executionId;
    };
    server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
    base = `http://127.0.0.1:${server.port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on("request", (request) => requests.push({ url: request.url(), authorization: request.headers().authorization }));
    page.on("console", (message) => void (message.type() === "error" && consoleErrors.push(message.text())));
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
  });

  afterAll(async () => {
    await browser?.close();
    server?.stop(true);
  });

  const status = () => page.locator(".status-slot .badge");

  /** Opens the dashboard on `on`, recording its requests into `into`, and gives the token: the workflows show. */
  const signIn = async (on: Page, into: { url: string; authorization?: string }[]) => {
    on.on("request", (request) => into.push({ url: request.url(), authorization: request.headers().authorization }));
    await on.goto(`${base}/dashboard`);
    await on.locator("#token-input").fill(TOKEN);
    await on.locator("#token-form button").click();
    await on.locator(".workflow-card .diagram svg").first().waitFor();
  };

  test("asks for the token, then lists every workflow with its diagram", async () => {
    await page.goto(`${base}/dashboard`);
    await page.locator("#token-input").fill(TOKEN);
    await page.locator("#token-form button").click();
    await page.locator(".workflow-card .diagram svg").nth(12).waitFor();
    expect(await page.locator(".workflow-card").count()).toBe(13);
    expect(await page.locator('.workflow-card svg [data-step="manager_approval"]').count()).toBe(1);
    await page.screenshot({ path: `${SHOTS}/workflows.png`, fullPage: true });
  }, 20_000);

  test("starting an order over 1000 shows its timeline growing live until it halts", async () => {
    await page.locator('a.button[href="#/workflows/order_fulfillment"]').click();
    await page.locator("#run-input").fill(JSON.stringify(ORDER, null, 2));
    await page.locator("#run-form button").click();
    await page.waitForURL(/#\/executions\//);
    executionId = decodeURIComponent(new URL(page.url()).hash.slice("#/executions/".length));
    await page.locator(".status-slot .badge.status-running").waitFor();
    expect(await page.locator('.timeline .entry[data-step="validate"]').count()).toBe(0);

    services.open();
    await page.locator('.timeline .entry[data-step="calculate_totals"]').waitFor();
    await page.locator(".halt.approval").waitFor();
    expect(await status().textContent()).toBe("halted");
    expect(await page.locator(".halt .prompt").textContent()).toBe("Approve order BIG-7 for 1624.91?");
    expect(await page.locator(".meta .wake").textContent()).toMatch(new RegExp(`^expires ${TIME}$`));
    expect(await page.locator(".timeline .entry.action-halted .entry-step").textContent()).toBe("manager_approval");
    expect(requests.some((r) => r.url === `${base}/executions/${executionId}/events`)).toBe(true);
    await page.screenshot({ path: `${SHOTS}/execution-halted.png`, fullPage: true });
  }, 20_000);

  test("highlights the path taken on the diagram", async () => {
    const visited = page.locator(".diagram svg .dw-visited");
    await page.locator('.diagram svg .dw-current[data-step="manager_approval"]').waitFor();
    const steps = await visited.evaluateAll((nodes) => nodes.map((n) => n.getAttribute("data-step")));
    expect(steps).toContain("route_total");
    expect(steps).not.toContain("invalid_order");
  }, 10_000);

  test("a ctx value holding markup is shown as text and runs nothing", async () => {
    expect(await page.locator(".halt pre.json").textContent()).toContain(`"customer_id": "${MARKUP}"`);
    expect(await page.locator("main script").count()).toBe(0);
    expect(dialogs).toEqual([]);
  });

  test("approving the halted order completes it, live", async () => {
    await page.locator("button.approve").click();
    await page.locator(".status-slot .badge.status-completed").waitFor({ timeout: 15_000 });
    expect(await page.locator('.timeline .entry[data-step="finish"]').count()).toBe(1);
    const result = JSON.parse((await page.locator(".data-slot details[open] pre.json").first().textContent())!);
    expect(result).toMatchObject({ order_id: "BIG-7", status: "completed", payment_id: "PAY-BIG-7" });
    await page.screenshot({ path: `${SHOTS}/execution-completed.png`, fullPage: true });
  }, 20_000);

  test("a halt that is not an approval is answered with a JSON response", async () => {
    await page.goto(`${base}/dashboard#/workflows/feedback`);
    await page.locator("#run-input").fill(JSON.stringify({ topic: "the dashboard" }));
    await page.locator("#run-form button").click();
    await page.locator("#resume-response").waitFor();
    expect(await page.locator(".halt .prompt").textContent()).toBe("What do you think of the dashboard?");
    await page.locator("#resume-response").fill('{ "stars": 5 }');
    await page.locator(".halt form button").click();
    await page.locator(".status-slot .badge.status-completed").waitFor();
    const result = JSON.parse((await page.locator(".data-slot details[open] pre.json").first().textContent())!);
    expect(result).toEqual({ topic: "the dashboard", answer: { stars: 5 } });
  }, 20_000);

  test("the executions list pages with the API's cursor, newest first", async () => {
    await page.goto(`${base}/dashboard#/executions?limit=1`);
    await page.locator("#load-more").waitFor();
    expect(await page.locator("table.executions tbody tr td[data-label=Workflow]").allTextContents()).toEqual(["feedback"]);
    await page.locator("#load-more").click();
    await page.locator("table.executions tbody tr").nth(1).waitFor();
    expect(await page.locator("table.executions tbody tr td[data-label=Workflow]").allTextContents()).toEqual([
      "feedback",
      "order_fulfillment",
    ]);
    await page.locator("#load-more").waitFor({ state: "hidden" });
  }, 20_000);

  test("the executions list filters by workflow and status", async () => {
    await page.goto(`${base}/dashboard#/executions`);
    await page.locator("table.executions tbody tr").nth(1).waitFor();
    await page.screenshot({ path: `${SHOTS}/executions.png`, fullPage: true });
    await page.locator("#filter-workflow").selectOption("order_fulfillment");
    await page.waitForURL(/workflow=order_fulfillment/);
    await page.locator("#filter-status").selectOption("completed");
    await page.waitForURL(/workflow=order_fulfillment&status=completed/);
    await page.locator(`table.executions a[href="#/executions/${encodeURIComponent(executionId)}"]`).waitFor();
    expect(await page.locator("table.executions tbody tr").count()).toBe(1);
    await page.locator("#filter-status").selectOption("failed");
    await page.locator(".results p.muted", { hasText: "No executions." }).waitFor();
    expect(await page.locator(".results").textContent()).toBe("No executions.");
  }, 20_000);

  test("a pending run whose job was lost shows stuck since its last update, in the list and on its page; Recover finishes it", async () => {
    const id = await start("chore", "earlier, job lost");
    await page.goto(`${base}/dashboard#/executions?workflow=chore`);
    const row = page.locator("table.executions tbody tr");
    await row.first().waitFor();
    expect(await row.locator(".badge").textContent()).toBe("pending");
    expect(await row.locator(".stuck").textContent()).toMatch(new RegExp(`^stuck since ${TIME}$`));
    await row.locator("a").click();
    await page.locator(".status-slot .stuck").waitFor();
    await page.screenshot({ path: `${SHOTS}/execution-stuck.png`, fullPage: true });
    await page.locator("button.recover").click();
    await page.locator(".status-slot .badge.status-completed").waitFor({ timeout: 15_000 });
    expect(await page.locator(".status-slot .stuck").count()).toBe(0);
    expect((await store.load(id))?.result).toEqual({ done: "chore done" });
    await page.locator(".operator-actions li").waitFor();
    expect(await page.locator(".operator-actions li").allTextContents()).toEqual([expect.stringMatching(/^recovered by api-token · /)]);
  }, 20_000);

  test("Recover while the lease is live shows the 409's detail; once the lease has expired, Recover takes the run over", async () => {
    const id = await start("hang", "earlier");
    const running = async () => {
      const execution = await store.load(id);
      return execution?.status === "running" && hangCalls === 1 ? execution : null;
    };
    while (!(await running())) await Bun.sleep(10);
    const expired = (await running())!;

    // The worker is alive after all (its lease is renewed), but a browser whose clock runs ten minutes ahead
    // sees the lease as expired.
    const leaseUntil = new Date(Date.now() + 60_000).toISOString();
    await store.save({ ...expired, leaseUntil }, { expectedRevision: expired.revision });
    const ahead = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await ahead.clock.setFixedTime(Date.now() + 10 * 60_000);
      await ahead.goto(`${base}/dashboard#/executions/${encodeURIComponent(id)}`);
      await ahead.locator("#token-input").fill(TOKEN);
      await ahead.locator("#token-form button").click();
      await ahead.locator(".status-slot .stuck").waitFor();
      await ahead.locator("button.recover").click();
      await ahead.locator(".run-actions .error", { hasText: `running under a live lease until ${leaseUntil}` }).waitFor();
      expect(await ahead.locator("button.recover").isEnabled()).toBe(true);
    } finally {
      await ahead.close();
    }

    // The worker dies: its lease runs out.
    const renewed = (await running())!;
    await store.save({ ...renewed, leaseUntil: expired.leaseUntil }, { expectedRevision: renewed.revision });
    await page.goto(`${base}/dashboard#/executions/${encodeURIComponent(id)}`);
    expect(await page.locator(".status-slot .stuck").textContent()).toMatch(/^stuck since /);
    await page.locator("button.recover").click();
    await page.locator(".status-slot .badge.status-completed").waitFor({ timeout: 15_000 });
    expect((await store.load(id))?.result).toEqual({ done: "taken over" });
  }, 20_000);

  test("Cancel asks for an optional reason, cancels a halted run and shows it; the status filter finds cancelled runs", async () => {
    const id = await start("feedback", "now", { topic: "cancelling" });
    await page.goto(`${base}/dashboard#/executions/${encodeURIComponent(id)}`);
    await page.locator(".halt form").waitFor();
    expect(await page.locator("#cancel-form").isHidden()).toBe(true);
    await page.locator("button.cancel").click();
    await page.locator("#cancel-reason").fill("asked twice");
    await page.locator("#cancel-form button[type=submit]").click();
    await page.locator(".status-slot .badge.status-cancelled").waitFor();
    expect(await page.locator(".data-slot .failure").textContent()).toBe("Cancelled: asked twice");
    expect(await page.locator(".halt-slot").textContent()).toBe("");
    expect(await page.locator(".actions-slot").textContent()).toBe("");
    await page.locator(".operator-actions li").waitFor();
    expect(await page.locator(".operator-actions li").allTextContents()).toEqual([expect.stringMatching(/^cancelled by api-token · /)]);
    await page.goto(`${base}/dashboard#/executions?status=cancelled`);
    await page.locator(`table.executions a[href="#/executions/${encodeURIComponent(id)}"]`).waitFor();
    expect(await page.locator("table.executions tbody .badge.status-cancelled").count()).toBe(1);
  }, 20_000);

  test("the label filter finds a customer's runs; Cancel matching previews them, asks to confirm, and reports each", async () => {
    const ids = [
      await start("feedback", "now", { topic: "bulk 1" }, { customer: "C-7" }),
      await start("feedback", "now", { topic: "bulk 2" }, { customer: "C-7" }),
    ];
    const other = await start("feedback", "now", { topic: "bulk 3" }, { customer: "C-8" });
    await page.goto(`${base}/dashboard#/executions`);
    await page.locator("#filter-labels").fill("customer=C-7");
    await page.locator("#filter-labels").dispatchEvent("change");
    await page.waitForURL(/labels=customer%3DC-7/);
    await page.locator("table.executions tbody tr").nth(1).waitFor();
    expect(await page.locator("table.executions tbody tr").count()).toBe(2);
    expect(await page.locator("table.executions td[data-label=Labels]").allTextContents()).toEqual(["customer=C-7", "customer=C-7"]);
    await page.locator("#bulk-cancel").click();
    await page.locator("#bulk-preview").waitFor();
    expect(await page.locator("#bulk-preview").textContent()).toBe("2 executions will be cancelled:");
    expect((await store.load(ids[0]!))?.status).toBe("halted");
    await page.locator("#bulk-confirm").click();
    await page.locator(".bulk-results li").nth(1).waitFor();
    expect(await page.locator(".bulk-results li").allTextContents()).toEqual([`${ids[1]} — cancelled`, `${ids[0]} — cancelled`]);
    expect((await store.load(other))?.status).toBe("halted");
  }, 20_000);

  test("Retry runs a failed execution again from the failed step, and it now succeeds", async () => {
    const id = await start("flaky", "now");
    await page.goto(`${base}/dashboard#/executions/${encodeURIComponent(id)}`);
    await page.locator(".status-slot .badge.status-failed").waitFor();
    expect(await page.locator(".data-slot .failure").textContent()).toContain("upstream is down");
    expect(await page.locator("button.cancel").count()).toBe(0);
    await page.locator("button.retry").click();
    await page.locator(".status-slot .badge.status-completed").waitFor({ timeout: 15_000 });
    expect(flakyCalls).toBe(2);
    await page.locator(".operator-actions li").waitFor();
    expect(await page.locator(".operator-actions li").allTextContents()).toEqual([expect.stringMatching(/^retried by api-token · /)]);
    const result = JSON.parse((await page.locator(".data-slot details[open] pre.json").first().textContent())!);
    expect(result).toEqual({ done: "worked" });
  }, 20_000);

  test("a failed run's compensations show in its timeline, the run says compensated and offers no Retry", async () => {
    const id = await start("saga", "now");
    await page.goto(`${base}/dashboard#/executions/${encodeURIComponent(id)}`);
    await page.locator(".status-slot .badge.compensated").waitFor();
    expect(await page.locator(".status-slot .badge.status-failed").count()).toBe(1);
    const undo = page.locator('.timeline .entry.action-compensated[data-step="book"]');
    expect(await undo.locator(".badge").textContent()).toBe("compensated");
    expect(await undo.locator("pre.json").textContent()).toContain("released B-1");
    expect(await page.locator("button.retry").count()).toBe(0);
  }, 20_000);

  test("a waiting run shows when it wakes, and is not stuck", async () => {
    const id = await start("nap", "now");
    const wakeAt = (await store.load(id))!.wakeAt!;
    await page.goto(`${base}/dashboard#/executions/${encodeURIComponent(id)}`);
    await page.locator(".status-slot .badge.status-pending").waitFor();
    const expected = await page.evaluate((iso) => {
      const d = new Date(iso);
      const pad = (n: number) => String(n).padStart(2, "0");
      const offset = -d.getTimezoneOffset();
      const zone = offset === 0
        ? "UTC"
        : `UTC${offset < 0 ? "-" : "+"}${Math.floor(Math.abs(offset) / 60)}${
          Math.abs(offset) % 60 ? `:${pad(Math.abs(offset) % 60)}` : ""
        }`;
      return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${
        pad(d.getSeconds())
      } ${zone}`;
    }, wakeAt);
    expect(await page.locator(".meta .wake").textContent()).toBe(`waits until ${expected}`);
    expect(await page.locator(".stuck").count()).toBe(0);
    expect(await page.locator("button.cancel").count()).toBe(1);
  }, 20_000);

  test("a workflow's page lists its stored versions with the runs standing on each", async () => {
    const nap = (await (await fetch(`${base}/workflows/nap`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
      hash: string;
      version: string;
    };
    await page.goto(`${base}/dashboard#/workflows/nap`);
    const row = page.locator("table.versions tbody tr");
    await row.first().waitFor();
    expect(await row.count()).toBe(1);
    const [version, hash, stored, ...rest] = await row.locator("td").allTextContents();
    expect([version, hash, ...rest]).toEqual([`v${nap.version}`, nap.hash.slice(0, 12), "current", "0", "1"]);
    expect(stored).toMatch(new RegExp(`^${TIME}$`));
    await page.screenshot({ path: `${SHOTS}/workflow-versions.png`, fullPage: true });
  }, 20_000);

  test("a workflow with a limit shows each key's usage, and a waiting run says why it waits", async () => {
    await start("line", "now");
    const second = await start("line", "now");
    for (let i = 0; i < 200 && !(await store.load(second))?.flow?.waiting; i++) await new Promise((r) => setTimeout(r, 10));
    await page.goto(`${base}/dashboard#/workflows/line`);
    const row = page.locator("table.flow tbody tr");
    await row.first().waitFor();
    expect(await row.first().locator("td").allTextContents()).toEqual(["concurrency", "*", "1 / 1", "1"]);
    await page.goto(`${base}/dashboard#/executions/${encodeURIComponent(second)}`);
    await page.locator(".flow-waiting").waitFor();
    expect(await page.locator(".flow-waiting").textContent()).toBe(
      "Flow control: waiting for a concurrency slot of key * (1/1), position 1",
    );
    await page.screenshot({ path: `${SHOTS}/workflow-flow.png`, fullPage: true });
  }, 20_000);

  test("every time shows its zone on one line: the browser's by default, UTC once chosen", async () => {
    const kolkata = await browser.newPage({ viewport: { width: 1280, height: 900 }, timezoneId: "Asia/Kolkata" });
    try {
      await kolkata.goto(`${base}/dashboard#/workflows/nap`);
      await kolkata.locator("#token-input").fill(TOKEN);
      await kolkata.locator("#token-form button").click();
      const started = kolkata.locator(".recent td[data-label=Started] time").first();
      await started.waitFor();
      const iso = (await started.getAttribute("datetime"))!;
      const text = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace("T", " ");
      expect(await started.textContent()).toBe(`${text(Date.parse(iso) + 330 * 60_000)} UTC+5:30`);
      for (const time of await kolkata.locator("main time").all()) {
        expect(await time.evaluate((el) => el.getClientRects().length)).toBe(1);
      }
      await kolkata.screenshot({ path: `${SHOTS}/workflow-recent-kolkata.png`, fullPage: true });
      await kolkata.locator("#time-zone").selectOption("utc");
      await kolkata.locator(".recent td[data-label=Started] time", { hasText: / UTC$/ }).waitFor();
      expect(await kolkata.locator(".recent td[data-label=Started] time").first().textContent()).toBe(`${text(Date.parse(iso))} UTC`);
      await kolkata.reload();
      await kolkata.locator(".recent td[data-label=Started] time", { hasText: / UTC$/ }).waitFor();
    } finally {
      await kolkata.close();
    }
  }, 20_000);

  test("loop iterations are numbered #1…, and a step under a millisecond draws no bar", async () => {
    const id = await start("tally", "earlier", { weights: [1500, 0, 0] });
    await page.goto(`${base}/dashboard#/executions/${encodeURIComponent(id)}`);
    await page.locator(".status-slot .badge.status-completed").waitFor();
    const entries = (step: string) => page.locator(`.timeline .entry[data-step="${step}"]`);
    expect(await entries("each:weigh").locator(".entry-iteration").allTextContents()).toEqual(["#1", "#2", "#3"]);
    expect(await entries("each:note").locator(".entry-iteration").allTextContents()).toEqual(["#1", "#2", "#3"]);
    expect(await entries("each").locator(".entry-iteration").count()).toBe(0);
    expect(await entries("each:weigh").locator(".entry-duration").allTextContents()).toEqual(["1.50 s", "< 1 ms", "< 1 ms"]);
    expect(await entries("each:weigh").locator(".bar").count()).toBe(1);
    expect(await entries("each:note").locator(".bar").count()).toBe(0);
    expect(await entries("each:note").locator(".entry-duration").allTextContents()).toEqual(["< 1 ms", "< 1 ms", "< 1 ms"]);
    await page.screenshot({ path: `${SHOTS}/execution-loop.png`, fullPage: true });
  }, 20_000);

  test("a run waiting for an event shows what it waits for and until when; the send-event form wakes it", async () => {
    const id = await start("parcel", "now", { order: "A-1" });
    await page.goto(`${base}/dashboard#/executions/${encodeURIComponent(id)}`);
    await page.locator(".halt.event").waitFor();
    expect(await page.locator(".halt.event .prompt").textContent()).toBe("order:shipped or order:lost");
    expect(await page.locator(".halt.event dt").allTextContents()).toEqual(["Requested", "Expires"]);
    expect(await page.locator("#event-name option").allTextContents()).toEqual(["order:shipped", "order:lost"]);
    await page.locator("#event-payload").fill('{ "order": "A-1", "carrier": "DHL" }');
    await page.locator(".halt.event form button").click();
    await page.locator(".status-slot .badge.status-completed").waitFor();
    expect((await store.load(id))!.result).toEqual({ order: "A-1", carrier: "DHL" });
  }, 20_000);

  test("a workflow's page lists its triggers with the next start of each schedule", async () => {
    await page.goto(`${base}/dashboard#/workflows/parcel`);
    const items = page.locator(".triggers li");
    await items.first().waitFor();
    const [cron, event] = await items.allTextContents();
    expect(cron).toMatch(/^Cron 0 9 \* \* mon \(Europe\/Paris\) · next start \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\S*$/);
    expect(event).toBe("On event order:placed");
  }, 20_000);

  test("on a phone-sized screen the pages fit the width", async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    try {
      await signIn(phone, requests);
      await phone.screenshot({ path: `${SHOTS}/phone-workflows.png` });
      await phone.goto(`${base}/dashboard#/executions/${encodeURIComponent(executionId)}`);
      await phone.locator(".diagram svg .dw-current").waitFor();
      const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow).toBe(0);
      await phone.screenshot({ path: `${SHOTS}/phone-execution.png` });
      await phone.screenshot({ path: `${SHOTS}/phone-execution-full.png`, fullPage: true });
    } finally {
      await phone.close();
    }
  }, 20_000);

  test("the page breaks no rule of its Content-Security-Policy (Trusted Types included)", () => {
    expect(consoleErrors.filter((text) => /Content Security Policy|Trusted ?(Type|HTML|Script)/i.test(text))).toEqual([]);
  });

  test("the script throws no uncaught error", () => {
    expect(pageErrors).toEqual([]);
  });

  test("the token travels in the Authorization header, never in a URL", async () => {
    // Its own page, so it holds without the tests before it (and then also for every request they made).
    const own = await browser.newPage();
    const seen: { url: string; authorization?: string }[] = [];
    try {
      await signIn(own, seen);
    } finally {
      await own.close();
    }
    const all = [...requests, ...seen];
    const api = all.filter((r) => r.authorization);
    expect(seen.filter((r) => r.authorization).length).toBeGreaterThan(0);
    expect(api.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(all.filter((r) => r.url.includes(TOKEN) || r.url.includes(encodeURIComponent(TOKEN)))).toEqual([]);
  }, 20_000);
});
