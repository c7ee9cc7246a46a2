import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

interface HealthLogger {
  warn(msg: string, fields?: Record<string, unknown>): void;
}

/**
 * The worker's only HTTP surface, off the hot path: `/health` (liveness: the event loop
 * answers), `/health/ready` (Kafka group joined and its coordinator reached within the session
 * timeout, Redis answers, topic models loaded, no partition stuck past STUCK_PARTITION_READY_MS;
 * 503 otherwise, with the checks as JSON) and `/metrics` (Prometheus text format).
 */
export class HealthServer {
  private server: Server | null = null;

  constructor(
    private readonly port: number,
    private readonly registry: Registry,
    private readonly readiness: () => Promise<{ ready: boolean; checks: Record<string, unknown> }>,
    private readonly logger: HealthLogger,
  ) {}

  /** Starts listening; resolves with the bound port (HTTP_PORT=0 picks a free one). */
  listen(): Promise<number> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const send = (status: number, type: string, body: string) => {
        res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
        res.end(body);
      };
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed\n');
      if (path === '/health' || path === '/health/live') {
        return send(200, 'application/json', JSON.stringify({ status: 'ok', uptimeSeconds: Math.round(process.uptime()) }));
      }
      if (path === '/health/ready') {
        this.readiness().then(
          (r) => send(r.ready ? 200 : 503, 'application/json', JSON.stringify({ status: r.ready ? 'ready' : 'not_ready', ...r.checks })),
          (e: Error) => send(503, 'application/json', JSON.stringify({ status: 'not_ready', error: e.message })),
        );
        return;
      }
      if (path === '/metrics') {
        this.registry.metrics().then(
          (text) => send(200, this.registry.contentType, text),
          (e: Error) => {
            this.logger.warn('metrics failed', { error: e.message });
            send(500, 'text/plain', 'metrics unavailable\n');
          },
        );
        return;
      }
      send(404, 'text/plain', 'not found\n');
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, () => resolve((server.address() as AddressInfo).port));
    });
  }

  close(): Promise<void> {
    const server = this.server;
    if (!server) return Promise.resolve();
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}
