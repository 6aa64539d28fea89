/**
 * Who may talk to the local server: requests from a loopback origin that
 * carry this launch's token.
 *
 * The token is random per launch and reaches the user only in the URL the
 * server prints (as notebook servers do). Loading that URL once trades it
 * for an HttpOnly, SameSite=Strict cookie; scripts may send it as
 * `Authorization: Bearer <token>` instead. Checking Host and Origin against
 * loopback names stops DNS rebinding: a page on evil.example that rebinds its
 * name to 127.0.0.1 still sends `Host: evil.example`.
 */
import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '::1'] as const;

/** Why `host` may not be listened on, or null if it is a loopback address. */
export function notLoopback(host: string): string | null {
  if ((LOOPBACK_HOSTS as readonly string[]).includes(host)) return null;
  return `--host must be a loopback address (${LOOPBACK_HOSTS.join(', ')}), got "${host}": Stepwise serves this machine only`;
}

export function newToken(): string {
  return crypto.randomBytes(24).toString('base64url');
}

/** Cookies are shared across ports, so each server's cookie names its port. */
export function cookieName(port: number): string {
  return `stepwise_token_${port}`;
}

export function sameToken(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/** The token a request carries, from `Authorization: Bearer` or this server's cookie. */
export function presentedToken(request: IncomingMessage, port: number): string | undefined {
  const authorization = request.headers.authorization;
  if (authorization?.startsWith('Bearer ')) return authorization.slice('Bearer '.length).trim();
  const name = cookieName(port);
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

/** `host:port` forms a browser on this machine would send for this server. */
function loopbackAuthorities(port: number): Set<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
}

/** Host must name loopback and our port; Origin, when sent, must be http(s) on the same. */
export function fromLoopback(request: IncomingMessage, port: number): boolean {
  const allowed = loopbackAuthorities(port);
  if (!allowed.has((request.headers.host ?? '').toLowerCase())) return false;
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  try {
    const url = new URL(origin);
    return url.protocol === 'http:' && allowed.has(url.host.toLowerCase());
  } catch {
    return false;
  }
}

export function sessionCookie(port: number, token: string): string {
  return `${cookieName(port)}=${token}; HttpOnly; SameSite=Strict; Path=/`;
}
