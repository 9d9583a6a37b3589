/**
 * The `http` step against a real HTTP server on 127.0.0.1 (Bun.serve on a free port), with a MemoryStore and a
 * ManualClock: retries, Retry-After, final statuses, idempotency keys across retries, takeovers, loop items, visits and
 * operator retries, the body cap, the allow-list, the private-address guard and secrets.
 */
import { afterAll, describe, expect, test } from "bun:test";
import {
  Engine,
  type EngineOptions,
  leaseWarnings,
  loadWorkflow,
  ManualClock,
  MemoryStore,
  validateWorkflow,
  type WorkflowEvent,
} from "../../../mod.ts";
import { createApp } from "../../../routes/app.ts";
import { isPrivateHost } from "../../../src/steps/http.ts";
import { countingStore } from "../../support/engine.ts";

interface Seen {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** A local server recording every request; `respond` decides the answer (default: 200 with `{ "ok": true }`). */
function startServer() {
  const seen: Seen[] = [];
  const state = {
    respond: (_request: Request, _n: number): Response | Promise<Response> => Response.json({ ok: true }),
  };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: async (request) => {
      const url = new URL(request.url);
      seen.push({
        method: request.method,
        path: url.pathname + url.search,
        headers: Object.fromEntries(request.headers),
        body: await request.text(),
      });
      return await state.respond(request, seen.length);
    },
  });
  return { origin: `http://127.0.0.1:${server.port}`, seen, state, stop: () => server.stop(true) };
}

const server = startServer();
afterAll(() => server.stop());

function reset(respond?: typeof server.state.respond) {
  server.seen.length = 0;
  server.state.respond = respond ?? (() => Response.json({ ok: true }));
}

/** A workflow `start → <steps> → finish (result: the whole ctx)` from YAML step lines. */
function flow(steps: string, extra = "") {
  return loadWorkflow(`
id: http_flow
name: HTTP flow
${extra}
steps:
  - id: start
    type: start
    next: ${/- id: (\S+)/.exec(steps)![1]}
${steps}
  - id: finish
    type: end
`);
}

/** `first` (once), then `poll` until the answer says `done`: poll sits on a cycle, first does not. */
const polling = () =>
  flow(`
  - id: first
    type: http
    url: ${server.origin}/first
    next: poll
  - id: poll
    type: http
    url: ${server.origin}/status
    output: status
    next: check
  - id: check
    type: router
    routes:
      - when: { field: status.body.done, op: eq, value: true }
        then: finish
    default: poll`);

function setup(workflow: ReturnType<typeof flow>, options: Partial<EngineOptions> = {}) {
  const store = new MemoryStore();
  const clock = new ManualClock("2026-05-01T00:00:00.000Z", { autoAdvance: true });
  const events: WorkflowEvent[] = [];
  const engine = new Engine(workflow, { store, clock, onEvent: (e) => events.push(e), ...options });
  return { store, clock, events, engine };
}

