/**
 * README's "HTTP API (curl)" block is runnable as pasted against `npm start`: each command is run with `sh`, in
 * order, after the block's variable lines, against `bun main.ts` (MemoryStore, in-process queue) on a free port.
 * Each exits 0 and gets a 2xx, or the status its `# → NNN` comment documents.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cleanEnv, ROOT, type ServerProcess, startServer, toolAvailable } from "../support/deploy.ts";
import { freePort } from "../support/redis.ts";

const BUN = join(ROOT, "node_modules/.bin/bun");
const README = readFileSync(join(ROOT, "README.md"), "utf8");
const BLOCK = README.match(/^## HTTP API \(curl\)\n[\s\S]*?^```sh\n([\s\S]*?)^```$/m)![1]!;

interface Statement {
  text: string;
  /** The status a `# → NNN` comment after it documents, if any. */
  documented?: number;
}

/** The block's statements (a line ending in `\` or `|` goes on), each with the status documented after it. */
function statementsOf(block: string): Statement[] {
  const statements: Statement[] = [];
  let open: string | undefined;
  for (const line of block.split("\n")) {
    if (open !== undefined) {
      open += `\n${line}`;
    } else if (line.startsWith("#") || !line.trim()) {
      const status = line.match(/^# → (\d{3})\b/);
      const last = statements.at(-1);
      if (status && last && last.documented === undefined) last.documented = Number(status[1]);
      continue;
    } else {
      open = line;
    }
    if (/[\\|]\s*$/.test(open)) continue;
    const trailing = open.match(/\s#\s*→ (\d{3})\b/);
    statements.push({ text: open, documented: trailing ? Number(trailing[1]) : undefined });
    open = undefined;
  }
  return statements;
}

/** A request: a statement that runs curl itself (not only inside a `$(…)` assignment). */
const isRequest = (s: Statement) => /(^|\|\s*)curl /m.test(s.text);
const statements = statementsOf(BLOCK);
const setup = statements.filter((s) => !isRequest(s)).map((s) => s.text);
const requests = statements.filter(isRequest);

let server: ServerProcess | undefined;
afterAll(() => server?.stop());

test("the block's commands are found, and only curl requests and variable lines", () => {
  expect(requests.length).toBeGreaterThan(20);
  expect(setup.every((line) => /^(export )?[A-Z_]+=/.test(line))).toBe(true);
  expect(setup.join("\n")).toContain("export DW_URL=http://localhost:8787");
});

test("a statement's documented status is read from its own comment or the comment lines after it", () => {
  const found = statementsOf("curl a   # → 409: x\ncurl b\n# → 202 {}\ncurl c\n# → {}\nsed x |\n  curl d");
  expect(found).toEqual([
    { text: "curl a   # → 409: x", documented: 409 },
    { text: "curl b", documented: 202 },
    { text: "curl c", documented: undefined },
    { text: "sed x |\n  curl d", documented: undefined },
  ]);
});

describe.skipIf(!toolAvailable(BUN, "bun"))("README's curl lines, as pasted, against `bun main.ts`", () => {
  test("the server starts", async () => {
    const port = freePort();
    server = await startServer([BUN, "main.ts"], { port, env: cleanEnv({ PORT: String(port) }) });
  }, 30_000);

  for (const request of requests) {
    const expected = request.documented ?? "2xx";
    test(`${request.text.split("\n").at(-1)!.trim()} → ${expected}`, async () => {
      const port = new URL(server!.url).port;
      const prelude = setup.map((line) => line.replace("localhost:8787", `localhost:${port}`));
      // The status goes on a last line of its own; the command is otherwise the README's.
      const command = request.text.replace(/(^|\|\s*)curl /m, `$1curl -sS -w '\\n%{http_code}' `);
      const child = Bun.spawn(["sh", "-c", [...prelude, command].join("\n")], {
        cwd: ROOT,
        env: cleanEnv(),
        stdout: "pipe",
        stderr: "pipe",
      });
      const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
      const status = Number(out.trim().split("\n").at(-1));
      expect({ code, err }).toEqual({ code: 0, err: "" });
      if (request.documented) expect({ status, out }).toMatchObject({ status: request.documented });
      else expect({ ok: status >= 200 && status < 300, out }).toMatchObject({ ok: true });
    }, 20_000);
  }
});
