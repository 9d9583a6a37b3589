// The dashboard in a real browser: Debian's Chromium driven by playwright-core, against the app served by
// Bun.serve on a loopback port. The tests run in order and share one page: a run is started, watched live
// until it halts, approved, and then looked at on a phone-sized screen.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { loadExamples } from "../examples/index.ts";
import { createApp } from "../routes/app.ts";
import { loadWorkflow } from "../src/definition/load.ts";
import { InlineAdapter } from "../src/runners/adapters/inline.ts";
import type { QueueAdapter } from "../src/runners/jobs.ts";
import { MemoryStore } from "../src/store/memory.ts";
import type { ServiceMethod, Services } from "../src/types.ts";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = "test-output/dashboard";
const TOKEN = "dashboard-test-token-7c1e";
const MARKUP = "<script>alert(1)</script>";

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
  return Object.fromEntries(Object.entries(services).map(([name, service]) => [
    name,
    typeof service === "function" ? wrap(service) : Object.fromEntries(Object.entries(service).map(([m, fn]) => [m, wrap(fn)])),
  ]));
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

  beforeAll(async () => {
    if (!available) throw new Error(`${CHROMIUM} is missing and CI is set: install it (apt-get install -y chromium)`);
    mkdirSync(SHOTS, { recursive: true });
    const store = new MemoryStore();
    const examples = loadExamples();
    const runnerOptions = { store, services: gated(examples.services, services.opened), workflows: [...examples.workflows, FEEDBACK] };
    const inline = new InlineAdapter(runnerOptions);
    // Jobs run in the background, so POST answers 202 at once and the page watches the run happen.
    const adapter: QueueAdapter = {
      enqueue(job, options) {
        inline.enqueue(job, options).catch(() => {});
        return Promise.resolve();
      },
    };
    const app = createApp({ ...runnerOptions, token: TOKEN, adapter });
    server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
    base = `http://127.0.0.1:${server.port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
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

  test("asks for the token, then lists every workflow with its diagram", async () => {
    await page.goto(`${base}/dashboard`);
    await page.locator("#token-input").fill(TOKEN);
    await page.locator("#token-form button").click();
    await page.locator(".workflow-card .diagram svg").nth(4).waitFor();
    expect(await page.locator(".workflow-card").count()).toBe(5);
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
    expect(await page.locator("table.executions tbody tr td[data-label=Workflow]").allTextContents()).toEqual(["feedback", "order_fulfillment"]);
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
    await page.locator(".results p.muted").waitFor();
    expect(await page.locator(".results").textContent()).toBe("No executions.");
  }, 20_000);

  test("on a phone-sized screen the pages fit the width", async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    phone.on("request", (request) => requests.push({ url: request.url(), authorization: request.headers().authorization }));
    try {
      await phone.goto(`${base}/dashboard`);
      await phone.locator("#token-input").fill(TOKEN);
      await phone.locator("#token-form button").click();
      await phone.locator(".workflow-card .diagram svg").first().waitFor();
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

  test("the token travels in the Authorization header, never in a URL", () => {
    const api = requests.filter((r) => r.authorization);
    expect(api.length).toBeGreaterThan(0);
    expect(api.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(requests.filter((r) => r.url.includes(TOKEN) || r.url.includes(encodeURIComponent(TOKEN)))).toEqual([]);
  });
});