describe("http step: requests and responses", () => {
  test("a JSON response goes to ctx[output] as { status, headers, body } with the body parsed", async () => {
    reset(() => Response.json({ id: 7 }, { headers: { "x-request-id": "r-1" } }));
    const { engine } = setup(flow(`
  - id: get
    type: http
    url: ${server.origin}/orders/$input.id
    query: { expand: [items, customer], page: 2, skip: null }
    output: order
    next: finish`));
    const result = await engine.run({ id: "O-1" }, { executionId: "json" });
    expect(result.status).toBe("completed");
    const order = (result.output as { order: { status: number; headers: Record<string, string>; body: unknown } }).order;
    expect(order.status).toBe(200);
    expect(order.body).toEqual({ id: 7 });
    expect(order.headers["x-request-id"]).toBe("r-1");
    expect(server.seen.map((r) => [r.method, r.path])).toEqual([["GET", "/orders/O-1?expand=items&expand=customer&page=2"]]);
  });

  test("a body that is not a string is sent as JSON with its content type", async () => {
    reset(() => new Response("created", { status: 201 }));
    const { engine } = setup(flow(`
  - id: post
    type: http
    method: POST
    url: ${server.origin}/orders
    headers: { X-Tenant: $input.tenant }
    body: { id: $input.id, qty: 2 }
    output: created
    next: finish`));
    const result = await engine.run({ id: "O-2", tenant: "acme" }, { executionId: "post" });
    expect((result.output as { created: unknown }).created).toMatchObject({ status: 201, body: "created" });
    expect(server.seen[0]).toMatchObject({ method: "POST", body: '{"id":"O-2","qty":2}' });
    expect(server.seen[0]!.headers).toMatchObject({
      "content-type": "application/json",
      "x-tenant": "acme",
      "idempotency-key": "post:post:1",
    });
  });

  test("a status listed in ok counts as success", async () => {
    reset(() => new Response(null, { status: 404 }));
    const { engine } = setup(flow(`
  - id: probe
    type: http
    url: ${server.origin}/maybe
    ok: [200, 404]
    output: probe
    next: finish`));
    const result = await engine.run({}, { executionId: "ok-list" });
    expect((result.output as { probe: unknown }).probe).toMatchObject({ status: 404, body: null });
  });

  test("redirects are not followed: a 3xx is a final error naming the Location", async () => {
    reset(() => new Response(null, { status: 302, headers: { location: "http://169.254.169.254/latest" } }));
    const { engine } = setup(flow(`
  - id: get
    type: http
    url: ${server.origin}/moved
    retries: 2
    next: finish`));
    const result = await engine.run({}, { executionId: "redirect" });
    expect(result.error).toContain("NonRetryableError");
    expect(result.error).toContain("redirects are not followed (Location: http://169.254.169.254/latest)");
    expect(server.seen).toHaveLength(1);
  });
});

