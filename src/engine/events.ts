import type { EventType, JsonObject, StoredEvent } from "../types.ts";

/** A typed event of a run or a step (SPEC §7). `data` always carries `executionId`. */
export class WorkflowEvent {
  readonly type: EventType;
  readonly data: JsonObject;
  /** ISO-8601. */
  readonly timestamp: string;
  /** Per-execution sequence number (1, 2, ...), also the SSE id `<executionId>:<seq>`. */
  readonly seq?: number;

  constructor(type: EventType, data: JsonObject, timestamp: string | Date, seq?: number) {
    this.type = type;
    this.data = data;
    this.timestamp = typeof timestamp === "string" ? timestamp : timestamp.toISOString();
    this.seq = seq;
  }

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

  toJSON(): { type: EventType; data: JsonObject; timestamp: string; seq?: number } {
    return { type: this.type, data: this.data, timestamp: this.timestamp, ...(this.seq === undefined ? {} : { seq: this.seq }) };
  }

  toStored(): StoredEvent {
    return { seq: this.seq ?? 0, type: this.type, data: this.data, timestamp: this.timestamp };
  }

  /** `id: ...\nevent: <type>\ndata: <json>\n\n`; the JSON is on one line, so no data line can break the frame. */
  toSSE(): string {
    const id = this.id;
    return `${id === undefined ? "" : `id: ${id}\n`}event: ${this.type}\ndata: ${JSON.stringify(this.toJSON())}\n\n`;
  }
}

export type EventHandler = (event: WorkflowEvent) => void;
