/**
 * The code of this checkout and, when ROOT=<checkout> is set (e.g. ROOT=/work/base, a pristine checkout of an older
 * commit), of that one too, loaded side by side so a bench prints before and after from one run.
 */
export interface Checkout {
  /** "after" (this checkout) or "before" (ROOT). */
  label: string;
  root: string;
  // deno-lint-ignore no-explicit-any
  mod: any;
  // deno-lint-ignore no-explicit-any
  workflows: any;
}

export async function checkouts(): Promise<Checkout[]> {
  const roots = [["after", new URL("..", new URL("..", import.meta.url)).pathname]];
  if (process.env.ROOT) roots.push(["before", process.env.ROOT]);
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
