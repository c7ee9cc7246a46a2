import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import busboy from 'busboy';
import { bearerProblem } from './bearer-auth.guard';

/** Deepest JSON nesting a request body may have (the API's own bodies need 3 levels). */
export const MAX_JSON_DEPTH = 16;
/** Body limit of the routes that take little data (activate, cancel, policy). */
export const SMALL_BODY_BYTES = 64 * 1024;
/** Body limit of `POST /v1/models/{name}/keys/reset`. */
export const RESET_BODY_BYTES = 1024 * 1024;
/**
 * A refused request whose declared body is at most this many bytes is read to its end
 * and dropped, so the connection stays usable and a client still sending sees the answer; larger
 * or undeclared (chunked) ones get `Connection: close`.
 */
const DRAIN_BYTES = 4 * 1024 * 1024;
/** Multipart import: most file parts, form fields, and bytes of one form field. */
export const MULTIPART_LIMITS = { files: 64, fields: 32, fieldSize: 1024 * 1024 } as const;

/** How a multipart form field is turned into the value the JSON form of the route takes. */
type FieldKind = 'int' | 'bool' | 'json' | 'list' | 'string';

/** What a route accepts as a body. */
interface RouteBody {
  readonly limit: number;
  /** The variable (or constant) that sets `limit`, named in 413s. */
  readonly limitName: string;
  /** Multipart allowed: the form fields that are converted from text (the rest stay text). */
  readonly multipart: Readonly<Record<string, FieldKind>> | null;
}

/** The request as this middleware and the exception filter see it. */
export interface TrainerRequest extends IncomingMessage {
  requestId?: string;
  body?: unknown;
  files?: { fieldname: string; originalname: string; buffer: Buffer }[];
}

/** A request refused before its body reached a route. */
class BodyRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** The request id: the client's `X-Request-Id` when it is a plain token, else a fresh UUID. */
export function requestIdOf(req: TrainerRequest): string {
  if (!req.requestId) {
    const given = req.headers['x-request-id'];
    req.requestId = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
  }
  return req.requestId;
}

function routeBody(method: string | undefined, path: string, maxUploadBytes: number): RouteBody | null {
  if (method === 'PUT' && /^\/v1\/models\/[^/]+\/policy\/?$/i.test(path)) {
    return { limit: SMALL_BODY_BYTES, limitName: `${SMALL_BODY_BYTES} bytes for this route`, multipart: null };
  }
  if (method !== 'POST') return null;
  if (/^\/v1\/models\/[^/]+\/retrain\/?$/i.test(path)) return { limit: maxUploadBytes, limitName: 'TRAINER_MAX_UPLOAD_BYTES', multipart: null };
  if (/^\/v1\/models\/[^/]+\/versions\/?$/i.test(path)) {
    return {
      limit: maxUploadBytes,
      limitName: 'TRAINER_MAX_UPLOAD_BYTES',
      multipart: { labels: 'list', maxlen: 'int', scaler: 'json', window: 'int', activate: 'bool' },
    };
  }
  // A key reset names up to 1000 keys of up to 256 bytes each.
  if (/^\/v1\/models\/[^/]+\/keys\/reset\/?$/i.test(path)) return { limit: RESET_BODY_BYTES, limitName: `${RESET_BODY_BYTES} bytes for this route`, multipart: null };
  if (/^\/v1\/models\/[^/]+\/versions\/[^/]+\/backtest\/?$/i.test(path)) return { limit: SMALL_BODY_BYTES, limitName: `${SMALL_BODY_BYTES} bytes for this route`, multipart: null };
  if (
    /^\/v1\/models\/[^/]+\/versions\/[^/]+\/(activate|shadow|promote)\/?$/i.test(path) ||
    /^\/v1\/models\/[^/]+\/policy\/(pause|resume)\/?$/i.test(path) ||
    /^\/v1\/models\/[^/]+\/keys\/[^/]+\/reset\/?$/i.test(path) ||
    /^\/v1\/jobs\/[^/]+\/cancel\/?$/i.test(path)
  ) {
    return { limit: SMALL_BODY_BYTES, limitName: `${SMALL_BODY_BYTES} bytes for this route`, multipart: null };
  }
  return null;
}

/**
 * Tracks JSON nesting across chunks, byte by byte, without parsing: refuses a body as soon as it
 * nests deeper than the limit, before anything recursive (JSON.parse, class-transformer,
 * class-validator) sees it. Linear and allocation-free, run per chunk as the body arrives.
 */
export class JsonDepthGuard {
  private depth = 0;
  private inString = false;
  private escaped = false;

  constructor(private readonly max: number) {}

