/**
 * The trainer's admin API under abuse, over real HTTP against the real trainer process
 * (dist/apps/trainer/src/main.js) with the run's Kafka and Redis: a few hundred hostile requests
 * generated from /docs-json (every route and method × malformed and deeply nested JSON, wrong
 * content types, oversize declared and streamed lengths, wrong types for every field, hostile
 * path parameters), file sources that try every way out of the data directory, and bursts of
 * retrains against the job cap. Checks: no 5xx; every refusal names the field or the limit and
 * carries the request id; a canary file outside the data directory is never read (its atime,
 * with a control file proving atime moves on this filesystem) and no job ever trains on it;
 * /health p99 measured throughout.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { e2eStack, sleep, uniqueName, waitFor } from './support/e2e-env';
import { TrainerProcess, trainerEnv } from './support/trainer-process';

const UPLOAD_LIMIT = 1024 * 1024;
const DATA_LIMIT = 256 * 1024;
const MAX_JOBS = 2;
const JOB_MEMORY_MB = 512;
/** Generous on a shared 2-core machine; the measured figure is printed. */
const HEALTH_P99_BOUND_MS = 1000;

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Record<string, unknown> | null;
  ms: number;
}

interface Case {
  label: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** null when the answer is right, else what is wrong with it. */
  check: (r: Res) => string | null;
}

/**
 * One request on a fresh connection. The path goes out as written (no URL normalisation of
 * `%2e%2e`); an answer that arrives before the server closes on a body it refused is kept.
 */
function send(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer, timeoutMs = 20_000): Promise<Res> {
  const t0 = performance.now();
  const { hostname, port } = new URL(base);
  // Node's client sends a GET body without a length unless told; declare it (the server would
  // read the body as the next request).
  if (body !== undefined && headers['transfer-encoding'] === undefined) headers = { ...headers, 'content-length': String(Buffer.byteLength(body)) };
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = httpRequest({ host: hostname, port, path, method, headers, agent: false, timeout: timeoutMs }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Record<string, unknown> | null = null;
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          json = null;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json, ms: performance.now() - t0 });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

/** Raw bytes on a socket (headers the HTTP clients refuse to send); resolves with what came back. */
function rawExchange(port: number, head: string, chunks: string[] = [], holdMs = 3000): Promise<{ text: string; firstByteMs: number | null }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let first: number | null = null;
    let text = '';
    const sock = connect(port, '127.0.0.1');
    sock.on('data', (d) => {
      first ??= performance.now() - t0;
      text += d.toString('utf8');
    });
    const done = () => resolve({ text, firstByteMs: first });
    sock.on('close', done);
    sock.on('error', done);
    sock.write(head);
    for (const c of chunks) sock.write(c);
    setTimeout(() => sock.destroy(), holdMs);
  });
}

/**
 * Probes GET /health every 20 ms from a process of its own (so the latencies are the trainer's,
 * not this busy test process's), printing one `<ms> <status>` line per probe.
 */
