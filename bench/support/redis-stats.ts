/** Redis's own `INFO commandstats` and `CONFIG RESETSTAT`, through redis-cli (the bridge does not pass INFO). */
export interface CommandStats {
  [command: string]: { calls: number; usec: number };
}

const cli = (redisUrl: string, ...args: string[]) => Bun.spawnSync(["redis-cli", "-u", redisUrl, ...args]).stdout.toString();

export function resetStats(redisUrl: string): void {
  cli(redisUrl, "CONFIG", "RESETSTAT");
}

export function commandStats(redisUrl: string): CommandStats {
  return Object.fromEntries(
    cli(redisUrl, "INFO", "commandstats").split("\n").filter((line) => line.startsWith("cmdstat_")).map((line) => {
      const [name, fields] = line.trim().split(":");
      const values = Object.fromEntries(fields!.split(",").map((pair) => pair.split("=")));
      return [name!.slice(8), { calls: Number(values.calls), usec: Number(values.usec) }];
    }),
  );
}

/** Script calls (EVALSHA + EVAL) and their server µs in a CommandStats. */
export function scriptStats(stats: CommandStats): { calls: number; usec: number } {
  return {
    calls: (stats.evalsha?.calls ?? 0) + (stats.eval?.calls ?? 0),
    usec: (stats.evalsha?.usec ?? 0) + (stats.eval?.usec ?? 0),
  };
}
