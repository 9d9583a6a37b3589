import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { cli, example, ROOT, tempFiles } from "../../support/cli.ts";

const largeOrder = {
  order_id: "O-BIG",
  customer_id: "C-1",
  items: [{ sku: "LAPTOP", quantity: 1, price: 1299 }],
  payment: { card: "4242424242424242" },
};

function orderServicesModule(): string {
  const dir = tempFiles({
    "services.ts": `import { createOrderServices } from ${
      JSON.stringify(join(ROOT, "examples/order-fulfillment/services.ts"))
    };\nexport default createOrderServices().services;\n`,
  });
  return join(dir, "services.ts");
}

const runOrder = (stdin: string) =>
  cli(["run", example("order-fulfillment"), "--input", JSON.stringify(largeOrder), "--services", orderServicesModule()], { stdin });

/** The step lines of the progress display, durations blanked. */
function stepLines(stdout: string): string[] {
  return stdout.split("\n").filter((line) => /^ {2}[✓✗⏸] /.test(line)).map((line) => line.replace(/\d+ ms/, "N ms"));
}

describe("durable-workflow run", () => {
  test("shows one line per step with its duration, then the output", async () => {
    const result = await cli(["run", example("greeting"), "--input", '{"name":"Ada"}']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^▶ greeting {2}execution [0-9a-f-]{36}\n/);
    expect(stepLines(result.stdout)).toEqual(["  ✓ start (start)  N ms", "  ✓ compose (assign)  N ms", "  ✓ finish (end)  N ms"]);
    expect(result.stdout).toEndWith('✓ completed\n{\n  "message": "Hello, Ada!"\n}\n');
  });

  test("an approval is answered on stdin and the run resumes to completion", async () => {
    const result = await runOrder("y\n");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("⏸ approval needed: Approve order O-BIG for 1408.91?\n");
    expect(result.stdout).toContain('  context: {"order_id":"O-BIG","customer_id":"C-1","total":1408.91}\n');
    expect(result.stdout).toContain("Approve? [y/n] y\n▶ resumed");
    expect(stepLines(result.stdout)).toContain("  ⏸ manager_approval (approval)  N ms");
    expect(stepLines(result.stdout)).toContain("  ✓ charge_payment (call)  N ms");
    expect(result.stdout).toContain('"payment_id": "PAY-O-BIG"');
  });

  test("an answer that is not y or n is asked again; n rejects the order", async () => {
    const result = await runOrder("maybe\nn\n");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Approve? [y/n] maybe\nanswer y or n\nApprove? [y/n] n\n");
    expect(result.stdout).toContain('"status": "rejected"');
  });

  test("stdin ending before the answer is one line and exit 1", async () => {
    const result = await runOrder("");
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^durable-workflow: stdin ended before the halt of execution [0-9a-f-]{36} was answered\n$/);
  });

  test("a halt asks for a JSON response", async () => {
    const dir = tempFiles({
      "ask.yaml": `id: ask
name: Ask
version: "1"
steps:
  - id: question
    type: halt
    reason: Which colour?
    next: answer
  - id: answer
    type: end
    result: { colour: $response.colour }
`,
    });
    const result = await cli(["run", join(dir, "ask.yaml")], { stdin: 'not json\n{"colour":"blue"}\n' });
    expect(result.stdout).toContain("⏸ halted: Which colour?\n");
    expect(result.stdout).toContain("Response (JSON, empty for none): not json\nthe response must be JSON\n");
    expect(result.stdout).toEndWith('✓ completed\n{\n  "colour": "blue"\n}\n');
    expect(result.code).toBe(0);
  });

  test("a failing step is shown with its error and the exit code is 1", async () => {
    const result = await cli(["run", example("order-fulfillment"), "--input", JSON.stringify(largeOrder)]);
    expect(result.code).toBe(1);
    expect(stepLines(result.stdout)).toContainEqual(
      expect.stringMatching(/^ {2}✗ validate \(call\) {2}N ms {2}.*Unknown service "OrderService"/),
    );
    expect(result.stdout).toContain("✗ failed: ");
  });

  test("a failed run's compensations are shown, one line each, and the end says compensated", async () => {
    const dir = tempFiles({
      "saga.yaml": `id: saga
name: Saga
steps:
  - id: start
    type: start
    next: book
  - id: book
    type: call
    service: book
    output: booking
    compensate: { service: unbook, input: $booking }
    next: pay
  - id: pay
    type: call
    service: pay
`,
      "services.ts": `export default {
  book: () => "B-1",
  unbook: () => "released",
  pay: () => { throw new Error("card declined"); },
};
`,
    });
    const result = await cli(["run", join(dir, "saga.yaml"), "--services", join(dir, "services.ts")]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("↺ compensating: Error: card declined\n  ↺ book (call)  compensated\n");
    expect(result.stdout).toContain("✗ failed, compensated: Error: card declined");
  });

  test("invalid input JSON is a usage error; a missing required input is one line, exit 1", async () => {
    const badJson = await cli(["run", example("greeting"), "--input", "{name"]);
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toStartWith("durable-workflow: --input must be JSON");
    const missing = await cli(["run", example("greeting")]);
    expect(missing).toMatchObject({ code: 1, stdout: "" });
    expect(missing.stderr).toBe(
      'durable-workflow: Invalid input for workflow "greeting" (1 problem): input.name: input "name" is required\n',
    );
  });

  test("--redis without the Upstash variables is one line, exit 1", async () => {
    const result = await cli(["run", example("greeting"), "--input", '{"name":"Ada"}', "--redis"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("durable-workflow: --redis needs UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN in the environment\n");
  });

  test("a services module without a services object is one line, exit 1", async () => {
    const dir = tempFiles({ "empty.ts": "export const nothing = 1;\n" });
    const result = await cli(["run", example("greeting"), "--input", '{"name":"Ada"}', "--services", join(dir, "empty.ts")]);
    expect(result.code).toBe(1);
    expect(result.stderr).toStartWith(`durable-workflow: --services ${join(dir, "empty.ts")}: the module must export`);
  });
});

describe("durable-workflow run with an http step", () => {
  test("DW_SECRET_<NAME> from the environment is sent and redacted from the output", async () => {
    const seen: string[] = [];
    const api = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (request) => {
        seen.push(request.headers.get("authorization") ?? "");
        return Response.json({ auth: request.headers.get("authorization") });
      },
    });
    try {
      const dir = tempFiles({
        "call.yaml": `id: call_api
name: Call API
steps:
  - id: start
    type: start
    next: me
  - id: me
    type: http
    url: http://127.0.0.1:${api.port}/me
    headers: { Authorization: "Bearer $secrets.TOKEN" }
    output: me
    next: finish
  - id: finish
    type: end
    result: $me.body
`,
      });
      const result = await cli(["run", join(dir, "call.yaml")], { env: { DW_SECRET_TOKEN: "cli-secret" } });
      expect(result.code).toBe(0);
      expect(seen).toEqual(["Bearer cli-secret"]);
      expect(result.stdout).toEndWith('{\n  "auth": "Bearer [redacted]"\n}\n');
      expect(result.stdout).not.toContain("cli-secret");
    } finally {
      api.stop(true);
    }
  });
});