const HEALTH_PROBE = `
const http = require('http');
const url = process.argv[1];
let stop = false;
process.on('SIGTERM', () => (stop = true));
(async () => {
  while (!stop) {
    const t0 = performance.now();
    const status = await new Promise((resolve) => {
      const req = http.get(url, { agent: false, timeout: 10000 }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(0));
    });
    process.stdout.write((performance.now() - t0).toFixed(2) + ' ' + status + '\\n');
    await new Promise((r) => setTimeout(r, 20));
  }
  process.exit(0);
})();
`;

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function runAll<T, R>(items: T[], concurrency: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

function csv(rows: number, wave: (x: number) => number = Math.sin): string {
  const out = ['sensorId,ts,value'];
  for (let i = 0; i < rows; i++) out.push(`s1,${i * 1000},${wave(i / 5)}`);
  return out.join('\n');
}

describe('trainer admin API under abuse (real process, real Kafka and Redis)', () => {
  const stack = e2eStack();
  const token = randomBytes(24).toString('hex');
  const auth = { authorization: `Bearer ${token}` };
  const json = { ...auth, 'content-type': 'application/json' };
  const sourceTopic = uniqueName('abuse.sensor');
  const modelsTopic = uniqueName('abuse.models');
  let trainer: TrainerProcess;
  let port: number;
  let root: string;
  let data: string;
  let canary: string;
  let control: string;
  const OLD_ATIME = new Date('2001-01-01T00:00:00Z');
  /** Every job any request started: none may have read outside the data directory. */
  const startedJobs = new Set<string>();
  let probe: ChildProcess;
  let probeOut = '';
  async function stopProbe(): Promise<{ ms: number; status: number }[]> {
    if (probe.exitCode === null) {
      const exited = new Promise((r) => probe.once('exit', r));
      probe.kill('SIGTERM');
      await exited;
    }
    return probeOut
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [ms, status] = l.split(' ');
        return { ms: Number(ms), status: Number(status) };
      });
  }

  beforeAll(async () => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'admin-abuse-')));
    data = join(root, 'data');
    const outside = join(root, 'outside');
    const sibling = join(root, 'data-sibling'); // shares a text prefix with the data directory
    mkdirSync(join(data, 'sub'), { recursive: true });
    mkdirSync(outside);
    mkdirSync(sibling);
    canary = join(outside, 'canary.csv');
    writeFileSync(canary, csv(400, Math.cos));
    writeFileSync(join(sibling, 'sibling.csv'), csv(50));
    writeFileSync(join(data, 'ok.csv'), csv(300));
    writeFileSync(join(data, 'big.csv'), csv(20_000));
    symlinkSync(canary, join(data, 'to-file'));
    symlinkSync(outside, join(data, 'to-dir'));
    symlinkSync('../outside/canary.csv', join(data, 'relative'));
    symlinkSync(join(data, 'to-file'), join(data, 'chained'));
    symlinkSync(join(sibling, 'sibling.csv'), join(data, 'to-sibling'));
    symlinkSync('/etc/passwd', join(data, 'passwd'));
    symlinkSync('/proc/self/environ', join(data, 'environ'));
    symlinkSync('/dev/zero', join(data, 'zero'));
    symlinkSync(join(data, 'loop'), join(data, 'loop'));
    execFileSync('mkfifo', [join(data, 'fifo')]);
    utimesSync(canary, OLD_ATIME, statSync(canary).mtime);
    // Control: reading a file with an old atime moves it on this filesystem (relatime).
    control = join(outside, 'control.csv');
    writeFileSync(control, 'x');
    utimesSync(control, OLD_ATIME, statSync(control).mtime);

    const kafka = new Kafka({ clientId: 'admin-abuse', brokers: stack.brokers.split(','), logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: sourceTopic, numPartitions: 1 }] });
    await admin.disconnect();
    // More than TRAINER_MAX_DATA_BYTES of readings on an allowed topic.
    const producer = kafka.producer();
    await producer.connect();
    const pad = 'p'.repeat(900);
    await producer.send({
      topic: sourceTopic,
      messages: Array.from({ length: 400 }, (_, i) => ({ key: 's1', value: JSON.stringify({ sensorId: 's1', ts: i * 1000, value: Math.sin(i), pad }) })),
    });
    await producer.disconnect();

    trainer = await TrainerProcess.launch(uniqueName('admin-abuse'), trainerEnv(stack, token, modelsTopic, {
      TRAINER_INSTANCE_ID: uniqueName('abuse'),
      TRAINER_DATA_DIR: data,
      TRAINER_SOURCE_TOPICS: sourceTopic,
      TRAINER_MAX_UPLOAD_BYTES: String(UPLOAD_LIMIT),
      TRAINER_MAX_DATA_BYTES: String(DATA_LIMIT),
      TRAINER_MAX_JOBS: String(MAX_JOBS),
      TRAINER_JOB_MEMORY_MB: String(JOB_MEMORY_MB),
    }));
    port = Number(new URL(trainer.base).port);
    probe = spawn(process.execPath, ['-e', HEALTH_PROBE, `${trainer.base}/health`], { stdio: ['ignore', 'pipe', 'inherit'] });
    probe.stdout!.on('data', (d: Buffer) => (probeOut += d.toString('utf8')));
  });

  afterAll(async () => {
    if (probe) await stopProbe();
    await trainer?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = json) =>
    send(trainer.base, method, path, headers, body === undefined ? undefined : JSON.stringify(body));

  async function waitJob(id: string, timeoutMs = 120_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await call('GET', `/v1/jobs/${id}`, undefined, auth);
      const status = r.json?.status as string;
      if (['succeeded', 'failed', 'cancelled'].includes(status)) return r.json!;
      if (Date.now() > deadline) throw new Error(`job ${id} still ${status}`);
      await sleep(250);
    }
  }

  const is =
    (statuses: number[], message?: RegExp) =>
    (r: Res): string | null => {
      if (!statuses.includes(r.status)) return `status ${r.status} (want ${statuses.join('/')}): ${r.text.slice(0, 300)}`;
      if (message) {
        const m = r.json?.message;
        const text = Array.isArray(m) ? m.join(' | ') : String(m);
        if (!message.test(text)) return `message ${JSON.stringify(text.slice(0, 300))} does not match ${String(message)}`;
      }
      return null;
    };

  /** Checks every answer must pass: below 500; a refusal is JSON with a message and the request id of its header. */
  function common(r: Res): string | null {
    if (r.status >= 500) return `5xx: ${r.status} ${r.text.slice(0, 300)}`;
    if (r.status >= 400) {
      if (!r.json) return `refusal ${r.status} is not JSON: ${JSON.stringify(r.headers)} ${r.text.slice(0, 200)}`;
      if (r.json.message === undefined || r.json.message === '') return 'refusal without a message';
      if (typeof r.json.requestId !== 'string' || r.json.requestId !== r.headers['x-request-id']) return 'refusal without its request id';
    }
    return null;
  }

  it('never answers 5xx across hundreds of hostile requests generated from /docs-json; each refusal names the field or the limit', async () => {
    const doc = (await call('GET', '/docs-json', undefined, {})).json as {
      paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; requestBody?: { content: Record<string, { schema: { $ref?: string } }> } }>>;
      components: { schemas: Record<string, { properties?: Record<string, { $ref?: string; type?: string; allOf?: { $ref: string }[] }> }> };
    };
    const schemaOf = (ref: string | undefined) => (ref ? doc.components.schemas[ref.split('/').pop()!] : undefined);
    const model = uniqueName('abuse-model');
    const valid: Record<string, string> = { name: model, version: '1', id: randomUUID(), key: 'k' };
    const cases: Case[] = [];
    const ops: { method: string; template: string; op: (typeof doc.paths)[string][string] }[] = [];
    for (const [template, methods] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(methods)) ops.push({ method: method.toUpperCase(), template, op });
    expect(ops.map((o) => `${o.method} ${o.template}`)).toEqual(
      expect.arrayContaining(['POST /v1/models/{name}/retrain', 'POST /v1/models/{name}/versions', 'POST /v1/models/{name}/versions/{version}/activate', 'POST /v1/jobs/{id}/cancel', 'GET /v1/jobs/{id}/events']),
    );
    const fill = (template: string, over: Record<string, string> = {}) => template.replace(/\{(\w+)\}/g, (_, p: string) => over[p] ?? encodeURIComponent(valid[p]));
    // A body each route answers without starting anything: retrain on a file that does not exist,
    // import without files, activate a version of a model that does not exist.
    const baseBody: Record<string, Record<string, unknown>> = {
      'POST /v1/models/{name}/retrain': { task: 'forecast', source: { kind: 'file', path: 'missing.csv' } },
      'POST /v1/models/{name}/versions': { task: 'forecast', files: {} },
      'POST /v1/models/{name}/versions/{version}/activate': {},
      'POST /v1/models/{name}/versions/{version}/shadow': {},
      'POST /v1/models/{name}/versions/{version}/promote': {},
      'POST /v1/jobs/{id}/cancel': {},
      'PUT /v1/models/{name}/policy': { autoPromote: { margin: 0.1, minEvents: 10 }, drift: { threshold: 2, windowEvents: 100, retrain: { historyMs: 60_000, topic: 'sensor.readings' } } },
      'POST /v1/models/{name}/policy/pause': {},
      'POST /v1/models/{name}/policy/resume': {},
      'POST /v1/models/{name}/keys/reset': { keys: ['k'] },
      'POST /v1/models/{name}/keys/{key}/reset': {},
      'POST /v1/models/{name}/versions/{version}/backtest': {},
    };
    const baseOutcome: Record<string, RegExp> = {
      'POST /v1/models/{name}/retrain': /source\.path does not exist under TRAINER_DATA_DIR/,
      'POST /v1/models/{name}/versions': /^files must contain/,
      'POST /v1/models/{name}/versions/{version}/activate': /has no version 1|not found/,
      'POST /v1/models/{name}/versions/{version}/shadow': /has no version 1/,
      'POST /v1/models/{name}/versions/{version}/promote': /has no version 1/,
      'POST /v1/jobs/{id}/cancel': /not found/,
      'PUT /v1/models/{name}/policy': /not found/,
      'POST /v1/models/{name}/policy/pause': /has no policy/,
      'POST /v1/models/{name}/policy/resume': /has no policy/,
      'POST /v1/models/{name}/keys/reset': /not found/,
      'POST /v1/models/{name}/keys/{key}/reset': /not found/,
      'POST /v1/models/{name}/versions/{version}/backtest': /has no version 1/,
    };

    for (const { method, template, op } of ops) {
      const key = `${method} ${template}`;
      const path = fill(template);
      const protectedRoute = template.startsWith('/v1');
      const hasBody = method === 'POST' || method === 'PUT';
      const goodBody = JSON.stringify(baseBody[key] ?? {});
      // Authentication.
      if (protectedRoute) {
        cases.push({ label: `${key} no token`, method, path, headers: hasBody ? { 'content-type': 'application/json' } : {}, body: hasBody ? goodBody : undefined, check: is([401], /missing bearer token/) });
        cases.push({ label: `${key} wrong token`, method, path, headers: { authorization: 'Bearer x'.padEnd(60, 'y'), ...(hasBody ? { 'content-type': 'application/json' } : {}) }, body: hasBody ? goodBody : undefined, check: is([403], /invalid bearer token/) });
        cases.push({ label: `${key} basic auth`, method, path, headers: { authorization: 'Basic YTpi' }, check: is([401]) });
      }
      // Hostile path parameters.
      const hostile: Record<string, [string, RegExp][]> = {
        name: [['..%2F..%2Fetc%2Fpasswd', /name/], ['%2e%2e', /name/], ['a%00b', /name/], ['x'.repeat(300), /name/], ['bad%3Aname', /name/], ['%20', /name/]],
        version: [['0x1', /version must be a decimal integer/], ['1e0', /version/], ['-1', /version/], ['%201', /version/], ['01', /version/], ['1.5', /version/], ['99999999999', /version/], ['NaN', /version/], ['0', /version/]],
        id: [['..%2F..', /id must be a job id/], ['not-a-uuid', /id must be a job id/], ['%00', /id/], [`${randomUUID()}x`, /id/]],
      };
      for (const p of op.parameters ?? []) {
        if (p.in !== 'path') continue;
        for (const [value, message] of hostile[p.name] ?? []) {
          cases.push({
            label: `${key} ${p.name}=${value.slice(0, 20)}`,
            method,
            path: fill(template, { [p.name]: value }),
            headers: hasBody ? json : auth,
            body: hasBody ? goodBody : undefined,
            check: is([400, 404], message),
          });
        }
      }
      if (!protectedRoute) continue;
      if (!hasBody) {
        // Routes that take no body: a body is ignored, a big declared one refused.
        cases.push({ label: `${key} with a JSON body`, method, path, headers: json, body: '{"a":[[[[[[[[[[]]]]]]]]]]}', check: is([200, 404]) });
        cases.push({ label: `${key} with a big body`, method, path, headers: json, body: 'x'.repeat(100_000), check: is([413], /takes no body/) });
        continue;
      }
      const okStatus = /activate|shadow|promote|cancel|policy|reset|backtest/.test(key) ? [404] : [400];
      // Malformed and hostile JSON.
      const deepArray = '['.repeat(5000) + ']'.repeat(5000);
      const deepObject = '{"a":'.repeat(3000) + '1' + '}'.repeat(3000);
      const malformed: [string, string | Buffer, number[], RegExp][] = [
        ['truncated', '{"task":', [400], /not valid JSON/],
        ['trailing comma', '{"a":1,}', [400], /not valid JSON/],
        ['bare word', 'nul', [400], /not valid JSON/],
        ['string', '"x"', [400], /must be a JSON object/],
        ['array', '[]', [400], /must be a JSON object/],
        ['null', 'null', [400], /must be a JSON object/],
        ['number', '1e999', [400], /must be a JSON object/],
        ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]), [400], /not valid UTF-8/],
        ['raw control character', '{"a":"\u0001"}', [400], /not valid JSON/],
        ['escaped NUL', '{"note":"a\\u0000b"}', [400, 404], new RegExp(`note|should not exist|${baseOutcome[key].source}`)],
        ['nested arrays 5000 deep', deepArray, [400], /nests deeper than 16 levels \(the JSON depth limit\)/],
        ['nested objects 3000 deep', deepObject, [400], /JSON depth limit/],
        ['deep inside a field', `{"task":"forecast","source":${deepObject}}`, [400], /JSON depth limit/],
        ['prototype keys', '{"__proto__":{"admin":true},"constructor":{"prototype":{}}}', [400, 404], /./],
        ['brackets in strings', `{"note":"${'['.repeat(5000)}"}`, [400, 404], /note|should not exist|not found|files must contain/],
      ];
      for (const [label, body, statuses, message] of malformed) cases.push({ label: `${key} ${label}`, method, path, headers: json, body, check: is(statuses, message) });
      // Content types.
      const multipartOk = key === 'POST /v1/models/{name}/versions';
      const types: [string, number[], RegExp][] = [
        ['text/plain', [415], /Content-Type text\/plain is not supported/],
        ['application/xml', [415], /Content-Type application\/xml is not supported/],
        ['multipart/mixed; boundary=x', [415], /multipart\/mixed is not supported/],
        ['application/x-www-form-urlencoded', [415], /not supported/],
        ['application/json; charset=utf-16', [415], /charset utf-16/],
        ['application/json-patch+json', [415], /not supported/],
        ['multipart/form-data', multipartOk ? [400] : [415], multipartOk ? /^multipart body: / : /not supported/],
      ];
      for (const [type, statuses, message] of types) cases.push({ label: `${key} ${type}`, method, path, headers: { ...auth, 'content-type': type }, body: goodBody, check: is(statuses, message) });
      cases.push({ label: `${key} body without a type`, method, path, headers: auth, body: goodBody, check: is([415], /Content-Type \(none\)/) });
      // Wrong types for every field of the route's JSON schema (and of nested schemas).
      const schema = schemaOf(op.requestBody?.content['application/json']?.schema.$ref);
      const wrong: unknown[] = ['x', -1, 1.5, 1e308, true, null, [], {}, 'a'.repeat(5000), [1, [2, [3]]]];
      for (const [prop, def] of Object.entries(schema?.properties ?? {})) {
        const nested = schemaOf(def.$ref ?? def.allOf?.[0]?.$ref);
        const base = baseBody[key];
        for (const value of wrong) {
          cases.push({
            label: `${key} ${prop}=${JSON.stringify(value).slice(0, 20)}`,
            method,
            path,
            headers: json,
            body: JSON.stringify({ ...base, [prop]: value }),
            check: is([...okStatus, 400], new RegExp(`${prop}|${baseOutcome[key].source}`)),
          });
        }
        for (const [inner] of Object.entries(nested?.properties ?? {})) {
          for (const value of wrong.slice(0, 6)) {
            const parent = (base[prop] as Record<string, unknown> | undefined) ?? {};
            cases.push({
              label: `${key} ${prop}.${inner}=${JSON.stringify(value).slice(0, 20)}`,
              method,
              path,
              headers: json,
              body: JSON.stringify({ ...base, [prop]: { ...parent, [inner]: value } }),
              check: is([...okStatus, 400], new RegExp(`${prop}|${inner}|${baseOutcome[key].source}`)),
            });
          }
        }
      }
    }
    // Import bodies: types the JSON form does not coerce, and unknown fields.
    const imp = `/v1/models/${encodeURIComponent(model)}/versions`;
    const importCases: [string, unknown, RegExp][] = [
      ['labels as a string', { task: 'classify', labels: 'neg,pos', files: { 'model.json': 'e30=' } }, /labels must be an array/],
      ['maxlen as a string', { task: 'classify', maxlen: '50', files: { 'model.json': 'e30=' } }, /maxlen must be an integer/],
      ['activate as a string', { task: 'forecast', activate: 'true', files: { 'model.json': 'e30=' } }, /activate must be a boolean/],
      ['scaler of strings', { task: 'forecast', scaler: { mean: ['a'], scale: [1] }, files: { 'model.json': 'e30=' } }, /scaler\.mean/],
      ['scaler without scale', { task: 'forecast', scaler: { mean: [1] }, files: { 'model.json': 'e30=' } }, /scaler\.scale/],
      ['files as an array', { task: 'forecast', files: ['x'] }, /files must be an object/],
      ['file not base64', { task: 'forecast', files: { 'model.json': '***' } }, /files\.model\.json must be base64/],
      ['file as a number', { task: 'forecast', files: { 'model.json': 5 } }, /files\.model\.json must be base64/],
      ['unknown field', { task: 'forecast', files: { 'model.json': 'e30=' }, bogus: 1 }, /property bogus should not exist/],
      ['window too large', { task: 'forecast', window: 1e9, files: { 'model.json': 'e30=' } }, /window must not be greater than 10000/],
      ['too many files', { task: 'forecast', files: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`f${i}`, 'eA=='])) }, /at most 64 files/],
    ];
    for (const [label, body, message] of importCases) cases.push({ label: `import ${label}`, method: 'POST', path: imp, headers: json, body: JSON.stringify(body), check: is([400], message) });

    const results = await runAll(cases, 8, async (c) => {
      try {
        return { c, r: await send(trainer.base, c.method, c.path, c.headers ?? {}, c.body) };
      } catch (err) {
        return { c, r: null, err: (err as Error).message };
      }
    });
    const problems: string[] = [];
    const byStatus = new Map<number, number>();
    for (const { c, r, err } of results as { c: Case; r: Res | null; err?: string }[]) {
      if (!r) {
        problems.push(`${c.label}: ${err}`);
        continue;
      }
      byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
      if (r.status === 202 && typeof r.json?.jobId === 'string') startedJobs.add(r.json.jobId);
      const p = common(r) ?? c.check(r);
      if (p) problems.push(`${c.label}: ${p}`);
    }
    console.log(`admin-abuse: ${cases.length} generated requests; statuses ${JSON.stringify(Object.fromEntries([...byStatus].sort()))}`);
    expect(cases.length).toBeGreaterThanOrEqual(300);
    expect(problems).toEqual([]);
    expect(trainer.running).toBe(true);
  });

  it('refuses oversize bodies from Content-Length alone, and caps chunked bodies while they stream', async () => {
    for (const [method, path] of [
      ['POST', `/v1/models/m/retrain`],
      ['POST', `/v1/models/m/versions`],
      ['POST', `/v1/models/m/versions/1/activate`],
      ['POST', `/v1/models/m/versions/1/promote`],
      ['POST', `/v1/jobs/${randomUUID()}/cancel`],
      ['PUT', `/v1/models/m/policy`],
      ['POST', `/v1/models/m/policy/pause`],
    ]) {
      for (const type of ['application/json', 'multipart/form-data; boundary=b']) {
        // 10 GiB declared, no body sent: the answer must come from the headers alone.
        const declared = await rawExchange(port, `${method} ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: ${type}\r\nContent-Length: 10737418240\r\n\r\n`);
        expect([path, declared.text.split('\r\n')[0]]).toEqual([path, 'HTTP/1.1 413 Payload Too Large']);
        expect(declared.text).toMatch(/"limit":"(TRAINER_MAX_UPLOAD_BYTES|65536 bytes for this route)"/);
        expect(declared.text).toMatch(/"requestId":"[^"]+"/);
      }
    }
    // Chunked: no length is declared; the stream is cut at the limit.
    const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
    const piece = 'x'.repeat(256 * 1024);
    const streamed = await rawExchange(
      port,
      `POST /v1/models/m/retrain HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
      [chunk(`{"note":"`), ...Array.from({ length: 6 }, () => chunk(piece))],
    );
    expect(streamed.text.split('\r\n')[0]).toBe('HTTP/1.1 413 Payload Too Large');
    expect(streamed.text).toContain(`over ${UPLOAD_LIMIT} bytes (TRAINER_MAX_UPLOAD_BYTES)`);
    // Multipart over the limit, in file parts (the limit holds for every content type).
    const form = new FormData();
    for (let i = 0; i < 3; i++) form.append(`w${i}.bin`, new Blob([Buffer.alloc(400 * 1024)]), `w${i}.bin`);
    const res = await fetch(`${trainer.base}/v1/models/m/versions`, { method: 'POST', headers: auth, body: form });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { limit: string }).limit).toBe('TRAINER_MAX_UPLOAD_BYTES');
    // The same without Content-Length (chunked multipart): cut off while it streams.
    const encoded = new Response(form);
    const chunked = await send(trainer.base, 'POST', '/v1/models/m/versions', { ...auth, 'content-type': encoded.headers.get('content-type')!, 'transfer-encoding': 'chunked' }, Buffer.from(await encoded.arrayBuffer()));
    expect(chunked.status).toBe(413);
    expect(chunked.json?.limit).toBe('TRAINER_MAX_UPLOAD_BYTES');
    // Too many parts.
    const parts = new FormData();
    for (let i = 0; i < 70; i++) parts.append(`f${i}`, new Blob(['x']), `f${i}`);
    const many = await fetch(`${trainer.base}/v1/models/m/versions`, { method: 'POST', headers: auth, body: parts });
    expect(many.status).toBe(413);
    expect(((await many.json()) as { message: string }).message).toBe('more than 64 file parts');
    // Multipart fields: unknown ones and unconvertible values are refused by name, as in JSON.
    for (const [field, value, message] of [
      ['bogus', '1', /property bogus should not exist/],
      ['maxlen', '0x10', /maxlen must be an integer/],
      ['activate', 'yes', /activate must be a boolean/],
      ['scaler', '[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]', /form field scaler nests deeper than 16 levels/],
    ] as const) {
      const f = new FormData();
      f.append('files', new Blob(['{}']), 'model.json');
      f.append(field, value);
      const r = await fetch(`${trainer.base}/v1/models/m/versions`, { method: 'POST', headers: auth, body: f });
      const b = (await r.json()) as { message: string | string[]; requestId: string };
      expect([field, r.status]).toEqual([field, 400]);
      expect([field, [b.message].flat().join(' ')]).toEqual([field, expect.stringMatching(message)]);
    }
    expect(trainer.running).toBe(true);
  });

  it('confines file sources to the real data directory: every way out is refused naming source.path; the canary is never read', async () => {
    const retrainFile = (path: string, model = uniqueName('file')) => call('POST', `/v1/models/${model}/retrain`, { task: 'forecast', source: { kind: 'file', path }, epochs: 1, window: 5 });
    const escapes: [string, RegExp][] = [
      ['to-file', /must resolve \(symlinks followed\) to a file inside TRAINER_DATA_DIR/],
      ['to-dir/canary.csv', /inside TRAINER_DATA_DIR/],
      ['relative', /inside TRAINER_DATA_DIR/],
      ['chained', /inside TRAINER_DATA_DIR/],
      ['to-sibling', /inside TRAINER_DATA_DIR/],
      ['../outside/canary.csv', /inside TRAINER_DATA_DIR/],
      ['../data-sibling/sibling.csv', /inside TRAINER_DATA_DIR/],
      [canary, /inside TRAINER_DATA_DIR/],
      [`${data}/../outside/canary.csv`, /inside TRAINER_DATA_DIR/],
      [`${data}-sibling/sibling.csv`, /inside TRAINER_DATA_DIR/],
      ['passwd', /inside TRAINER_DATA_DIR/],
      ['/etc/passwd', /inside TRAINER_DATA_DIR/],
      ['environ', /inside TRAINER_DATA_DIR/],
      ['/proc/self/environ', /inside TRAINER_DATA_DIR/],
      ['zero', /inside TRAINER_DATA_DIR/],
      ['/dev/zero', /inside TRAINER_DATA_DIR/],
      ['fifo', /must be a regular file \(it is a FIFO\)/],
      ['sub', /must be a regular file \(it is a directory\)/],
      ['.', /inside TRAINER_DATA_DIR/],
      ['loop', /cannot be resolved \(ELOOP\)/],
      ['ok.csv\u0000.txt', /NUL bytes/],
      ['big.csv', new RegExp(`over TRAINER_MAX_DATA_BYTES \\(${DATA_LIMIT}\\)`)],
    ];
    for (const [path, message] of escapes) {
      const r = await retrainFile(path);
      expect([path, r.status]).toEqual([path, 400]);
      expect([path, (r.json?.message as string[]).join(' ')]).toEqual([path, expect.stringMatching(new RegExp(`^source\\.path .*${message.source}`))]);
    }

    // A relative path inside the data directory resolves against it and trains.
    const ok = await retrainFile('ok.csv');
    expect(ok.status).toBe(202);
    const okJob = await waitJob(ok.json!.jobId as string);
    startedJobs.add(ok.json!.jobId as string);
    expect(okJob.status).toBe('succeeded');
    expect((okJob.result as { dataRange: { path: string } }).dataRange.path).toBe(join(data, 'ok.csv'));

    // Swapped for a symlink to the canary right after the request was accepted: the job opens the
    // file and checks what it opened, so it either read the original or failed naming the swap.
    const swap = join(data, 'swap.csv');
    writeFileSync(swap, csv(300));
    const swapped = await retrainFile('swap.csv');
    expect(swapped.status).toBe(202);
    unlinkSync(swap);
    symlinkSync(canary, swap);
    const swapJob = await waitJob(swapped.json!.jobId as string);
    startedJobs.add(swapped.json!.jobId as string);
    if (swapJob.status !== 'succeeded') expect(swapJob.error).toBe('source.path was replaced by a symlink after the request was accepted');
    console.log(`admin-abuse: symlink swap after acceptance -> job ${String(swapJob.status)}${swapJob.error ? ` (${JSON.stringify(swapJob.error)})` : ''}`);
  });

  it('reads only allowlisted Kafka topics, and stops a job whose range is over the data limit', async () => {
    for (const [source, field] of [
      [{ kind: 'kafka', topic: '__consumer_offsets' }, 'topic'],
      [{ kind: 'kafka', topic: modelsTopic }, 'topic'],
      [{ kind: 'kafka', topic: sourceTopic, labelsTopic: '__transaction_state' }, 'labelsTopic'],
    ] as const) {
      const r = await call('POST', `/v1/models/${uniqueName('topic')}/retrain`, { task: 'classify', source });
      expect(r.status).toBe(400);
      expect((r.json?.message as string[]).join(' ')).toMatch(new RegExp(`^source\\.${field} \\S+ is not a training source topic \\(TRAINER_SOURCE_TOPICS: ${sourceTopic.replace(/\./g, '\\.')}\\)`));
    }
    const r = await call('POST', `/v1/models/${uniqueName('kafka-cap')}/retrain`, { task: 'forecast', source: { kind: 'kafka', topic: sourceTopic }, epochs: 1, window: 5 });
    expect(r.status).toBe(202);
    startedJobs.add(r.json!.jobId as string);
    const job = await waitJob(r.json!.jobId as string);
    expect(job.status).toBe('failed');
    expect(job.error).toBe(`training data over TRAINER_MAX_DATA_BYTES (${DATA_LIMIT} bytes) while reading ${sourceTopic}: narrow the range or raise the limit`);
  });

  it(`admits at most TRAINER_MAX_JOBS=${MAX_JOBS} jobs at once (429 with Retry-After for the rest); each training process has its heap limit`, async () => {
    const upload = csv(2000);
    const burst = await runAll(Array.from({ length: 30 }, (_, i) => i), 30, (i) =>
      call('POST', `/v1/models/${uniqueName(`burst${i}`)}/retrain`, { task: 'forecast', source: { kind: 'upload', content: upload }, epochs: 500, window: 20 }),
    );
    const accepted = burst.filter((r) => r.status === 202);
    const refused = burst.filter((r) => r.status === 429);
    for (const r of accepted) startedJobs.add(r.json!.jobId as string);
    console.log(`admin-abuse: burst of 30 retrains -> ${accepted.length} accepted, ${refused.length} refused with 429`);
    expect(accepted.length).toBe(MAX_JOBS);
    expect(refused.length).toBe(30 - MAX_JOBS);
    for (const r of refused) {
      expect(r.headers['retry-after']).toBe('30');
      expect(r.json).toMatchObject({ limit: 'TRAINER_MAX_JOBS', max: MAX_JOBS, message: expect.stringContaining(`TRAINER_MAX_JOBS=${MAX_JOBS}`) });
    }
    // The training processes run under the configured heap limit.
    let children: string[][] = [];
    for (let i = 0; i < 50 && children.length < MAX_JOBS; i++) {
      children = trainer.childCommandLines().filter((c) => c.some((a) => a.includes('train-worker')));
      await sleep(100);
    }
    expect(children).toHaveLength(MAX_JOBS);
    for (const c of children) expect(c).toContain(`--max-old-space-size=${JOB_MEMORY_MB}`);
    // ...and train at a lower priority than the trainer's HTTP process.
    await waitFor('the training processes to lower their priority', () => trainer.childNiceness().every((n) => n === 10), 30_000, 100);
    // Cancelling frees the slots.
    for (const r of accepted) expect((await call('POST', `/v1/jobs/${String(r.json!.jobId)}/cancel`)).status).toBe(200);
    const again = await call('POST', `/v1/models/${uniqueName('after-burst')}/retrain`, { task: 'forecast', source: { kind: 'upload', content: upload }, epochs: 500, window: 20 });
    expect(again.status).toBe(202);
    startedJobs.add(again.json!.jobId as string);
    expect((await call('POST', `/v1/jobs/${String(again.json!.jobId)}/cancel`)).status).toBe(200);
  });

  it('never read anything outside the data directory, and /health stayed responsive throughout', async () => {
    // No job ever trained on data from outside the data directory.
    for (const id of startedJobs) {
      const job = await waitJob(id);
      const path = (job.result as { dataRange?: { path?: string } } | null)?.dataRange?.path;
      if (path !== undefined) expect(path.startsWith(`${data}/`)).toBe(true);
    }
    // The canary outside the data directory was never read: its atime did not move, while reading
    // the control file beside it does move atime on this filesystem.
    expect(statSync(canary).atime.getTime()).toBe(OLD_ATIME.getTime());
    readFileSync(control);
    expect(statSync(control).atime.getTime()).toBeGreaterThan(OLD_ATIME.getTime());

    const health = await stopProbe();
    const ms = health.map((h) => h.ms).sort((a, b) => a - b);
    const failed = health.filter((h) => h.status !== 200).length;
    // The trainer's own view: event-loop delay over its life (prom-client's monitorEventLoopDelay).
    const metrics = (await call('GET', '/metrics', undefined, {})).text;
    const lag = (name: string) => Number(new RegExp(`^streamcell_trainer_nodejs_eventloop_lag_${name}_seconds (\\S+)$`, 'm').exec(metrics)?.[1]) * 1000;
    console.log(
      `admin-abuse: /health during the suite: ${ms.length} probes, p50 ${quantile(ms, 0.5).toFixed(1)} ms, p99 ${quantile(ms, 0.99).toFixed(1)} ms, max ${ms[ms.length - 1].toFixed(1)} ms, non-200 ${failed}; ` +
        `trainer event-loop delay p50 ${lag('p50').toFixed(1)} ms, p99 ${lag('p99').toFixed(1)} ms, max ${lag('max').toFixed(1)} ms; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
    );
    expect(ms.length).toBeGreaterThan(100);
    expect(failed).toBe(0);
    expect(quantile(ms, 0.99)).toBeLessThan(HEALTH_P99_BOUND_MS);
    expect(trainer.running).toBe(true);
  });
});
