import { oneOf, parseBoolean } from './env-parsers';
import type { EnvVarSpec } from './env-schema';

/** Span exporters an app can be started with (OTEL_TRACES_EXPORTER); `none` turns tracing off. */
export const OTEL_TRACES_EXPORTERS = ['none', 'otlp', 'console'] as const;

/** OTLP encodings over HTTP (OTEL_EXPORTER_OTLP_PROTOCOL); gRPC is not bundled. */
export const OTEL_OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;

/** Samplers of the OpenTelemetry SDK (OTEL_TRACES_SAMPLER). */
export const OTEL_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;

function httpUrl(raw: string): string {
  const v = raw.trim();
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new Error(`"${raw}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`"${raw}" is not an http(s) URL`);
  return v;
}

/**
 * The standard OpenTelemetry variables an app validates at boot (docs/tracing.md), so that a bad
 * value stops boot naming the variable instead of the SDK falling back to a default. The SDK and
 * the OTLP exporter read them (and the other standard `OTEL_*` variables) themselves.
 * `serviceName` is the default OTEL_SERVICE_NAME.
 */
export function otelEnv(serviceName: string) {
  return {
    OTEL_TRACES_EXPORTER: {
      parse: oneOf(OTEL_TRACES_EXPORTERS),
      default: 'none',
      description:
        'span exporter: none (tracing off: no SDK, only the W3C traceparent/tracestate headers are carried from inputs to outputs), otlp (OTLP over HTTP), console (stdout)',
    } satisfies EnvVarSpec<(typeof OTEL_TRACES_EXPORTERS)[number]>,
    OTEL_SDK_DISABLED: {
      parse: (raw: string) => parseBoolean(raw, true),
      default: 'false',
      description: 'true: tracing off whatever OTEL_TRACES_EXPORTER says',
    } satisfies EnvVarSpec<boolean>,
    OTEL_EXPORTER_OTLP_ENDPOINT: {
      parse: httpUrl,
      optional: true,
      description: 'OTLP/HTTP base URL; spans go to <it>/v1/traces (unset: http://localhost:4318)',
    } satisfies EnvVarSpec<string>,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: {
      parse: httpUrl,
      optional: true,
      description: 'full OTLP/HTTP URL of spans, used as is (overrides OTEL_EXPORTER_OTLP_ENDPOINT)',
    } satisfies EnvVarSpec<string>,
    OTEL_EXPORTER_OTLP_PROTOCOL: {
      parse: oneOf(OTEL_OTLP_PROTOCOLS),
      default: 'http/protobuf',
      description: 'OTLP encoding: http/protobuf or http/json',
    } satisfies EnvVarSpec<(typeof OTEL_OTLP_PROTOCOLS)[number]>,
    OTEL_SERVICE_NAME: {
      parse: (raw: string) => raw.trim(),
      default: serviceName,
      description: 'service.name of the spans',
    } satisfies EnvVarSpec<string>,
    OTEL_TRACES_SAMPLER: {
      parse: oneOf(OTEL_SAMPLERS),
      default: 'parentbased_always_on',
      description: 'which units of work are recorded; a unit\'s span is a trace root (linked to its inputs), so parentbased_X samples like X; traceidratio records OTEL_TRACES_SAMPLER_ARG of them',
    } satisfies EnvVarSpec<(typeof OTEL_SAMPLERS)[number]>,
    OTEL_TRACES_SAMPLER_ARG: {
      parse: (raw: string) => {
        const n = Number(raw.trim());
        if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new Error(`"${raw}" is not a ratio between 0 and 1`);
        return n;
      },
      optional: true,
      description: 'sampling ratio of the traceidratio samplers, 0-1 (unset: 1)',
    } satisfies EnvVarSpec<number>,
  } as const;
}
