/**
 * Five-field cron expressions (minute hour day-of-month month day-of-week) evaluated in an IANA time zone with
 * Intl.DateTimeFormat. A local time that DST skips never occurs; one that DST repeats occurs once (the first).
 * When both day fields are restricted, a day matches either (the classic cron rule).
 */

export interface Cron {
  readonly source: string;
  readonly minute: ReadonlySet<number>;
  readonly hour: ReadonlySet<number>;
  readonly day: ReadonlySet<number>;
  readonly month: ReadonlySet<number>;
  readonly weekday: ReadonlySet<number>;
  readonly anyDay: boolean;
  readonly anyWeekday: boolean;
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const FIELDS = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTHS, offset: 1 },
  { name: "day of week", min: 0, max: 7, names: WEEKDAYS, offset: 0 },
] as const;

/** Parses a cron expression; throws an Error whose message names the field that is wrong. */
export function parseCron(source: string): Cron {
  const parts = String(source).trim().split(/\s+/);
  if (parts.length !== 5) {
    throw new Error(`"${source}" must have 5 fields (minute hour day-of-month month day-of-week), not ${parts.length}`);
  }
  const sets = parts.map((part, i) => parseField(part, FIELDS[i]!));
  const weekday = new Set([...sets[4]!].map((d) => d % 7));
  return {
    source,
    minute: sets[0]!,
    hour: sets[1]!,
    day: sets[2]!,
    month: sets[3]!,
    weekday,
    anyDay: parts[2] === "*" || parts[2] === "?",
    anyWeekday: parts[4] === "*" || parts[4] === "?",
  };
}

function parseField(text: string, field: (typeof FIELDS)[number]): Set<number> {
  const values = new Set<number>();
  const value = (token: string): number => {
    const names = "names" in field ? field.names : undefined;
    const named = names?.indexOf(token.toLowerCase() as never) ?? -1;
    const n = named >= 0 ? named + ("offset" in field ? field.offset : 0) : /^\d+$/.test(token) ? Number(token) : NaN;
    if (!(n >= field.min && n <= field.max)) throw new Error(`${field.name} "${token}" is not in ${field.min}-${field.max}`);
    return n;
  };
  for (const item of text.split(",")) {
    const [range, stepText, extra] = item.split("/");
    if (extra !== undefined || range === "") throw new Error(`${field.name} "${item}" is not a cron field`);
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`${field.name} step "${stepText}" must be a positive integer`);
    let from: number, to: number;
    if (range === "*" || range === "?") [from, to] = [field.min, field.max === 7 ? 6 : field.max];
    else if (range!.includes("-")) {
      const [a, b] = range!.split("-");
      [from, to] = [value(a!), value(b!)];
      if (from > to) throw new Error(`${field.name} range "${range}" goes backwards`);
    } else {
      from = value(range!);
      to = stepText === undefined ? from : field.max;
    }
    for (let n = from; n <= to; n += step) values.add(n);
  }
  return values;
}

/** Checks an IANA time zone name; throws a RangeError naming it otherwise. */
export function checkTimeZone(timeZone: string): void {
  formatter(timeZone);
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    try {
      format = new Intl.DateTimeFormat("en-US", {
        timeZone,
        hourCycle: "h23",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
        weekday: "short",
      });
    } catch {
      throw new RangeError(`"${timeZone}" is not a known IANA time zone`);
    }
    formatters.set(timeZone, format);
  }
  return format;
}

interface Local {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  weekday: number;
}

function localTime(ms: number, timeZone: string): Local {
  const local: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(ms)) {
    if (part.type === "weekday") local.weekday = WEEKDAYS.indexOf(part.value.toLowerCase());
    else if (part.type !== "literal") local[part.type] = Number(part.value);
  }
  return local as unknown as Local;
}

function sameWallTime(a: Local, b: Local): boolean {
  return a.year === b.year && a.month === b.month && a.day === b.day && a.hour === b.hour && a.minute === b.minute;
}

function dayMatches(cron: Cron, local: Local): boolean {
  const day = cron.day.has(local.day);
  const weekday = cron.weekday.has(local.weekday);
  if (cron.anyDay && cron.anyWeekday) return true;
  if (cron.anyDay) return weekday;
  if (cron.anyWeekday) return day;
  return day || weekday;
}

const MINUTE = 60_000;

/**
 * The latest occurrence at or before `at` (epoch ms, whole minutes), looking back at most `maxDays`; null if none.
 */
export function previousOccurrence(cron: Cron, timeZone: string, at: number, maxDays = 366): number | null {
  const stop = at - maxDays * 24 * 60 * MINUTE;
  let t = Math.floor(at / MINUTE) * MINUTE;
  while (t >= stop) {
    const local = localTime(t, timeZone);
    if (!cron.month.has(local.month) || !dayMatches(cron, local) || !cron.hour.has(local.hour)) {
      t -= (local.minute + 1) * MINUTE;
    } else if (!cron.minute.has(local.minute)) {
      t -= MINUTE;
    } else if ([30, 60].some((back) => sameWallTime(localTime(t - back * MINUTE, timeZone), local))) {
      t -= MINUTE; // the second pass of a wall time DST repeats
    } else {
      return t;
    }
  }
  return null;
}

/** The next occurrence strictly after `at`, looking ahead at most `maxDays`; null if none. */
export function nextOccurrence(cron: Cron, timeZone: string, at: number, maxDays = 366): number | null {
  const stop = at + maxDays * 24 * 60 * MINUTE;
  let t = Math.floor(at / MINUTE) * MINUTE + MINUTE;
  while (t <= stop) {
    const local = localTime(t, timeZone);
    if (!cron.month.has(local.month) || !dayMatches(cron, local) || !cron.hour.has(local.hour)) {
      t += (60 - local.minute) * MINUTE;
    } else if (cron.minute.has(local.minute) && ![30, 60].some((back) => sameWallTime(localTime(t - back * MINUTE, timeZone), local))) {
      return t;
    } else {
      t += MINUTE;
    }
  }
  return null;
}

/** `yyyymmddhhmm` of an instant in UTC (a cron start's id). */
export function utcMinuteStamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace(/[-T:]/g, "");
}
