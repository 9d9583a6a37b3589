/**
 * The OpenTelemetry SDK wired as an app would, with in-memory exporters: a global tracer provider (every span kept
 * in `spans()`) and a global meter provider (metrics read on demand). `unwire()` puts the no-op API back, so other
 * tests in the same process see no SDK. Used by tests/unit/engine/tracing.test.ts and tests/unit/runners/engines.test.ts.
 */
import { metrics, trace } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type ResourceMetrics,
} from "@opentelemetry/sdk-metrics";

export interface Telemetry {
  spans(): ReadableSpan[];
  /**
   * The metrics recorded since the last call: a function giving the data points of metric `name` as
   * `{ attributes, value }` (a histogram's value has its `count` and `sum`).
   */
  metrics(): Promise<(name: string) => { attributes: Record<string, unknown>; value: unknown }[]>;
  reset(): void;
  unwire(): Promise<void>;
}

export function wireTelemetry(options: { metrics?: boolean } = {}): Telemetry {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  trace.setGlobalTracerProvider(tracerProvider);
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
  const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
  const meterProvider = options.metrics === false ? undefined : new MeterProvider({ readers: [reader] });
  if (meterProvider) metrics.setGlobalMeterProvider(meterProvider);
  return {
    spans: () => exporter.getFinishedSpans(),
    async metrics() {
      metricExporter.reset();
      await reader.forceFlush();
      const exported: ResourceMetrics[] = metricExporter.getMetrics();
      const all = exported.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
      return (name) =>
        all.filter((m) => m.descriptor.name === name).flatMap((m) =>
          m.dataPoints.map((p) => ({ attributes: { ...p.attributes }, value: p.value }))
        );
    },
    reset: () => exporter.reset(),
    async unwire() {
      trace.disable();
      metrics.disable();
      await tracerProvider.shutdown();
      await meterProvider?.shutdown();
    },
  };
}
