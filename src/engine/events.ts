import { ValidationError } from "../errors.ts";
import { deepFreeze } from "../json.ts";
import { EVENT_TYPES, type EventType, type JsonObject, type StoredEvent } from "../types.ts";

/**
 * A typed event of a run or a step. `data` always carries `executionId`. An event is a frozen
 * copy: a subscriber that changes it cannot change the run's ctx, the stored log or what other
 * subscribers see.
 */
export class WorkflowEvent {
  readonly type: EventType;
  readonly data: Readonly<JsonObject>;
  /** ISO-8601. */
  readonly timestamp: string;
  /** Per-execution sequence number (1, 2, ...), also the SSE id `<executionId>:<seq>`. */
  readonly seq?: number;

  constructor(type: EventType, data: JsonObject, timestamp: string | Date, seq?: number) {
    if (!EVENT_TYPES.includes(type)) {
      throw new ValidationError(`Unknown event type ${JSON.stringify(type)}: use one of ${EVENT_TYPES.join(", ")}`);
    }
    if (seq !== undefined && !(Number.isSafeInteger(seq) && seq >= 0)) {
      throw new ValidationError(`An event's seq must be a non-negative integer, got ${seq}`);
    }
    const executionId = data?.executionId;
    // The id line of toSSE: a line break in it would end the frame early.
    if (typeof executionId === "string" && /[\r\n]/.test(executionId)) {
      throw new ValidationError('An event\'s executionId must not contain "\\r" or "\\n"');
    }
    this.type = type;
    // The copy is made through JSON text, kept for json(): an event is serialized once, however many streams send it.
    this.#dataText = JSON.stringify(data);
    this.data = deepFreeze(this.#dataText === undefined ? data : JSON.parse(this.#dataText));
    this.timestamp = typeof timestamp === "string" ? timestamp : timestamp.toISOString();
    this.seq = seq;
  }

  readonly #dataText: string | undefined;
  #json: string | undefined;

  static fromStored(event: StoredEvent): WorkflowEvent {
    return new WorkflowEvent(event.type, event.data, event.timestamp, event.seq);
  }

  get executionId(): string {
    return String(this.data.executionId ?? "");
  }

  /** The SSE id: `<executionId>:<seq>`, or undefined without a sequence number. */
  get id(): string | undefined {
    return this.seq === undefined ? undefined : `${this.executionId}:${this.seq}`;
  }

  toJSON(): { type: EventType; data: Readonly<JsonObject>; timestamp: string; seq?: number } {
    return { type: this.type, data: this.data, timestamp: this.timestamp, ...(this.seq === undefined ? {} : { seq: this.seq }) };
  }

  /** `JSON.stringify(this)`, made once (the event is frozen): what each SSE `data:` line sends. */
  json(): string {
    if (this.#dataText === undefined) return JSON.stringify(this);
    this.#json ??= `{"type":${JSON.stringify(this.type)},"data":${this.#dataText},"timestamp":${JSON.stringify(this.timestamp)}${
      this.seq === undefined ? "" : `,"seq":${this.seq}`
    }}`;
    return this.#json;
  }

  toStored(): StoredEvent {
    return { seq: this.seq ?? 0, type: this.type, data: this.data as JsonObject, timestamp: this.timestamp };
  }

  /**
   * `id: <executionId>:<seq>\nevent: <type>\ndata: <json>\n\n` (no `id:` line without a seq). JSON.stringify
   * escapes every CR and LF inside strings, so the data is one line whatever the values hold, and the type
   * and id are checked by the constructor: no value can end the frame early or inject a field.
   */
  toSSE(): string {
    const id = this.id;
    return `${id === undefined ? "" : `id: ${id}\n`}event: ${this.type}\ndata: ${this.json()}\n\n`;
  }
}

/** The engine's `onEvent`: called with every event as it is generated; what it throws is caught. */
export type EventHandler = (event: WorkflowEvent) => void;
