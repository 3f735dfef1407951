import type { Logger } from '../log/logger.js';
import type { RouteGuard } from '../metrics/http-auth.js';
/**
 * POST /train on the trainer's HTTP server: starts a run now unless one is in progress, behind the
 * route guard (a token, or a loopback-only server). The CLI only mounts it.
 */
import type { HttpServerOptions } from '../metrics/server.js';
import type { TrainerService } from './service.js';

export function trainRoute(options: {
  guard: RouteGuard;
  /** The server's bind address, named in the warning when the route is disabled. */
  host: string;
  service: Pick<TrainerService, 'running' | 'trigger'>;
  logger: Logger;
}): NonNullable<HttpServerOptions['routes']> {
  const { guard, host, service, logger } = options;
  if (guard.disabled) {
    logger.warn('POST /train is disabled: the HTTP server is not on a loopback address and no token is set', {
      host,
      enableWith: 'http.token (INTENTSTREAM_HTTP__TOKEN) or http.tokenFile',
    });
  }
  return (method, path, respond, request) => {
    if (method !== 'POST' || path !== '/train') return false;
    const verdict = guard.check(request);
    if (!verdict.ok) {
      logger.warn('POST /train refused', { status: verdict.status, remote: request.socket.remoteAddress });
      respond(verdict.status, { error: verdict.error });
      return true;
    }
    if (service.running) {
      respond(409, { result: 'skipped', reason: 'a training run is already in progress' });
      return true;
    }
    void service.trigger('http');
    respond(202, { accepted: true, note: 'training started; watch intentstream_trainer_runs_total' });
    return true;
  };
}
