/**
 * The JSR package (deno.json): `deno publish --dry-run` type-checks every entry, refuses slow types in the public
 * API, and lists the files it would publish. Offline: it needs node_modules, not the network.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");

test("deno publish --dry-run succeeds: no slow types, and only the library's files", async () => {
  const proc = Bun.spawn([join(ROOT, "node_modules/.bin/deno"), "publish", "--dry-run", "--allow-dirty"], {
    cwd: ROOT,
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1", DENO_TLS_CA_STORE: "system" },
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const output = stdout + stderr;
  expect({ code, output }).toEqual({ code: 0, output: expect.stringContaining("Success Dry run complete") });
  const files = [...output.matchAll(/file:\/\/\/\S+/g)].map((m) => m[0].slice(`file://${ROOT}/`.length));
  expect(files).toContain("src/queue.ts");
  expect(files).toContain("client.ts");
  expect(files).not.toContain("routes/client.check.ts");
  expect(files.filter((file) => !/^(src|routes)\/|^(hono|client|config-from-env)\.ts$|^README\.md$|^deno\.json$/.test(file))).toEqual([]);
}, 120_000);
