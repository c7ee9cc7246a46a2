import { SessionStore, readCookie } from './session-store';

describe('SessionStore', () => {
  it('hands out random ids, extends sessions in use and expires idle ones', () => {
    let now = 0;
    const s = new SessionStore(1000, () => now);
    const a = s.open('token-a');
    const b = s.open('token-b');
    expect(a).not.toBe(b);
    expect(a).not.toContain('token');
    now = 900;
    expect(s.token(a)).toBe('token-a');
    now = 1500;
    expect(s.token(a)).toBe('token-a');
    expect(s.token(b)).toBeNull();
    s.close(a);
    expect(s.token(a)).toBeNull();
    expect(s.token(undefined)).toBeNull();
  });

  it('reads one cookie of a header', () => {
    expect(readCookie('x=1; streamcell_console=abc; y=2', 'streamcell_console')).toBe('abc');
    expect(readCookie('streamcell_consolex=abc', 'streamcell_console')).toBeUndefined();
    expect(readCookie(undefined, 'a')).toBeUndefined();
  });
});
