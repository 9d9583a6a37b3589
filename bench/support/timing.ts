/**
 * Wall time and this process's CPU time (user + system) of a call. Everything but redis-server runs in this
 * process, so CPU time shows the work done even when other processes load the machine and stretch wall time.
 */
export interface Timing {
  wallMs: number;
  cpuMs: number;
}

export async function timed(fn: () => Promise<unknown>): Promise<Timing> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await fn();
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { wallMs, cpuMs: (used.user + used.system) / 1000 };
}

/** Medians (each on its own) of `runs` timings of `fn`, after one warm-up call. */
export async function medianTiming(runs: number, fn: () => Promise<unknown>): Promise<Timing> {
  await fn();
  const timings: Timing[] = [];
  for (let i = 0; i < runs; i++) timings.push(await timed(fn));
  return medianOf(timings);
}

export function medianOf(timings: Timing[]): Timing {
  return { wallMs: median(timings.map((t) => t.wallMs)), cpuMs: median(timings.map((t) => t.cpuMs)) };
}

/** The median of the values (the upper one of an even count); the array is left as it is. */
export function median(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}
