import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../log/logger.js';

export interface ReadinessCheck {
  /** Short name shown in /readyz output, e.g. "broker", "partitions", "model". */
  name: string;
  check: () => boolean | Promise<boolean>;
}

export interface HttpServerOptions {
  registry: Registry;
  host: string;
  port: number;
  logger: Logger;
  readiness?: ReadinessCheck[];
  /** Extra routes (e.g. POST /train on the trainer). Return true if handled. */
  routes?: (
    method: string,
    path: string,
    respond: (status: number, body: unknown) => void,
    request: IncomingMessage,
  ) => boolean;
}

export interface RunningHttpServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

/**
 * Serves /metrics (Prometheus text format), /healthz (process alive) and
 * /readyz (every readiness check passes; 503 with the failing names otherwise).
 */
export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const { registry, host, port, logger, readiness = [], routes } = options;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const respond = (status: number, body: unknown) => {
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      const headers: Record<string, string> = {
        'content-type': typeof body === 'string' ? 'text/plain' : 'application/json',
      };
      if (status === 401) headers['www-authenticate'] = 'Bearer realm="intentstream"';
      res.writeHead(status, headers);
      res.end(text);
    };
    const handle = async () => {
      if (req.method === 'GET' && path === '/metrics') {
        const body = await registry.metrics();
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(body);
      } else if (req.method === 'GET' && path === '/healthz') {
        respond(200, { status: 'ok' });
      } else if (req.method === 'GET' && path === '/readyz') {
        const results = await Promise.all(
          readiness.map(async (r) => ({
            name: r.name,
            ok: await Promise.resolve(r.check()).catch(() => false),
          })),
        );
        const failing = results.filter((r) => !r.ok).map((r) => r.name);
        respond(failing.length === 0 ? 200 : 503, { ready: failing.length === 0, failing });
      } else if (!routes?.(req.method ?? 'GET', path, respond, req)) {
        respond(404, { error: `no route ${req.method} ${path}` });
      }
    };
    handle().catch((error: unknown) => {
      logger.error('http handler failed', { path, error });
      if (!res.headersSent) respond(500, { error: String(error) });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${bound}`;
  logger.info('http server listening', { url, endpoints: ['/metrics', '/healthz', '/readyz'] });
  let closing: Promise<void> | undefined;
  return {
    port: bound,
    url,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      return closing;
    },
  };
}