describe("http step: attempts", () => {
  const flaky = () =>
    flow(`
  - id: charge
    type: http
    method: POST
    url: ${server.origin}/charges
    body: { amount: 5 }
    retries: 3
    retry_delay: 2
    output: charge
    next: finish`);

  test("a 500 is retried and every attempt carries the same Idempotency-Key and body", async () => {
    reset((_r, n) => (n < 3 ? new Response("busy", { status: 500 }) : Response.json({ charged: true })));
    const { engine, events, store } = setup(flaky());
    const result = await engine.run({}, { executionId: "flaky" });
    expect(result.status).toBe("completed");
    expect(server.seen.map((r) => r.headers["idempotency-key"])).toEqual(["flaky:charge:1", "flaky:charge:1", "flaky:charge:1"]);
    expect(new Set(server.seen.map((r) => r.body))).toEqual(new Set(['{"amount":5}']));
    expect(events.filter((e) => e.type === "step.retrying").map((e) => e.data.delayMs)).toEqual([2000, 4000]);
    expect((await store.entries("flaky")).find((e) => e.stepId === "charge")?.attempt).toBe(3);
  });

  test("a 404 is final: one request, and on_error takes over with the status in _last_error", async () => {
    reset(() => new Response("no such order", { status: 404, statusText: "Not Found" }));
    const { engine } = setup(flow(`
  - id: charge
    type: http
    url: ${server.origin}/orders/9
    retries: 3
    on_error: finish
    next: finish`));
    const result = await engine.run({}, { executionId: "final" });
    expect(server.seen).toHaveLength(1);
    expect((result.output as { _last_error: unknown })._last_error).toEqual({
      step: "charge",
      class: "NonRetryableError",
      message: `Step "charge": HTTP 404 Not Found from GET ${server.origin}/orders/9: no such order`,
    });
  });

  test("a 429 with Retry-After waits those seconds, not the backoff, before the next attempt", async () => {
    reset((_r, n) => (n === 1 ? new Response("slow down", { status: 429, headers: { "retry-after": "30" } }) : Response.json({})));
    const { engine, events } = setup(flaky());
    expect((await engine.run({}, { executionId: "429" })).status).toBe("completed");
    expect(events.filter((e) => e.type === "step.retrying").map((e) => [e.data.delayMs, String(e.data.error)])).toEqual([
      [30_000, expect.stringContaining("RetryAfterError")],
    ]);
  });

  test("a 503 with Retry-After as an HTTP date waits until that date by the engine's clock", async () => {
    reset((
      _r,
      n,
    ) => (n === 1 ? new Response("", { status: 503, headers: { "retry-after": "Fri, 01 May 2026 00:01:00 GMT" } }) : Response.json({})));
    const { engine, events } = setup(flaky());
    expect((await engine.run({}, { executionId: "503" })).status).toBe("completed");
    expect(events.filter((e) => e.type === "step.retrying").map((e) => e.data.delayMs)).toEqual([60_000]);
  });

  test("408, 409 and 425 are retried (409 and 425: the server saw the key with another body)", async () => {
    const statuses = [408, 409, 425];
    reset((_r, n) => (n <= statuses.length ? new Response("", { status: statuses[n - 1] }) : Response.json({})));
    const { engine } = setup(flaky());
    expect((await engine.run({}, { executionId: "retryable" })).status).toBe("completed");
    expect(server.seen).toHaveLength(4);
  });

  test("a request that outlasts the step's timeout is aborted and retried", async () => {
    let release!: () => void;
    const hung = new Promise<void>((resolve) => (release = resolve));
    reset(async (_r, n) => {
      if (n === 1) await hung;
      return Response.json({ n });
    });
    const clock = new ManualClock("2026-05-01T00:00:00.000Z");
    const engine = new Engine(
      flow(`
  - id: get
    type: http
    url: ${server.origin}/slow
    timeout: 5
    retries: 1
    retry_delay: 0
    output: got
    next: finish`),
      { store: new MemoryStore(), clock },
    );
    const running = engine.run({}, { executionId: "timeout" });
    while (server.seen.length === 0) await Bun.sleep(1);
    await clock.waitForTimers(1);
    await clock.advance(5000);
    const result = await running;
    release();
    expect((result.output as { got: { body: unknown } }).got.body).toEqual({ n: 2 });
  });
});

describe("http step: idempotency keys", () => {
  test("a takeover re-sends the stored request: same bytes, same key", async () => {
    let release!: (response: Response) => void;
    reset((_r, n) => (n === 1 ? new Promise<Response>((resolve) => (release = resolve)) : Response.json({ n })));
    const store = new MemoryStore();
    const clock = new ManualClock("2026-05-01T00:00:00.000Z");
    const workflow = flow(`
  - id: charge
    type: http
    method: POST
    url: ${server.origin}/charges
    body: { at: $now }
    output: charge
    next: finish`);
    const first = new Engine(workflow, { store, clock }).run({}, { executionId: "takeover" }).catch((error) => error);
    while (server.seen.length === 0) await Bun.sleep(1);
    clock.jump(61_000); // a paused worker: its heartbeat does not fire
    const result = await new Engine(workflow, { store, clock }).continue("takeover");
    expect(result.status).toBe("completed");
    release(Response.json({ n: 1 }));
    // The first worker lost the race after its claim was stored: it answers what is stored now.
    expect((await first).status).toBe("completed");
    expect(server.seen).toHaveLength(2);
    expect(server.seen[1]!.body).toBe(server.seen[0]!.body);
    expect(server.seen.map((r) => r.headers["idempotency-key"])).toEqual(["takeover:charge:1", "takeover:charge:1"]);
    expect((await store.load("takeover"))?.pinned).toBeNull();
  });

  test("each loop item gets its own key", async () => {
    reset();
    const { engine } = setup(flow(`
  - id: each
    type: loop
    over: $input.items
    as: item
    do:
      - id: notify
        type: http
        method: POST
        url: ${server.origin}/notify
        body: { item: $item }
    next: finish`));
    await engine.run({ items: ["a", "b"] }, { executionId: "items" });
    expect(server.seen.map((r) => [r.body, r.headers["idempotency-key"]])).toEqual([
      ['{"item":"a"}', "items:each[0]:notify:1"],
      ['{"item":"b"}', "items:each[1]:notify:1"],
    ]);
  });

  test("a router back-edge visits the step again under a new key", async () => {
    reset((_r, n) => Response.json({ done: n >= 3 }));
    const { engine } = setup(polling());
    await engine.run({}, { executionId: "visits" });
    expect(server.seen.map((r) => r.headers["idempotency-key"])).toEqual(["visits:first:1", "visits:poll:1", "visits:poll:2"]);
  });

  test("an operator retry starts a new epoch of keys", async () => {
    reset((_r, n) => (n === 1 ? new Response("down", { status: 500 }) : Response.json({})));
    const { engine } = setup(flow(`
  - id: charge
    type: http
    url: ${server.origin}/charges
    next: finish`));
    expect((await engine.run({}, { executionId: "epoch" })).status).toBe("failed");
    await engine.retry("epoch");
    expect((await engine.continue("epoch")).status).toBe("completed");
    expect(server.seen.map((r) => r.headers["idempotency-key"])).toEqual(["epoch:charge:1", "epoch:charge:r1.1"]);
  });

  test("a key the author sets in headers is sent as given", async () => {
    reset();
    const { engine } = setup(flow(`
  - id: charge
    type: http
    url: ${server.origin}/charges
    headers: { Idempotency-Key: "order-$input.id" }
    next: finish`));
    await engine.run({ id: 4 }, { executionId: "own-key" });
    expect(server.seen[0]!.headers["idempotency-key"]).toBe("order-4");
  });
});

