import * as net from 'net';
import { probeRedis, RedisUnreachableError } from './redis-probe';

/** A port nothing listens on (bound, then released). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

describe('probeRedis', () => {
  it('fails within the deadline naming the URL (password redacted) and the cause', async () => {
    const port = await closedPort();
    const started = Date.now();
    const err = await probeRedis(`redis://u:secret@127.0.0.1:${port}`, 1500).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RedisUnreachableError);
    expect((err as Error).message).toContain(`redis://u:***@127.0.0.1:${port}`);
    expect((err as Error).message).not.toContain('secret');
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
    const took = Date.now() - started;
    // It keeps trying until the deadline, and no longer.
    expect(took).toBeGreaterThanOrEqual(1400);
    expect(took).toBeLessThan(4000);
  });

  it('answers from a server that speaks RESP', async () => {
    // A minimal Redis stand-in: replies +PONG / +OK to whatever arrives.
    const server = net.createServer((sock) => {
      sock.on('data', (d) => {
        const cmds = d.toString().split('\r\n').filter((l) => /^[A-Za-z]+$/.test(l));
        for (const c of cmds) sock.write(c.toUpperCase() === 'PING' ? '+PONG\r\n' : '+OK\r\n');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      await expect(probeRedis(`redis://127.0.0.1:${port}`, 3000)).resolves.toBeGreaterThanOrEqual(0);
    } finally {
      server.close();
    }
  });
});
