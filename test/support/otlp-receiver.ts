/**
 * An in-process OTLP/HTTP trace receiver for suites and benchmarks: a plain http server taking
 * `POST /v1/traces` as OTLP protobuf (the exporters' default, decoded with protobufjs from the
 * message definitions of opentelemetry-proto below) or OTLP JSON, keeping the spans.
 *
 *   const rx = await OtlpReceiver.start();      // rx.endpoint → OTEL_EXPORTER_OTLP_ENDPOINT
 *   ...                                         // rx.spans(), rx.requests, rx.bytes
 *   await rx.close();
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as protobuf from 'protobufjs';

/** One exported span, ids in lowercase hex. */
export interface ReceivedSpan {
  readonly serviceName: string | null;
  readonly traceId: string;
  readonly spanId: string;
  /** Empty for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number;
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
  readonly links: readonly { readonly traceId: string; readonly spanId: string; readonly traceState: string }[];
  /** OTLP StatusCode: 0 unset, 1 ok, 2 error. */
  readonly statusCode: number;
}

// The subset of opentelemetry/proto/{collector/trace,trace,resource,common}/v1 a span needs,
// with the field numbers of the .proto files (unknown fields are skipped by the decoder).
const OTLP_TRACE_PROTO = {
  nested: {
    ExportTraceServiceRequest: { fields: { resourceSpans: { rule: 'repeated', type: 'ResourceSpans', id: 1 } } },
    ResourceSpans: { fields: { resource: { type: 'Resource', id: 1 }, scopeSpans: { rule: 'repeated', type: 'ScopeSpans', id: 2 } } },
    Resource: { fields: { attributes: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
    ScopeSpans: { fields: { spans: { rule: 'repeated', type: 'Span', id: 2 } } },
    Span: {
      fields: {
        traceId: { type: 'bytes', id: 1 },
        spanId: { type: 'bytes', id: 2 },
        traceState: { type: 'string', id: 3 },
        parentSpanId: { type: 'bytes', id: 4 },
        name: { type: 'string', id: 5 },
        kind: { type: 'int32', id: 6 },
        startTimeUnixNano: { type: 'fixed64', id: 7 },
        endTimeUnixNano: { type: 'fixed64', id: 8 },
        attributes: { rule: 'repeated', type: 'KeyValue', id: 9 },
        links: { rule: 'repeated', type: 'Link', id: 13 },
        status: { type: 'Status', id: 15 },
      },
    },
    Link: { fields: { traceId: { type: 'bytes', id: 1 }, spanId: { type: 'bytes', id: 2 }, traceState: { type: 'string', id: 3 } } },
    Status: { fields: { message: { type: 'string', id: 2 }, code: { type: 'int32', id: 3 } } },
    KeyValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } },
    AnyValue: {
      oneofs: { value: { oneof: ['stringValue', 'boolValue', 'intValue', 'doubleValue'] } },
      fields: {
        stringValue: { type: 'string', id: 1 },
        boolValue: { type: 'bool', id: 2 },
        intValue: { type: 'int64', id: 3 },
        doubleValue: { type: 'double', id: 4 },
      },
    },
  },
};
const ExportTraceServiceRequest = protobuf.Root.fromJSON(OTLP_TRACE_PROTO).lookupType('ExportTraceServiceRequest');

/** An OTLP request as plain objects: protobuf decoded with bytes as hex, or the JSON body (ids already hex). */
interface OtlpRequest {
  resourceSpans?: {
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans?: { spans?: OtlpSpan[] }[];
  }[];
}
interface OtlpKeyValue {
  key: string;
  value?: { stringValue?: string; boolValue?: boolean; intValue?: string | number; doubleValue?: number };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  startTimeUnixNano: string | number;
  endTimeUnixNano: string | number;
  attributes?: OtlpKeyValue[];
  links?: { traceId: string; spanId: string; traceState?: string }[];
  status?: { code?: number };
}

function attributeMap(kvs: readonly OtlpKeyValue[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of kvs ?? []) {
    const v = kv.value ?? {};
    if (v.stringValue !== undefined) out[kv.key] = v.stringValue;
    else if (v.boolValue !== undefined) out[kv.key] = v.boolValue;
    else if (v.intValue !== undefined) out[kv.key] = Number(v.intValue);
    else if (v.doubleValue !== undefined) out[kv.key] = v.doubleValue;
  }
  return out;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export class OtlpReceiver {
  private readonly received: ReceivedSpan[] = [];
  /** Export requests answered, and their body bytes. */
  requests = 0;
  bytes = 0;
  /** Requests that could not be decoded (answered 400). */
  readonly errors: string[] = [];

  private constructor(
    private readonly server: Server,
    /** Decode and keep the spans (false: count requests and bytes only, as a sink for benchmarks). */
    private readonly keep: boolean,
  ) {}

  /** Listens on a free port of 127.0.0.1. */
  static async start(opts: { keep?: boolean } = {}): Promise<OtlpReceiver> {
    let rx: OtlpReceiver | null = null;
    const server = createServer((req, res) => {
      void readBody(req).then((body) => {
        const status = rx!.take(req, body);
        res.writeHead(status, { 'content-type': String(req.headers['content-type'] ?? 'application/x-protobuf') });
        res.end();
      });
    });
    rx = new OtlpReceiver(server, opts.keep ?? true);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return rx;
  }

  /** Base URL for OTEL_EXPORTER_OTLP_ENDPOINT (spans go to <it>/v1/traces). */
  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  spans(): readonly ReceivedSpan[] {
    return this.received;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private take(req: IncomingMessage, body: Buffer): number {
    if (req.method !== 'POST' || req.url !== '/v1/traces') return 404;
    this.requests++;
    this.bytes += body.length;
    if (!this.keep) return 200;
    try {
      const json = String(req.headers['content-type'] ?? '').startsWith('application/json');
      const request: OtlpRequest = json
        ? (JSON.parse(body.toString('utf8')) as OtlpRequest)
        : (ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(body), { bytes: String, longs: String, defaults: false }));
      // protobufjs gives bytes as base64 with `bytes: String`: ids become hex here.
      const id = (v: string | undefined): string => (v === undefined || v === '' ? '' : json ? v.toLowerCase() : Buffer.from(v, 'base64').toString('hex'));
      for (const rs of request.resourceSpans ?? []) {
        const service = attributeMap(rs.resource?.attributes)['service.name'];
        for (const ss of rs.scopeSpans ?? []) {
          for (const sp of ss.spans ?? []) {
            this.received.push({
              serviceName: typeof service === 'string' ? service : null,
              traceId: id(sp.traceId),
              spanId: id(sp.spanId),
              parentSpanId: id(sp.parentSpanId),
              name: sp.name,
              kind: sp.kind ?? 0,
              startNs: BigInt(sp.startTimeUnixNano),
              endNs: BigInt(sp.endTimeUnixNano),
              attributes: attributeMap(sp.attributes),
              links: (sp.links ?? []).map((l) => ({ traceId: id(l.traceId), spanId: id(l.spanId), traceState: l.traceState ?? '' })),
              statusCode: sp.status?.code ?? 0,
            });
          }
        }
      }
      return 200;
    } catch (err) {
      this.errors.push((err as Error).message);
      return 400;
    }
  }
}