describe("http step: limits and safety", () => {
  test("a response body over the cap fails the step with an error naming the limit", async () => {
    reset(() => new Response("x".repeat(2048)));
    const { engine } = setup(
      flow(`
  - id: get
    type: http
    url: ${server.origin}/big
    retries: 2
    next: finish`),
      { http: { maxBodyBytes: 1024 } },
    );
    const result = await engine.run({}, { executionId: "cap" });
    expect(result.error).toBe(
      `NonRetryableError: Step "get": the response to GET ${server.origin}/big is larger than 1024 bytes, the limit of a response body kept in ctx (http.maxBodyBytes)`,
    );
    expect(server.seen).toHaveLength(1);
  });

  test("a URL outside the allow-list is refused before anything is sent or stored", async () => {
    reset();
    const { engine, store } = setup(
      flow(`
  - id: get
    type: http
    url: ${server.origin}/admin
    next: finish`),
      { http: { allow: [`${server.origin}/api/`] } },
    );
    const result = await engine.run({}, { executionId: "allow" });
    expect(result.error).toBe(`NonRetryableError: Step "get": ${server.origin}/admin is not in the allow-list (http.allow)`);
    expect(server.seen).toEqual([]);
    expect((await store.load("allow"))?.pinned).toBeNull();
  });

  test("a URL in the allow-list is called", async () => {
    reset();
    const { engine } = setup(
      flow(`
  - id: get
    type: http
    url: ${server.origin}/api/orders
    next: finish`),
      { http: { allow: ["https://*.example.com", `${server.origin}/api/`] } },
    );
    expect((await engine.run({}, { executionId: "allowed" })).status).toBe("completed");
  });

  test("a bad allow-list entry is a ConfigError naming it", async () => {
    const { engine } = setup(
      flow(`
  - id: get
    type: http
    url: ${server.origin}/x
    next: finish`),
      { http: { allow: ["ftp://files"] } },
    );
    expect((await engine.run({}, { executionId: "bad-allow" })).error).toContain('http.allow: "ftp://files" is not an http(s) origin');
  });

  test("a URL from a reference may not target a loopback address, unless allowPrivate", async () => {
    reset();
    const workflow = flow(`
  - id: hook
    type: http
    method: POST
    url: $input.callback
    body: { done: true }
    next: finish`);
    const refused = await setup(workflow).engine.run({ callback: `${server.origin}/hook` }, { executionId: "ssrf" });
    expect(refused.error).toContain("comes from a reference and targets a loopback, private or link-local address");
    expect(server.seen).toEqual([]);
    const allowed = await setup(workflow, { http: { allowPrivate: true } }).engine.run({ callback: `${server.origin}/hook` }, {
      executionId: "ssrf-ok",
    });
    expect(allowed.status).toBe("completed");
  });

  test("loopback, private, link-local and mapped addresses are recognised; public ones are not", () => {
    const blocked = [
      "localhost",
      "api.localhost",
      "127.0.0.1",
      "10.1.2.3",
      "172.16.0.1",
      "192.168.1.1",
      "169.254.169.254",
      "0.0.0.0",
      "[::1]",
      "[::]",
      "[fe80::1]",
      "[fd00::1]",
      "[::ffff:7f00:1]",
    ];
    expect(blocked.filter((host) => !isPrivateHost(host))).toEqual([]);
    expect(["example.com", "8.8.8.8", "172.32.0.1", "[2001:db8::1]", "[::ffff:808:808]"].filter(isPrivateHost)).toEqual([]);
  });
});

