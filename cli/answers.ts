import type { HaltAnswer, HaltInfo, Json } from "../src/mod.ts";
import type { Progress } from "./progress.ts";

/** Lines of stdin, read only when asked for (so a run that never halts never touches stdin). */
export class LineReader {
  #lines?: AsyncIterator<string>;

  constructor(private readonly input: AsyncIterable<Uint8Array | string>) {}

  /** The next line, or undefined once the input has ended. */
  async next(): Promise<string | undefined> {
    this.#lines ??= splitLines(this.input);
    const read = await this.#lines.next();
    return read.done ? undefined : read.value;
  }

  /** Lets the process exit: stops reading the input. */
  async close(): Promise<void> {
    await this.#lines?.return?.();
  }
}

async function* splitLines(input: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of input) {
    buffer += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    for (let end = buffer.indexOf("\n"); end >= 0; end = buffer.indexOf("\n")) {
      yield buffer.slice(0, end).replace(/\r$/, "");
      buffer = buffer.slice(end + 1);
    }
  }
  if (buffer) yield buffer;
}

interface Question {
  ask: string;
  /** The answer a line gives, or a string saying what is wrong with it. */
  parse(line: string): HaltAnswer | string;
}

function approvalQuestion(): Question {
  return {
    ask: "Approve? [y/n] ",
    parse: (line) => {
      const word = line.trim().toLowerCase();
      if (word === "y" || word === "yes") return { approved: true };
      if (word === "n" || word === "no") return { approved: false };
      return "answer y or n";
    },
  };
}

function responseQuestion(): Question {
  return {
    ask: "Response (JSON, empty for none): ",
    parse: (line) => {
      if (!line.trim()) return {};
      try {
        return { response: JSON.parse(line) as Json };
      } catch {
        return "the response must be JSON";
      }
    },
  };
}

/** Shows what the run halted for and asks for the answer; undefined when stdin ends first. */
export async function askForAnswer(halt: HaltInfo, lines: LineReader, progress: Progress, echo: boolean): Promise<HaltAnswer | undefined> {
  const approval = halt.data.type === "approval";
  const { type: _type, prompt: _prompt, ...details } = halt.data;
  progress.print(
    progress.paint("yellow", `⏸ ${approval ? "approval needed" : "halted"}${halt.prompt ? `: ${halt.prompt}` : ""}`),
    ...Object.entries(details)
      .filter(([, value]) => value !== halt.prompt)
      .map(([key, value]) => `  ${key}: ${JSON.stringify(value)}`),
  );
  const question = approval ? approvalQuestion() : responseQuestion();
  while (true) {
    process.stdout.write(question.ask);
    const line = await lines.next();
    if (line === undefined) {
      process.stdout.write("\n");
      return undefined;
    }
    if (echo) process.stdout.write(`${line}\n`);
    const answer = question.parse(line);
    if (typeof answer !== "string") return answer;
    progress.print(progress.paint("red", answer));
  }
}
