/**
 * The Content-Security-Policy both shells send with the renderer: only the
 * lab's own origin, nothing remote, no plugins, no framing. The shells differ
 * only in where the event connection goes.
 */
export function contentSecurityPolicy(extraConnectSources: string[] = []): string {
  return [
    "default-src 'self'",
    ["connect-src 'self'", ...extraConnectSources].join(' '),
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
