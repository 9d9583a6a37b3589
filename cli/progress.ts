import type { WorkflowEvent } from "../src/mod.ts";

interface ProgressOptions {
  write(text: string): void;
  /** A terminal: a "running" line shows the step in progress and is replaced when it ends. */
  live: boolean;
  color: boolean;
}

const COLORS = { green: 32, red: 31, yellow: 33, cyan: 36, dim: 2 } as const;

/** The live view of a run: one line per step with its status and duration, from the StreamRunner's events. */
export class Progress {
  readonly #options: ProgressOptions;
  /** Steps started and not yet ended: id → start time (ms) and type. */
  readonly #running = new Map<string, { start: number; type: string }>();
  #statusShown = false;

  constructor(options: ProgressOptions) {
    this.#options = options;
  }

  paint(color: keyof typeof COLORS, text: string): string {
    return this.#options.color ? `\x1b[${COLORS[color]}m${text}\x1b[0m` : text;
  }

  /** Prints whole lines, keeping the "running" line below them. */
  print(...lines: string[]): void {
    this.#clearStatus();
    this.#options.write(lines.map((line) => `${line}\n`).join(""));
    this.#drawStatus();
  }

  readonly handle = (event: WorkflowEvent): void => {
    const data = event.data;
    const time = Date.parse(event.timestamp);
    const stepId = String(data.stepId ?? "");
    const stepType = String(data.stepType ?? "");
    switch (event.type) {
      case "workflow.started":
        return this.print(`${this.paint("cyan", "▶")} ${data.workflowId}  ${this.paint("dim", `execution ${event.executionId}`)}`);
      case "workflow.resumed":
        return this.print(`${this.paint("cyan", "▶")} resumed  ${this.paint("dim", `execution ${event.executionId}`)}`);
      case "step.started":
        this.#running.set(stepId, { start: time, type: stepType });
        return this.print();
      case "step.completed":
        return this.#ended(stepId, time, this.paint("green", "✓"));
      case "step.halted":
        return this.#ended(stepId, time, this.paint("yellow", "⏸"));
      case "step.failed":
        return this.#ended(stepId, time, this.paint("red", "✗"), String(data.error ?? ""));
      case "workflow.completed":
        return this.print(this.paint("green", "✓ completed"));
      case "workflow.compensating":
        return this.print(this.paint("yellow", `↺ compensating: ${data.error}`));
      case "step.compensated":
        return this.print(`  ${this.paint("green", "↺")} ${stepId} (${stepType})  ${this.paint("dim", "compensated")}`);
      case "step.compensation_failed":
        return this.print(
          `  ${this.paint("red", "↺")} ${stepId} (${stepType})  ${this.paint("red", `compensation failed: ${data.error}`)}`,
        );
      case "workflow.failed":
        return this.print(this.paint("red", `✗ failed${compensatedText(data.compensated)}: ${data.error}`));
      case "workflow.cancelled":
        return this.print(this.paint("red", `✗ cancelled${compensatedText(data.compensated)}: ${data.reason}`));
    }
  };

  #ended(stepId: string, time: number, mark: string, error?: string): void {
    const started = this.#running.get(stepId);
    this.#running.delete(stepId);
    const duration = started ? this.paint("dim", `${Math.max(0, time - started.start)} ms`) : "";
    const type = started?.type ? ` (${started.type})` : "";
    this.print(`  ${mark} ${stepId}${type}  ${duration}${error ? `  ${this.paint("red", error)}` : ""}`);
  }

  #clearStatus(): void {
    if (this.#statusShown) this.#options.write("\r\x1b[2K");
    this.#statusShown = false;
  }

  #drawStatus(): void {
    if (!this.#options.live || !this.#running.size) return;
    const [stepId, step] = [...this.#running].at(-1)!;
    this.#options.write(`  ${this.paint("cyan", "…")} ${stepId} (${step.type})  ${this.paint("dim", "running")}`);
    this.#statusShown = true;
  }
}

/** `, compensated` / `, compensation failed` after a run that ran compensations; nothing otherwise. */
function compensatedText(compensated: unknown): string {
  return compensated === true ? ", compensated" : compensated === false ? ", compensation failed" : "";
}