describe("http step: secrets", () => {
  const withSecret = () =>
    flow(`
  - id: call
    type: http
    method: POST
    url: ${server.origin}/echo?key=$secrets.API_KEY
    headers: { Authorization: "Bearer $secrets.TOKEN" }
    body: { note: $input.note, token: $secrets.TOKEN }
    output: echo
    next: finish`);

  test("secrets are resolved when the request is sent and never stored: the stored request holds placeholders", async () => {
    reset(async (request) => Response.json({ echoed: request.headers.get("authorization") }, { headers: { "set-cookie": "s=1" } }));
    const { engine, store, events } = setup(withSecret(), { secrets: { TOKEN: 's3cr"et', API_KEY: "k&1" } });
    let stored: unknown;
    const original = store.commit.bind(store);
    store.commit = async (commit) => {
      if (commit.execution.pinned) stored = structuredClone(commit.execution.pinned);
      return await original(commit);
    };
    const result = await engine.run({ note: "hi" }, { executionId: "secret" });
    expect(server.seen[0]!.headers.authorization).toBe('Bearer s3cr"et');
    expect(server.seen[0]!.path).toBe("/echo?key=k%261");
    expect(JSON.parse(server.seen[0]!.body)).toEqual({ note: "hi", token: 's3cr"et' });
    expect(JSON.stringify(stored)).not.toContain("s3cr");
    expect(JSON.stringify(stored)).toContain("dw-secret-");
    const echo = (result.output as { echo: { headers: Record<string, string>; body: unknown } }).echo;
    expect(echo.body).toEqual({ echoed: "Bearer [redacted]" });
    expect(echo.headers["set-cookie"]).toBe("[redacted]");
    const everything = JSON.stringify([await store.load("secret"), await store.entries("secret"), events]);
    expect(everything).not.toContain("s3cr");
    expect(everything).not.toContain("k&1");
  });

  test("a value from input that spells a secret reference is sent as text, never as the secret", async () => {
    reset();
    const { engine } = setup(withSecret(), { secrets: { TOKEN: "t0ken", API_KEY: "k1" } });
    await engine.run({ note: "$secrets.TOKEN" }, { executionId: "inject" });
    expect(JSON.parse(server.seen[0]!.body).note).toBe("$secrets.TOKEN");
  });

  test("a secret that is not configured fails the step before anything is sent", async () => {
    reset();
    const { engine } = setup(withSecret(), { secrets: { API_KEY: "k1" } });
    const result = await engine.run({ note: "x" }, { executionId: "missing" });
    expect(result.error).toContain('secret "TOKEN" is not configured');
    expect(server.seen).toEqual([]);
  });

  test("$secrets can only be referenced by http steps", () => {
    const { issues } = validateWorkflow(`
id: leak
name: Leak
steps:
  - id: start
    type: start
    next: keep
  - id: keep
    type: assign
    set: { copy: $secrets.TOKEN }
`);
    expect(issues.map((i) => i.path)).toEqual(["steps[1].set.copy"]);
  });
});

