import { CliError, type Command, UsageError } from "./command.ts";

export const sendEventCommand: Command = {
  name: "send-event",
  summary: "send an event to a running app (POST /events/:name)",
  help: `Usage: durable-workflow send-event <name> [--payload JSON] [--id ID] [--url URL] [--token TOKEN]

Sends an event: every run waiting for it in a wait_for_event step whose match holds receives it once, and the
workflows with an event trigger on it start a run. Prints the answer: { id, delivered, duplicate, started }.

Options:
  --payload <json>   the event's payload (default null)
  --id <id>          deduplication id: an id sent twice is delivered once
  --url <url>        the app's base URL (default $DW_URL, else http://localhost:8787)
  --token <token>    the API token (default $DW_API_TOKEN)`,
  options: { payload: { type: "string" }, id: { type: "string" }, url: { type: "string" }, token: { type: "string" } },
  async run({ values, positionals }) {
    if (positionals.length !== 1) throw new UsageError("send-event needs exactly one event name");
    let payload: unknown = null;
    if (typeof values.payload === "string") {
      try {
        payload = JSON.parse(values.payload);
      } catch (error) {
        throw new UsageError(`--payload is not JSON: ${(error as Error).message}`);
      }
    }
    const base = String(values.url ?? process.env.DW_URL ?? "http://localhost:8787").replace(/\/+$/, "");
    const token = values.token ?? process.env.DW_API_TOKEN;
    const response = await fetch(`${base}/events/${encodeURIComponent(positionals[0]!)}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ payload, ...(typeof values.id === "string" ? { id: values.id } : {}) }),
    }).catch((error) => {
      throw new CliError(`cannot reach ${base}: ${(error as Error).message}`);
    });
    const body = await response.json().catch(() => null) as { detail?: string; errors?: { path: string; message: string }[] } | null;
    if (!response.ok) {
      const why = body?.errors?.map((e) => `${e.path} ${e.message}`).join("; ") || body?.detail || response.statusText;
      throw new CliError(`the app answered ${response.status}: ${why}`);
    }
    process.stdout.write(`${JSON.stringify(body)}\n`);
    return 0;
  },
};
