import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { JsonDepthGuard, MAX_JSON_DEPTH, MULTIPART_LIMITS, requestBodyMiddleware, type TrainerRequest } from './request-body';

const TOKEN = 't'.repeat(32);
const LIMIT = 16384;

/** Sends raw bytes and returns the response head and body the server wrote before closing. */
function raw(port: number, head: string, chunks: (string | Buffer)[] = [], endAfterMs = 300): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let out = '';
    sock.on('data', (d) => (out += d.toString('utf8')));
    sock.on('error', (e) => (out ? resolve(out) : reject(e)));
    sock.on('close', () => resolve(out));
    sock.write(head);
    for (const c of chunks) sock.write(c);
    setTimeout(() => sock.end(), endAfterMs);
  });
}

describe('requestBodyMiddleware', () => {
  let server: Server;
  let base: string;
  let port: number;
  let reached = 0;

  beforeAll(async () => {
    const mw = requestBodyMiddleware({ maxUploadBytes: LIMIT, adminToken: TOKEN });
    server = createServer((req, res) =>
      mw(req as TrainerRequest, res, () => {
        reached++;
        const r = req as TrainerRequest;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ body: r.body ?? null, files: (r.files ?? []).map((f) => ({ name: f.originalname, size: f.buffer.length })) }));
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const post = (path: string, body: string | Buffer | FormData | undefined, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, ...headers }, ...(body !== undefined ? { body } : {}) });

  it('tracks nesting across chunks, ignoring brackets inside strings and escapes', () => {
    const g = new JsonDepthGuard(3);
    expect(g.feed(Buffer.from('{"a":"[[[[\\"[[[", "b":[['))).toBe(true);
    expect(g.feed(Buffer.from('1]]}'))).toBe(true);
    expect(new JsonDepthGuard(3).feed(Buffer.from('[[[['))).toBe(false);
  });

  it('passes a JSON object to the route with a request id', async () => {
    const res = await post('/v1/models/m/retrain', JSON.stringify({ a: [1, { b: 2 }] }), { 'content-type': 'application/json; charset=utf-8', 'x-request-id': 'abc-1' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('abc-1');
    expect(await res.json()).toEqual({ body: { a: [1, { b: 2 }] }, files: [] });
  });

  it('refuses, naming the limit or the problem', async () => {
    const cases: [string, string | Buffer, Record<string, string>, number, RegExp][] = [
      ['/v1/models/m/retrain', '[' .repeat(MAX_JSON_DEPTH + 1), { 'content-type': 'application/json' }, 400, new RegExp(`nests deeper than ${MAX_JSON_DEPTH} levels`)],
      ['/v1/models/m/retrain', '{"a":', { 'content-type': 'application/json' }, 400, /request body is not valid JSON/],
      ['/v1/models/m/retrain', '[1,2]', { 'content-type': 'application/json' }, 400, /must be a JSON object/],
      ['/v1/models/m/retrain', Buffer.from([0x7b, 0xff, 0x7d]), { 'content-type': 'application/json' }, 400, /not valid UTF-8/],
      ['/v1/models/m/retrain', '{}', { 'content-type': 'text/plain' }, 415, /Content-Type text\/plain is not supported: send application\/json/],
      ['/v1/models/m/retrain', '{}', { 'content-type': 'multipart/form-data; boundary=x' }, 415, /send application\/json$/],
      ['/v1/models/m/versions', 'x', { 'content-type': 'multipart/mixed; boundary=x' }, 415, /multipart\/mixed is not supported/],
      ['/v1/models/m/retrain', '{}', { 'content-type': 'application/json; charset=latin1' }, 415, /charset latin1/],
      ['/v1/models/m/retrain', JSON.stringify({ s: 'x'.repeat(LIMIT) }), { 'content-type': 'application/json' }, 413, /over 16384 bytes \(TRAINER_MAX_UPLOAD_BYTES\)/],
      ['/v1/models/m/versions/1/activate', JSON.stringify({ s: 'x'.repeat(70_000) }), { 'content-type': 'application/json' }, 413, /over 65536 bytes/],
    ];
    const before = reached;
    for (const [path, body, headers, status, message] of cases) {
      const res = await post(path, body, headers);
      const json = (await res.json()) as { message: string; requestId: string };
      expect([path, res.status]).toEqual([path, status]);
      expect(json.message).toMatch(message);
      expect(json.requestId).toBe(res.headers.get('x-request-id'));
    }
    expect(reached).toBe(before);
  });

  it('checks the token before reading a body', async () => {
    const res = await fetch(`${base}/v1/models/m/retrain`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(401);
    expect((await post('/v1/models/m/retrain', '{}', { authorization: 'bearer wrong' })).status).toBe(403);
  });

  it('answers 413 from Content-Length alone, before any body byte arrives', async () => {
    const out = await raw(port, `POST /v1/models/m/versions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 10737418240\r\n\r\n`);
    expect(out).toMatch(/^HTTP\/1\.1 413 /);
    expect(out).toContain('TRAINER_MAX_UPLOAD_BYTES');
  });

  it('caps a chunked body while it streams', async () => {
    const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
    const out = await raw(
      port,
      `POST /v1/models/m/retrain HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
      [chunk(`{"s":"${'x'.repeat(9000)}`), chunk('y'.repeat(9000))],
    );
    expect(out).toMatch(/^HTTP\/1\.1 413 /);
  });

  it('reads multipart imports with coerced fields, and caps parts and sizes', async () => {
    const form = new FormData();
    form.append('model.json', new Blob(['{"m":1}']), 'model.json');
    form.append('maxlen', '50');
    form.append('activate', 'true');
    form.append('labels', 'neg, pos');
    form.append('scaler', '{"mean":[1],"scale":[2]}');
    const ok = await post('/v1/models/m/versions', form);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({
      body: { maxlen: 50, activate: true, labels: ['neg', 'pos'], scaler: { mean: [1], scale: [2] } },
      files: [{ name: 'model.json', size: 7 }],
    });

    const many = new FormData();
    for (let i = 0; i <= MULTIPART_LIMITS.files; i++) many.append(`f${i}`, new Blob(['x']), `f${i}`);
    const tooMany = await post('/v1/models/m/versions', many);
    expect(tooMany.status).toBe(413);
    expect(((await tooMany.json()) as { message: string }).message).toBe(`more than ${MULTIPART_LIMITS.files} file parts`);

    const big = new FormData();
    big.append('w.bin', new Blob([Buffer.alloc(LIMIT + 10)]), 'w.bin');
    const tooBig = await post('/v1/models/m/versions', big);
    expect(tooBig.status).toBe(413);

    // Other fields stay text (the route's validation refuses unknown ones by name).
    const text = new FormData();
    text.append('textMode', 'stream');
    text.append('maxlen', '0x10');
    const t = await post('/v1/models/m/versions', text);
    expect(t.status).toBe(200);
    expect(((await t.json()) as { body: unknown }).body).toEqual({ textMode: 'stream', maxlen: '0x10' });

    const deep = new FormData();
    deep.append('scaler', '['.repeat(100));
    const d = await post('/v1/models/m/versions', deep);
    expect(d.status).toBe(400);
    expect(((await d.json()) as { message: string }).message).toMatch(/form field scaler nests deeper/);

    const broken = await post('/v1/models/m/versions', '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1', { 'content-type': 'multipart/form-data' });
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { message: string }).message).toMatch(/^multipart body: /);
  });
});