describe("http step: definitions", () => {
  test("a GET with a body, a relative URL and an unknown method are validation errors", () => {
    const { issues } = validateWorkflow(`
id: bad
name: Bad
steps:
  - id: start
    type: start
    next: a
  - id: a
    type: http
    url: https://example.com
    body: { x: 1 }
    next: b
  - id: b
    type: http
    url: /relative
    next: c
  - id: c
    type: http
    method: FETCH
    url: https://example.com
`);
    expect(issues.map((i) => i.path)).toEqual(["steps[1].body", "steps[2].url", "steps[3].method"]);
  });
});

describe("lint: what can outlast the lease", () => {
  const definition = loadWorkflow(`
id: slow
name: Slow
steps:
  - id: start
    type: start
    next: export
  - id: export
    type: http
    url: https://api.example.com/export
    timeout: 90
    next: each
  - id: each
    type: loop
    over: [1, 2]
    do:
      - id: notify
        type: http
        url: https://api.example.com/notify
        retries: 2
      - id: charge
        type: call
        service: charge
        retries: 3
        retry_delay: 30
    next: quick
  - id: quick
    type: call
    service: charge
    timeout: 10
    retries: 3
    next: done
  - id: done
    type: end
`);

  test("a timeout over the lease and retried steps inside a loop are warned about, with the reason", () => {
    expect(leaseWarnings(definition, 60_000)).toEqual([
      {
        path: "steps[1].timeout",
        message: "an attempt of 90s can outlast the lease (60s): another worker may take the run over while it runs",
      },
      {
        path: "steps[2].do[0].retries",
        message: "inside a loop body or a parallel branch retry waits are slept in process: a Retry-After wait can outlast the lease (60s)",
      },
      {
        path: "steps[2].do[1].retries",
        message:
          "inside a loop body or a parallel branch retry waits are slept in process: its retry wait of up to 120s can outlast the lease (60s)",
      },
    ]);
  });

  test("a longer lease silences the timeout warning", () => {
    expect(leaseWarnings(definition, 120_000).map((w) => w.path)).toEqual(["steps[2].do[0].retries", "steps[2].do[1].retries"]);
  });
});

describe("http step through the app", () => {
  test("createApp's http and secrets options reach the step: the secret is sent, the allow-list applies", async () => {
    reset(async (request) => Response.json({ auth: request.headers.get("authorization") }));
    const workflow = flow(`
  - id: call
    type: http
    url: ${server.origin}/api/me
    headers: { Authorization: "Bearer $secrets.TOKEN" }
    output: me
    next: finish`);
    const app = createApp({
      store: new MemoryStore(),
      workflows: [workflow],
      secrets: { TOKEN: "app-secret" },
      http: { allow: [`${server.origin}/api/`] },
    });
    const response = await app.request("/workflows/http_flow/executions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ input: {}, mode: "sync" }),
    });
    const result = await response.json() as { status: string; output: { me: { body: unknown } } };
    expect(result.status).toBe("completed");
    expect(server.seen[0]!.headers.authorization).toBe("Bearer app-secret");
    expect(result.output.me.body).toEqual({ auth: "Bearer [redacted]" });
  });
});

