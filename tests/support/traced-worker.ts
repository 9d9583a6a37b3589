/**
 * A Worker with the OpenTelemetry trace SDK wired as docs/observability.md describes for Workers (a global tracer
 * provider; here with an exporter that POSTs each span as JSON with the Worker's `fetch` to `SPANS_URL`, a binding).
 * Its workflow calls `API_URL` with an `http` step. Bundled by tests/e2e/deploy.worker-tracing.test.ts and run in workerd.
 */
import { trace } from "@opentelemetry/api";
import { BasicTracerProvider, type ReadableSpan, SimpleSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { appOptionsFromEnv } from "../../config-from-env.ts";
import { createApp } from "../../routes/app.ts";
import { loadWorkflow } from "../../src/definition/load.ts";

let spansUrl = "";
const pending: Promise<unknown>[] = [];

/** A minimal fetch exporter: one POST per batch, `{ name, traceId, spanId, parentSpanId }` per span. */
const exporter: SpanExporter = {
  export(spans: ReadableSpan[], done) {
    const body = spans.map((s) => ({
      name: s.name,
      traceId: s.spanContext().traceId,
      spanId: s.spanContext().spanId,
      parentSpanId: s.parentSpanContext?.spanId ?? null,
    }));
    pending.push(
      fetch(spansUrl, { method: "POST", body: JSON.stringify(body) }).then(() => done({ code: 0 }), (error) => done({ code: 1, error })),
    );
  },
  shutdown: async () => {},
};
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));

const app = createApp((env) =>
  appOptionsFromEnv(env, {
    workflows: [loadWorkflow({
      id: "traced_call",
      name: "Traced call",
      steps: [
        { id: "start", type: "start", next: "me" },
        { id: "me", type: "http", url: `${env.API_URL}/me`, output: "me", next: "finish" },
        { id: "finish", type: "end", result: "$me.body" },
      ],
    })],
    log: () => {},
  })
);

export default {
  async fetch(request: Request, env: Record<string, unknown>): Promise<Response> {
    spansUrl = String(env.SPANS_URL);
    const response = await app.fetch(request, env);
    await Promise.all(pending.splice(0));
    return response;
  },
};
