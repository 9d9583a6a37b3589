// deno-lint-ignore-file no-explicit-any -- answers are untyped JSON
// Shared by tests/deploy.*.test.ts: run an entry file as a real server in a child process and stop it by PID.
import { existsSync } from "node:fs";
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "..", "..");

/**
 * Whether a tool the test drives is installed. Missing: a loud skip on a laptop, an error on CI (`CI` set),
 * so nothing is skipped silently.
 */
export function toolAvailable(path: string, what: string): boolean {
  if (existsSync(path)) return true;
  const message = `${what} not found at ${path} (npm install)`;
  if (process.env.CI) throw new Error(`${message}: the deploy tests cannot run on CI without it`);
  console.warn(`\n!!! SKIPPING: ${message} !!!\n`);
  return false;
}

/** The environment of a clean shell: no Upstash, QStash or DW_* variables leak in from the test's own. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "TMPDIR", "LANG"]) if (process.env[name]) env[name] = process.env[name]!;
  return { ...env, ...extra };
}

export interface ServerProcess {
  url: string;
  pid: number;
  /** Resolves with the exit code when the process ends by itself (or is stopped). */
  exited: Promise<number>;
  /** Everything the server printed so far (stdout and stderr). */
  output(): string;
  stop(): Promise<void>;
}

/** Spawns `cmd` and waits until `<url>/health` answers 200 (or the process exits, or `timeoutMs` passes). */
export async function startServer(
  cmd: string[],
  options: { port: number; env: Record<string, string>; timeoutMs?: number },
): Promise<ServerProcess> {
  const proc = Bun.spawn(cmd, { cwd: ROOT, env: options.env, stdout: "pipe", stderr: "pipe" });
  let output = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    const reader = stream.getReader();
    for (let read = await reader.read(); !read.done; read = await reader.read()) output += decoder.decode(read.value, { stream: true });
  };
  const drained = Promise.all([collect(proc.stdout), collect(proc.stderr)]);
  const url = `http://127.0.0.1:${options.port}`;
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      process.kill(proc.pid, "SIGTERM");
      const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(3000).then(() => false)]);
      if (!exited) process.kill(proc.pid, "SIGKILL");
    }
    await proc.exited;
    await drained;
  };
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  while (true) {
    if (proc.exitCode !== null) {
      await drained;
      throw new Error(`${cmd.join(" ")} exited with code ${proc.exitCode} before answering:\n${output}`);
    }
    try {
      const response = await fetch(`${url}/health`);
      if (response.status === 200) {
        await response.arrayBuffer();
        break;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${cmd.join(" ")} did not answer ${url}/health in time:\n${output}`);
    }
    await Bun.sleep(100);
  }
  return { url, pid: proc.pid, exited: proc.exited, output: () => output, stop };
}

/** Waits (up to `timeoutMs`) until the server has printed `text`; returns everything printed. */
export async function waitForOutput(server: ServerProcess, text: string, timeoutMs = 5000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!server.output().includes(text) && Date.now() < deadline) await Bun.sleep(20);
  return server.output();
}

/** POST /workflows/greeting/executions in sync mode. */
export async function runGreeting(url: string, name: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}/workflows/greeting/executions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ mode: "sync", input: { name } }),
  });
  return { status: response.status, body: await response.json() };
}

/** Whether a process with this PID still exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
