import { existsSync } from "node:fs";

/**
 * The checkout the benches compare with ("before"): BASE=<dir>, made by `bash bench/base.sh <commit>` (a checkout of
 * that commit sharing this one's node_modules). Undefined when BASE is not set: a bench then prints "after" only.
 */
export function baseCheckout(): string | undefined {
  const base = process.env.BASE?.replace(/\/$/, "");
  if (!base) return undefined;
  if (!existsSync(`${base}/mod.ts`)) {
    throw new Error(`BASE=${base} is not a checkout of this project: make one with bash bench/base.sh <commit>`);
  }
  return base;
}

/**
 * The code of this checkout and, with BASE set, of that checkout too, loaded side by side so a bench prints before and
 * after from one run.
 */
export interface Checkout {
  /** "after" (this checkout) or "before" (BASE). */
  label: string;
  root: string;
  // deno-lint-ignore no-explicit-any
  mod: any;
  // deno-lint-ignore no-explicit-any
  workflows: any;
}

export async function checkouts(): Promise<Checkout[]> {
  const roots = [["after", new URL("..", new URL("..", import.meta.url)).pathname]];
  const base = baseCheckout();
  if (base) roots.push(["before", base]);
  return await Promise.all(roots.map(async ([label, root]) => ({
    label: label!,
    root: root!,
    mod: await import(`${root}/mod.ts`),
    workflows: await import(`${root}/bench/workflows.ts`),
  })));
}

/** "after / before = r" when both were measured, else "". */
export function ratio(after: number, before: number | undefined): string {
  return before === undefined ? "" : `after / before = ${(after / before).toFixed(2)}`;
}
