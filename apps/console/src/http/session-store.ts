import { randomBytes } from 'node:crypto';

/** Name of the httpOnly session cookie. */
export const SESSION_COOKIE = 'streamcell_console';

interface Session {
  readonly token: string;
  expiresAt: number;
}

/**
 * Login sessions, in memory: the browser holds only a random id in an httpOnly, SameSite=Strict
 * cookie; the admin token it typed stays here and goes nowhere but the trainer's Authorization
 * header. Sessions expire after `ttlMs` without use and end with the process.
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Opens a session for an already verified token; returns its id. */
  open(token: string): string {
    this.sweep();
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, { token, expiresAt: this.now() + this.ttlMs });
    return id;
  }

  /** The token of a live session (and extends it), or null. */
  token(id: string | undefined): string | null {
    if (!id) return null;
    const s = this.sessions.get(id);
    if (!s) return null;
    if (s.expiresAt <= this.now()) {
      this.sessions.delete(id);
      return null;
    }
    s.expiresAt = this.now() + this.ttlMs;
    return s.token;
  }

  close(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(id);
  }
}

/** The value of cookie `name` in a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}
