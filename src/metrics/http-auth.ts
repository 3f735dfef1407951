/**
 * Who may call a mutating HTTP route (the trainer's POST /train). With a token configured
 * (http.token / http.tokenFile) every call needs `Authorization: Bearer <token>`, compared in
 * constant time. Without one the route answers only when the server is bound to a loopback
 * address: bound to another interface it refuses with 403 and says which field enables it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type Config, readConfigFile } from '../config/index.js';

export type Verdict = { ok: true } | { ok: false; status: 401 | 403; error: string };

export interface RouteGuard {
  /** True when a token is configured. */
  readonly tokenRequired: boolean;
  /** True when the route is refused to everyone (non-loopback bind without a token). */
  readonly disabled: boolean;
  check(request: Pick<IncomingMessage, 'headers'>): Verdict;
}

/** 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** Reads http.token or http.tokenFile; a missing or empty file is a ConfigError naming http.tokenFile. */
export function resolveHttpToken(http: Pick<Config['http'], 'token' | 'tokenFile'>): string | null {
  if (http.token !== null) return http.token;
  if (http.tokenFile === null) return null;
  return readConfigFile('http.tokenFile', http.tokenFile, { secret: true });
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export function createRouteGuard(host: string, token: string | null): RouteGuard {
  const expected = token === null ? null : digest(token);
  const disabled = expected === null && !isLoopback(host);
  return {
    tokenRequired: expected !== null,
    disabled,
    check(request) {
      if (disabled) {
        return {
          ok: false,
          status: 403,
          error: `refused: the server is bound to ${host}, not a loopback address, and no token is configured; set http.token (env INTENTSTREAM_HTTP__TOKEN) or http.tokenFile and send "Authorization: Bearer <token>"`,
        };
      }
      if (expected === null) return { ok: true };
      const header = request.headers.authorization ?? '';
      const match = /^Bearer\s+(.+)$/i.exec(header);
      // Hashing both sides gives equal lengths, so timingSafeEqual never throws or leaks the length.
      if (match === null || !timingSafeEqual(digest(match[1]!.trim()), expected)) {
        return {
          ok: false,
          status: 401,
          error: 'missing or wrong bearer token (Authorization: Bearer <token>)',
        };
      }
      return { ok: true };
    },
  };
}
