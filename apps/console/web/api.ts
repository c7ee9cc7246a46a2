/** An /api call that failed, with the server's message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Called when the session is gone (401): the page shows the login form. */
let onLoggedOut: () => void = () => undefined;
export function whenLoggedOut(f: () => void): void {
  onLoggedOut = f;
}

function messageOf(body: unknown, status: number): string {
  if (body && typeof body === 'object' && 'message' in body) {
    const m = body.message;
    return Array.isArray(m) ? m.join('; ') : String(m);
  }
  return `HTTP ${status}`;
}

/**
 * Calls the console's API (same origin, session cookie). State-changing calls carry the header the
 * server requires of them, which a cross-site form cannot send.
 */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: { accept: 'application/json', ...(method !== 'GET' ? { 'x-streamcell-console': '1' } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  if (res.status === 401 && path !== '/api/session') onLoggedOut();
  if (!res.ok) throw new ApiError(res.status, messageOf(parsed, res.status));
  return parsed as T;
}

/** Adds a typed listener of a server-sent event with a JSON payload. */
export function onEvent<T>(src: EventSource, name: string, f: (data: T) => void): void {
  src.addEventListener(name, (ev) => f(JSON.parse((ev as MessageEvent<string>).data) as T));
}
