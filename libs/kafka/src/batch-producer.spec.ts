import { chunkBySize, DEFAULT_MAX_REQUEST_BYTES, type OutgoingMessage } from './batch-producer';

function msg(i: number, valueBytes: number): OutgoingMessage {
  return { topic: i % 2 ? 'a' : 'b', key: `k${i}`, value: 'x'.repeat(valueBytes) };
}

describe('chunkBySize', () => {
  it('keeps a small batch in one request', () => {
    const ms = Array.from({ length: 100 }, (_, i) => msg(i, 100));
    expect(chunkBySize(ms, DEFAULT_MAX_REQUEST_BYTES)).toEqual([ms]);
  });

  it('splits a backlog larger than the bound into ordered runs within it', () => {
    // 10,000 predictions of ~200 bytes: one record batch would exceed the broker's 1 MiB default.
    const ms = Array.from({ length: 10_000 }, (_, i) => msg(i, 200));
    const chunks = chunkBySize(ms, DEFAULT_MAX_REQUEST_BYTES);
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.flat()).toEqual(ms);
    for (const c of chunks) {
      const bytes = c.reduce((n, m) => n + Buffer.byteLength(m.key as string) + Buffer.byteLength(m.value as string) + 32, 0);
      expect(bytes).toBeLessThanOrEqual(DEFAULT_MAX_REQUEST_BYTES);
    }
  });

  it('counts headers: records with a full trace context split earlier than bare ones', () => {
    const headers = { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`, tracestate: 'x'.repeat(512) };
    const bare = Array.from({ length: 4_000 }, (_, i) => msg(i, 200));
    const traced = bare.map((m) => ({ ...m, headers }));
    expect(chunkBySize(bare, DEFAULT_MAX_REQUEST_BYTES)).toHaveLength(2);
    const chunks = chunkBySize(traced, DEFAULT_MAX_REQUEST_BYTES);
    expect(chunks.length).toBeGreaterThanOrEqual(5);
    for (const c of chunks) {
      const bytes = c.reduce((n, m) => n + Buffer.byteLength(m.key as string) + Buffer.byteLength(m.value as string) + 55 + 512 + 32, 0);
      expect(bytes).toBeLessThanOrEqual(DEFAULT_MAX_REQUEST_BYTES);
    }
  });

  it('sends an oversized message alone rather than dropping it', () => {
    const ms = [msg(0, 10), msg(1, 2000), msg(2, 10)];
    expect(chunkBySize(ms, 1000).map((c) => c.length)).toEqual([1, 1, 1]);
  });
});