describe("http step: cost", () => {
  test("an http step costs one commit, like a call: its stored request rides on the checkpoint before it", async () => {
    reset();
    const counted = countingStore(new MemoryStore());
    const engine = new Engine(
      flow(`
  - id: one
    type: http
    url: ${server.origin}/1
    next: two
  - id: two
    type: http
    url: ${server.origin}/2
    next: finish`),
      { store: counted.store, clock: new ManualClock() },
    );
    expect((await engine.run({}, { executionId: "cost" })).status).toBe("completed");
    expect(counted.counts).toEqual({ commit: 3 });
    expect(counted.commits.map((c) => [(c.entries ?? []).map((e) => e.stepId), Object.keys(c.execution.pinned ?? {})])).toEqual([
      [["start"], ["cost:one:1"]],
      [["one"], ["cost:two:1"]],
      [["two", "finish"], []],
    ]);
  });
});

describe("visits", () => {
  test("only steps on a cycle of the definition are counted: a linear run stores no visits", async () => {
    reset((_r, n) => Response.json({ done: n >= 3 }));
    const { engine, store } = setup(polling());
    await engine.run({}, { executionId: "counted" });
    expect((await store.load("counted"))?.visits).toEqual({ poll: 2 });
  });
});

describe("http step: compensation", () => {
  const booked = () =>
    flow(`
  - id: book
    type: http
    method: POST
    url: ${server.origin}/bookings
    body: { seats: 2 }
    output: booking
    compensate:
      method: DELETE
      url: ${server.origin}/bookings/$booking.body.id
      headers: { Authorization: "Bearer $secrets.TOKEN" }
      retries: 1
      retry_delay: 1
    next: pay
  - id: pay
    type: http
    method: POST
    url: ${server.origin}/pay
    next: finish`);

  test("after a later failure the compensation request is sent with its own idempotency key and the secret put in", async () => {
    let deletes = 0;
    reset((request) => {
      const path = new URL(request.url).pathname;
      if (path === "/pay") return new Response("declined", { status: 402 });
      if (request.method === "DELETE" && ++deletes === 1) return new Response("busy", { status: 503 });
      return Response.json({ id: "b-7" });
    });
    const { engine, store } = setup(booked(), { secrets: { TOKEN: "t0p" } });
    const result = await engine.run({}, { executionId: "undo" });
    expect(result).toMatchObject({ status: "failed", compensated: true });
    const undo = server.seen.filter((s) => s.method === "DELETE");
    expect(undo.map((s) => [s.path, s.headers["idempotency-key"], s.headers.authorization])).toEqual([
      ["/bookings/b-7", "undo:book:1:compensate", "Bearer t0p"],
      ["/bookings/b-7", "undo:book:1:compensate", "Bearer t0p"],
    ]);
    expect(JSON.stringify([await store.load("undo"), await store.entries("undo"), await store.events("undo")])).not.toContain("t0p");
  });

  test("the compensation request is resolved and stored, secrets as placeholders, when its step completes", async () => {
    reset(() => Response.json({ id: "b-8" }));
    const { engine, store } = setup(booked(), { secrets: { TOKEN: "t0p" } });
    let stored: unknown;
    const original = store.commit.bind(store);
    store.commit = async (commit) => {
      if (commit.execution.compensations.length && !stored) stored = structuredClone(commit.execution.compensations);
      return await original(commit);
    };
    await engine.run({}, { executionId: "kept" });
    expect(stored).toMatchObject([{
      stepId: "book",
      key: "kept:book:1:compensate",
      resolved: { method: "DELETE", url: `${server.origin}/bookings/b-8` },
    }]);
    expect(JSON.stringify(stored)).toContain("dw-secret-");
    expect(JSON.stringify(stored)).not.toContain("t0p");
  });

  test("a compensation whose request cannot be built fails when its turn comes and the run ends compensated: false", async () => {
    reset((request) => new URL(request.url).pathname === "/pay" ? new Response("no", { status: 400 }) : Response.json({ id: "b" }));
    const { engine, store } = setup(booked(), { secrets: {} });
    const result = await engine.run({}, { executionId: "unbuilt" });
    expect(result).toMatchObject({ status: "failed", compensated: false });
    expect((await store.entries("unbuilt")).at(-1)).toMatchObject({
      action: "compensation_failed",
      error: expect.stringContaining('secret "TOKEN" is not configured'),
    });
  });
});
