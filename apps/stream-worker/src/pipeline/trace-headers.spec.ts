import { UNTRACED, attachTraceHeaders, inputSpanContext } from './trace-headers';
import type { PlacedOutput } from './encode-stage';
import type { InputMessage, PartitionBatch } from './ports';

const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const msg = (headers?: InputMessage['headers']): InputMessage => ({ offset: '0', key: null, value: null, headers });

describe('W3C trace context headers (tracing off: a pass-through hop)', () => {
  it('an input traceparent and tracestate reach the output unchanged (Buffer headers as kafkajs reads them)', () => {
    const h = UNTRACED.outputHeaders(0, 0, msg({ traceparent: Buffer.from(TP), tracestate: Buffer.from('a=1,b=2') }));
    expect(h).toEqual({ traceparent: TP, tracestate: 'a=1,b=2' });
    // A canonical traceparent alone is passed on as the bytes it came as.
    const alone = Buffer.from(TP);
    expect(UNTRACED.outputHeaders(0, 0, msg({ traceparent: alone }))!.traceparent).toBe(alone);
    expect(UNTRACED.outputHeaders(0, 0, msg({ traceparent: TP }))).toEqual({ traceparent: TP });
    // Another version is rewritten as version 00 by the propagator.
    expect(UNTRACED.outputHeaders(0, 0, msg({ traceparent: `cc${TP.slice(2)}-future` }))).toEqual({ traceparent: TP });
  });

  it('an input without a trace context gives an output without headers', () => {
    expect(UNTRACED.outputHeaders(0, 0, msg())).toBeUndefined();
    expect(UNTRACED.outputHeaders(0, 0, msg({ other: 'x' }))).toBeUndefined();
  });

  it('malformed or all-zero traceparents are not copied', () => {
    const bads = [
      'garbage',
      '00-xyz',
      `${TP}x`,
      TP.toUpperCase(),
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0\u00e9`,
    ];
    for (const bad of bads) {
      expect({ bad, h: UNTRACED.outputHeaders(0, 0, msg({ traceparent: bad })) }).toEqual({ bad, h: undefined });
      expect({ bad, h: UNTRACED.outputHeaders(0, 0, msg({ traceparent: Buffer.from(bad) })) }).toEqual({ bad, h: undefined });
    }
  });

  it('an oversized tracestate is cut to the W3C limit (512 characters), the traceparent kept: outputs stay small', () => {
    for (const entries of [40, 50_000]) {
      const big = Array.from({ length: entries }, (_, i) => `k${i}=${'v'.repeat(20)}`).join(',');
      const h = UNTRACED.outputHeaders(0, 0, msg({ traceparent: TP, tracestate: big }))!;
      expect(h.traceparent).toBe(TP);
      expect((h.tracestate ?? '').length).toBeLessThanOrEqual(512);
    }
  });

  it('a repeated traceparent header uses the first', () => {
    expect(inputSpanContext(msg({ traceparent: [TP, 'garbage'] }))?.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('attachTraceHeaders gives each output its own source message context', () => {
    const batches: PartitionBatch[] = [{ topic: 'in', partition: 0, messages: [msg(), msg({ traceparent: TP })] }];
    const outputs: PlacedOutput[] = [
      { batch: 0, index: 0, record: { topic: 'out', key: 'a', value: '{}' } },
      { batch: 0, index: 1, record: { topic: 'out', key: 'b', value: '{}' } },
    ];
    attachTraceHeaders(outputs, batches, UNTRACED);
    expect(outputs[0].record.headers).toBeUndefined();
    expect(outputs[1].record).toEqual({ topic: 'out', key: 'b', value: '{}', headers: { traceparent: TP } });
  });
});
