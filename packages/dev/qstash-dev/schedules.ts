/**
 * Schedules: a cron, evaluated on the emulator's scheduling clock, that publishes its message to its
 * destination on every tick. Each tick is an ordinary message (signed, retried, in `messages()`) that
 * carries `Upstash-Schedule-Id`. `advanceTime` fires every tick it skips over.
 */
import { bodyFields, randomId } from "./bytes.ts";
import { type Cron, CronError, parseCron } from "./cron.ts";
import { QStashDevError } from "./errors.ts";
import { headerArrays } from "./headers.ts";
import { type Incoming, type ParsedPublish, parsePublish, type Publisher } from "./publish.ts";
import type { Scheduler, TimedSource } from "./scheduler.ts";

/** What `schedules.get` / `schedules.list` answer: the SDK's `Schedule` shape (the fields qstash-dev knows). */
export interface ScheduleView {
  scheduleId: string;
  cron: string;
  createdAt: number;
  destination: string;
  method: string;
  header: Record<string, string[]>;
  body?: string;
  bodyBase64?: string;
  retries: number;
  /** Seconds. */
  delay?: number;
  callback?: string;
  failureCallback?: string;
  isPaused: boolean;
  queueName?: string;
  lastScheduleTime?: number;
  nextScheduleTime?: number;
}

interface Schedule {
  scheduleId: string;
  cron: Cron;
  createdAt: number;
  message: ParsedPublish;
  delaySeconds?: number;
  isPaused: boolean;
  lastScheduleTime?: number;
  nextScheduleTime: number;
}

export class Schedules implements TimedSource {
  private readonly schedules = new Map<string, Schedule>();

  constructor(
    private readonly scheduler: Scheduler,
    private readonly publisher: Publisher,
  ) {
    scheduler.addSource(this);
  }

  /** `POST /v2/schedules/<destination>`; an `Upstash-Schedule-Id` that exists replaces that schedule. */
  create(incoming: Incoming): string {
    const h = incoming.headers;
    const cronText = h.get("upstash-cron");
    if (cronText === null) throw new QStashDevError(400, "schedules: the Upstash-Cron header is required");
    let cron: Cron;
    try {
      cron = parseCron(cronText);
    } catch (error) {
      if (error instanceof CronError) throw new QStashDevError(400, `schedules: ${error.message}`);
      throw error;
    }
    const message = { ...parsePublish(incoming, "schedules"), workflow: undefined };
    const clock = this.scheduler.clock();
    const next = cron.next(clock);
    if (next === Infinity) throw new QStashDevError(400, `schedules: cron ${JSON.stringify(cronText)} never fires`);
    const scheduleId = h.get("upstash-schedule-id") || `scd_${randomId()}`;
    const delayMs = message.due(0);
    this.schedules.set(scheduleId, {
      scheduleId,
      cron,
      createdAt: clock,
      message,
      delaySeconds: h.has("upstash-delay") ? Math.round(delayMs / 1000) : undefined,
      isPaused: false,
      nextScheduleTime: next,
    });
    this.scheduler.pump();
    return scheduleId;
  }

  list(): ScheduleView[] {
    return [...this.schedules.values()].map(view);
  }

  get(scheduleId: string): ScheduleView {
    return view(this.find(scheduleId));
  }

  delete(scheduleId: string): void {
    this.find(scheduleId);
    this.schedules.delete(scheduleId);
    this.scheduler.pump();
  }

  /** A paused schedule skips its ticks; resuming starts again from the next tick after now. */
  setPaused(scheduleId: string, paused: boolean): void {
    const schedule = this.find(scheduleId);
    schedule.isPaused = paused;
    if (!paused) schedule.nextScheduleTime = schedule.cron.next(this.scheduler.clock());
    this.scheduler.pump();
  }

  fireDue(clock: number): void {
    for (const s of this.schedules.values()) {
      while (!s.isPaused && s.nextScheduleTime <= clock) {
        this.publisher.enqueue(s.message, s.nextScheduleTime, { scheduleId: s.scheduleId });
        s.lastScheduleTime = s.nextScheduleTime;
        s.nextScheduleTime = s.cron.next(s.nextScheduleTime);
      }
    }
  }

  nextDue(): number {
    let next = Infinity;
    for (const s of this.schedules.values()) if (!s.isPaused) next = Math.min(next, s.nextScheduleTime);
    return next;
  }

  private find(scheduleId: string): Schedule {
    const schedule = this.schedules.get(scheduleId);
    if (!schedule) throw new QStashDevError(404, `schedule ${JSON.stringify(scheduleId)} not found`);
    return schedule;
  }
}

function view(s: Schedule): ScheduleView {
  const m = s.message;
  return {
    scheduleId: s.scheduleId,
    cron: s.cron.source,
    createdAt: s.createdAt,
    destination: m.destination,
    method: m.method,
    header: headerArrays(m.header),
    ...bodyFields(m.bytes),
    retries: m.retries,
    delay: s.delaySeconds,
    callback: m.onSuccess?.url,
    failureCallback: m.onFailure?.url,
    isPaused: s.isPaused,
    queueName: m.queueName,
    lastScheduleTime: s.lastScheduleTime,
    nextScheduleTime: s.isPaused ? undefined : s.nextScheduleTime,
  };
}