  /** Feeds the next chunk; false once the nesting went over the limit. */
  feed(chunk: Uint8Array): boolean {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === 0x5c) this.escaped = true;
        else if (b === 0x22) this.inString = false;
      } else if (b === 0x22) this.inString = true;
      else if (b === 0x7b || b === 0x5b) {
        if (++this.depth > this.max) return false;
      } else if (b === 0x7d || b === 0x5d) this.depth--;
    }
    return true;
  }
}

/** Decodes and parses a JSON text whose depth was checked; throws BodyRefused (400) naming what is wrong. */
function decodeJson(buf: Buffer, what: string): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    throw new BodyRefused(400, `${what} is not valid UTF-8`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new BodyRefused(400, `${what} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Checks the depth of a whole JSON text, then parses it. */
function parseJson(buf: Buffer, what: string): unknown {
  if (!new JsonDepthGuard(MAX_JSON_DEPTH).feed(buf)) throw depthRefused(what);
  return decodeJson(buf, what);
}

function depthRefused(what: string): BodyRefused {
  return new BodyRefused(400, `${what} nests deeper than ${MAX_JSON_DEPTH} levels (the JSON depth limit)`, { limit: 'MAX_JSON_DEPTH', max: MAX_JSON_DEPTH });
}

function tooLarge(route: RouteBody, what = 'request body'): BodyRefused {
  return new BodyRefused(413, `${what} is over ${route.limit} bytes (${route.limitName})`, { limit: route.limitName, max: route.limit });
}

function coerceField(kind: FieldKind, value: string, name: string): unknown {
  const t = value.trim();
  switch (kind) {
    case 'int':
      return /^\d{1,9}$/.test(t) ? Number(t) : value;
    case 'bool':
      return t === 'true' ? true : t === 'false' ? false : value;
    case 'json':
      return t.startsWith('{') || t.startsWith('[') ? parseJson(Buffer.from(t), `form field ${name}`) : value;
    case 'list':
      return t.startsWith('[') ? parseJson(Buffer.from(t), `form field ${name}`) : t.split(',').map((s) => s.trim());
    case 'string':
      return value;
  }
}

/** Reads a JSON body chunk by chunk under the route's limit and the depth limit. */
function readJson(req: TrainerRequest, route: RouteBody): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const guard = new JsonDepthGuard(MAX_JSON_DEPTH);
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    const fail = (err: BodyRefused): void => {
      failed = true;
      req.off('data', onData);
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > route.limit) return fail(tooLarge(route));
      if (!guard.feed(chunk)) return fail(depthRefused('request body'));
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('error', () => fail(new BodyRefused(400, 'request body was cut off')));
    req.on('end', () => {
      if (failed) return;
      if (size === 0) return resolve(undefined);
      try {
        // The depth was checked as the chunks arrived.
        const body = decodeJson(Buffer.concat(chunks, size), 'request body');
        if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new BodyRefused(400, 'request body must be a JSON object');
        resolve(body);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}

/** Reads a multipart/form-data body with busboy under the route's limits. */
function readMultipart(req: TrainerRequest, route: RouteBody, fields: Readonly<Record<string, FieldKind>>): Promise<void> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({
        headers: req.headers,
        limits: { fileSize: route.limit, files: MULTIPART_LIMITS.files, fields: MULTIPART_LIMITS.fields, fieldSize: MULTIPART_LIMITS.fieldSize, parts: MULTIPART_LIMITS.files + MULTIPART_LIMITS.fields },
      });
    } catch (err) {
      return reject(new BodyRefused(400, `multipart body: ${(err as Error).message}`));
    }
    const files: NonNullable<TrainerRequest['files']> = [];
    const body: Record<string, unknown> = {};
    let size = 0;
    let failed = false;
    const fail = (err: BodyRefused): void => {
      if (failed) return;
      failed = true;
      req.unpipe(bb);
      req.off('data', count);
      reject(err);
    };
    const count = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > route.limit) fail(tooLarge(route));
    };
    bb.on('file', (name, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('limit', () => fail(tooLarge(route, `file part ${name}`)));
      stream.on('close', () => {
        if (!failed) files.push({ fieldname: name, originalname: info.filename ?? '', buffer: Buffer.concat(chunks) });
      });
    });
    bb.on('field', (name, value, info) => {
      if (failed) return;
      if (info.valueTruncated) return fail(new BodyRefused(413, `form field ${name} is over ${MULTIPART_LIMITS.fieldSize} bytes`, { limit: 'fieldSize', max: MULTIPART_LIMITS.fieldSize }));
      // Fields without a conversion stay text; the route's validation refuses unknown ones by name.
      try {
        body[name] = coerceField(fields[name] ?? 'string', value, name);
      } catch (err) {
        fail(err as BodyRefused);
      }
    });
    bb.on('filesLimit', () => fail(new BodyRefused(413, `more than ${MULTIPART_LIMITS.files} file parts`, { limit: 'files', max: MULTIPART_LIMITS.files })));
    bb.on('fieldsLimit', () => fail(new BodyRefused(413, `more than ${MULTIPART_LIMITS.fields} form fields`, { limit: 'fields', max: MULTIPART_LIMITS.fields })));
    bb.on('partsLimit', () => fail(new BodyRefused(413, `more than ${MULTIPART_LIMITS.files + MULTIPART_LIMITS.fields} parts`, { limit: 'parts', max: MULTIPART_LIMITS.files + MULTIPART_LIMITS.fields })));
    bb.on('error', (err: Error) => fail(new BodyRefused(400, `multipart body: ${err.message}`)));
    bb.on('close', () => {
      if (failed) return;
      req.body = body;
      req.files = files;
      resolve();
    });
    req.on('data', count);
    req.on('error', () => fail(new BodyRefused(400, 'request body was cut off')));
    req.pipe(bb);
  });
}

function send(req: TrainerRequest, res: ServerResponse, err: BodyRefused, unread: boolean): void {
  if (res.headersSent) return;
  const declared = Number(req.headers['content-length'] ?? NaN);
  const close = unread && !(Number.isFinite(declared) && declared <= DRAIN_BYTES);
  const reason: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 413: 'Payload Too Large', 415: 'Unsupported Media Type' };
  const payload = JSON.stringify({ statusCode: err.status, error: reason[err.status] ?? 'Error', message: err.message, ...err.extra, requestId: requestIdOf(req) });
  res.statusCode = err.status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('x-request-id', requestIdOf(req));
  if (close) {
    // The rest of the body is not read: the connection cannot be reused.
    res.setHeader('connection', 'close');
    res.end(payload, () => setTimeout(() => req.socket.destroy(), 1000).unref());
  } else res.end(payload);
  if (unread) req.resume();
}

/**
 * Express middleware in front of every route: gives the request an id (`X-Request-Id`), then for
 * routes that take a body checks, before reading it, the bearer token, the content type (415)
 * and the declared `Content-Length` (413 at once); reads the body with a streaming cap (chunked
 * bodies too), the JSON depth limit and, for the import route, multipart limits on parts and
 * fields. Sets `req.body` (and `req.files`) for the route.
 */
export function requestBodyMiddleware(opts: { maxUploadBytes: number; adminToken: string | null }) {
  return (req: TrainerRequest, res: ServerResponse, next: (err?: unknown) => void): void => {
    res.setHeader('x-request-id', requestIdOf(req));
    const path = (req.url ?? '/').split('?')[0];
    const route = routeBody(req.method, path, opts.maxUploadBytes);
    const declared = req.headers['content-length'];
    const hasBody = req.headers['transfer-encoding'] !== undefined || (declared !== undefined && declared !== '0');
    if (!route) {
      // No route here reads a body: refuse big ones without reading them, ignore the rest.
      if (hasBody && Number(declared) > SMALL_BODY_BYTES) {
        return send(req, res, new BodyRefused(413, `request body is over ${SMALL_BODY_BYTES} bytes (this route takes no body)`, { limit: 'body', max: SMALL_BODY_BYTES }), true);
      }
      return next();
    }
    const auth = bearerProblem(req.headers.authorization, opts.adminToken);
    if (auth) return send(req, res, new BodyRefused(auth.status, auth.message), hasBody);
    if (!hasBody) return next();
    if (declared !== undefined && !/^\d+$/.test(declared)) return send(req, res, new BodyRefused(400, 'Content-Length is not a number'), true);
    if (declared !== undefined && Number(declared) > route.limit) return send(req, res, tooLarge(route), true);
    const [type, ...params] = (req.headers['content-type'] ?? '').split(';').map((s) => s.trim().toLowerCase());
    const charset = params.find((p) => p.startsWith('charset='))?.slice(8).replace(/"/g, '');
    const accepted = route.multipart ? 'application/json or multipart/form-data' : 'application/json';
    if (type === 'application/json') {
      if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
        return send(req, res, new BodyRefused(415, `Content-Type charset ${charset} is not supported (utf-8)`, { accepted }), true);
      }
      readJson(req, route).then(
        (body) => {
          req.body = body;
          next();
        },
        (err: BodyRefused) => send(req, res, err, true),
      );
      return;
    }
    if (type === 'multipart/form-data' && route.multipart) {
      readMultipart(req, route, route.multipart).then(
        () => next(),
        (err: BodyRefused) => send(req, res, err, true),
      );
      return;
    }
    send(req, res, new BodyRefused(415, `Content-Type ${type || '(none)'} is not supported: send ${accepted}`, { accepted }), true);
  };
}
