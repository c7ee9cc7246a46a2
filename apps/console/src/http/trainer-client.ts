import { Readable } from 'node:stream';
import type { Response } from 'express';

/** Jobs started through the console (the trainer lists jobs by id only). */
export interface StartedJob {
  readonly id: string;
  readonly model: string;
  readonly startedAt: string;
}

/**
 * The trainer's admin API as the console uses it: every call carries the bearer token of the
 * user's session, so the trainer decides what the user may do exactly as it does for curl.
 */
export class TrainerClient {
  private readonly started: StartedJob[] = [];

  constructor(private readonly baseUrl: string) {}

  /** Checks a token against the trainer: 'ok', 'refused' (401/403) or throws when unreachable. */
  async verify(token: string): Promise<'ok' | 'refused'> {
    const res = await fetch(`${this.baseUrl}/v1/models`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    if (res.status === 401 || res.status === 403) return 'refused';
    if (!res.ok) throw new Error(`the trainer answered ${res.status} to GET /v1/models`);
    return 'ok';
  }

  /** Jobs started through this console, newest first. */
  startedJobs(): StartedJob[] {
    return [...this.started].reverse();
  }

  /**
   * Forwards `method path` (path below /v1, with its query) to the trainer and streams the answer
   * back, server-sent events included; the browser closing its request aborts the trainer call.
   */
  async forward(token: string, method: string, path: string, body: unknown, res: Response): Promise<void> {
    const ac = new AbortController();
    res.on('close', () => ac.abort());
    const hasBody = method !== 'GET' && method !== 'HEAD';
    let upstream: globalThis.Response;
    try {
      upstream = await fetch(`${this.baseUrl}/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, accept: 'application/json, text/event-stream', ...(hasBody ? { 'content-type': 'application/json' } : {}) },
        ...(hasBody ? { body: JSON.stringify(body ?? {}) } : {}),
        signal: ac.signal,
      });
    } catch (err) {
      if (!res.headersSent) res.status(502).json({ statusCode: 502, message: `trainer unreachable: ${(err as Error).message}` });
      return;
    }
    const type = upstream.headers.get('content-type') ?? 'application/json';
    res.status(upstream.status);
    res.setHeader('content-type', type);
    res.setHeader('cache-control', 'no-store');
    if (type.startsWith('text/event-stream') && upstream.body) {
      res.setHeader('x-accel-buffering', 'no');
      res.flushHeaders();
      Readable.fromWeb(upstream.body).on('error', () => res.end()).pipe(res);
      return;
    }
    const text = await upstream.text();
    const retrain = /^\/models\/([^/?]+)\/retrain$/.exec(path);
    if (method === 'POST' && retrain && upstream.status === 202) {
      try {
        const j = JSON.parse(text) as { jobId?: unknown };
        if (typeof j.jobId === 'string') this.started.push({ id: j.jobId, model: decodeURIComponent(retrain[1]), startedAt: new Date().toISOString() });
        if (this.started.length > 200) this.started.shift();
      } catch {
        // Not JSON: passed through as it is.
      }
    }
    res.send(text);
  }
}
