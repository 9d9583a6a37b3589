/**
 * The npm package as a user gets it: the repository packed once per test process (`npm pack` builds dist/
 * through `prepack`), installed from the tarball into fresh projects outside the repository. Needs the npm
 * registry for the package's dependencies. Temporary folders are removed when the process exits.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

export const ROOT = join(import.meta.dir, "../..");
/** Packing and installing take a while: the timeout of every test that needs them. */
export const PACKAGE_TIMEOUT = 300_000;

const dirs: string[] = [];
process.once("exit", () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** Runs a command; its stdout, or an error with both outputs when it exits non-zero. */
export async function sh(cmd: string[], cwd: string, env: Record<string, string | undefined> = {}): Promise<string> {
  const proc = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1", ...env } });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}\n${stdout}\n${stderr}`);
  return stdout;
}

let packed: Promise<string> | undefined;

/** The path of the package's tarball (packed on first use). */
export function tarball(): Promise<string> {
  packed ??= (async () => {
    const packDir = tempDir("dw-pack-");
    const name = (await sh(["npm", "pack", "--silent", "--pack-destination", packDir], ROOT)).trim().split("\n").at(-1)!;
    return join(packDir, name);
  })();
  return packed;
}

export function writeFiles(project: string, files: Record<string, string>): void {
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(project, file)), { recursive: true });
    writeFileSync(join(project, file), text);
  }
}

/** A new project holding `files`, with the tarball installed. */
export async function installedProject(files: Record<string, string>): Promise<string> {
  const project = tempDir("dw-consumer-");
  writeFiles(project, files);
  await sh(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", await tarball()], project);
  return project;
}
