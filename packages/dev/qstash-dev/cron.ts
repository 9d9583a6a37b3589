/**
 * Five-field cron (minute hour day-of-month month day-of-week), evaluated in UTC: `*`, numbers, names
 * (JAN-DEC, SUN-SAT), lists, ranges and steps. When both day fields are restricted, a day matching
 * either one fires, as in Vixie cron.
 */

export interface Cron {
  readonly source: string;
  /** The first firing time strictly after `afterMs` (ms since the epoch), or Infinity if there is none. */
  next(afterMs: number): number;
}

interface Field {
  name: string;
  min: number;
  max: number;
  names?: string[];
}

const FIELDS: Field[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"] },
  { name: "day of week", min: 0, max: 7, names: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"] },
];

const ALIASES: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

const MINUTE_MS = 60_000;
/** A cron that matches nothing within this many years never will (e.g. `0 0 30 2 *`). */
const SEARCH_YEARS = 8;

export class CronError extends Error {
  override name = "CronError";
}

export function parseCron(source: string): Cron {
  const text = source.trim();
  if (/^(CRON_TZ|TZ)=/i.test(text)) {
    throw new CronError(
      `cron ${JSON.stringify(source)}: time zones (CRON_TZ=...) are not supported by qstash-dev; write the schedule in UTC`,
    );
  }
  const expanded = ALIASES[text.toLowerCase()] ?? text;
  const parts = expanded.split(/\s+/);
  if (parts.length !== 5) {
    throw new CronError(
      `cron ${JSON.stringify(source)}: expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`,
    );
  }
  const [minutes, hours, days, months, weekdays] = parts.map((part, i) => parseField(part, FIELDS[i]!, source)) as [
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
  ];
  if (weekdays.has(7)) weekdays.add(0);
  const dayRestricted = parts[2] !== "*";
  const weekdayRestricted = parts[4] !== "*";
  const dayMatches = (d: Date) => {
    const byDay = days.has(d.getUTCDate());
    const byWeekday = weekdays.has(d.getUTCDay());
    if (dayRestricted && weekdayRestricted) return byDay || byWeekday;
    return byDay && byWeekday;
  };
  return {
    source,
    next(afterMs) {
      const d = new Date(Math.floor(afterMs / MINUTE_MS) * MINUTE_MS + MINUTE_MS);
      const limit = d.getUTCFullYear() + SEARCH_YEARS;
      while (d.getUTCFullYear() < limit) {
        if (!months.has(d.getUTCMonth() + 1)) {
          d.setUTCMonth(d.getUTCMonth() + 1, 1);
          d.setUTCHours(0, 0, 0, 0);
        } else if (!dayMatches(d)) {
          d.setUTCDate(d.getUTCDate() + 1);
          d.setUTCHours(0, 0, 0, 0);
        } else if (!hours.has(d.getUTCHours())) {
          d.setUTCHours(d.getUTCHours() + 1, 0, 0, 0);
        } else if (!minutes.has(d.getUTCMinutes())) {
          d.setUTCMinutes(d.getUTCMinutes() + 1, 0, 0);
        } else {
          return d.getTime();
        }
      }
      return Infinity;
    },
  };
}

function parseField(part: string, field: Field, source: string): Set<number> {
  const fail = (why: string): never => {
    throw new CronError(`cron ${JSON.stringify(source)}: ${field.name} ${JSON.stringify(part)}: ${why}`);
  };
  const value = (token: string): number => {
    const index = field.names?.indexOf(token.toUpperCase()) ?? -1;
    if (index >= 0) return index + (field.name === "month" ? 1 : 0);
    if (!/^\d+$/.test(token)) fail(`${JSON.stringify(token)} is not a number`);
    const n = Number(token);
    if (n < field.min || n > field.max) fail(`${n} is outside ${field.min}-${field.max}`);
    return n;
  };
  const out = new Set<number>();
  for (const item of part.split(",")) {
    const [range, stepText, extra] = item.split("/");
    if (extra !== undefined || range === undefined || range === "") fail("expected a value, a range a-b, * or a step x/n");
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0) fail(`step ${JSON.stringify(stepText)} is not a positive number`);
      step = Number(stepText);
    }
    let from: number;
    let to: number;
    if (range === "*") {
      from = field.min;
      to = field.name === "day of week" ? 6 : field.max;
    } else if (range!.includes("-")) {
      const [a, b] = range!.split("-");
      from = value(a ?? "");
      to = value(b ?? "");
      if (from > to) fail(`range ${range} runs backwards`);
    } else {
      from = value(range!);
      to = stepText === undefined ? from : field.name === "day of week" ? 6 : field.max;
    }
    for (let n = from; n <= to; n += step) out.add(n);
  }
  return out;
}
