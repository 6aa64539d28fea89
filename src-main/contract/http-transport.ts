/**
 * The Transport for the local server (`stepwise serve`), for a page it served
 * or any other client with the token. Wire format: see src-main/server/server.ts.
 *
 * In the browser pass nothing: calls go to the page's own origin and the
 * cookie set by the first page load carries the token. Elsewhere (tests,
 * scripts) pass `baseUrl` and `token`; the token then travels as
 * `Authorization: Bearer`.
 */
import type { CallResult, Transport } from './client.ts';
import { quote } from './limits.ts';

export interface HttpTransportOptions {
  /** e.g. 'http://127.0.0.1:5174'. Default: the page's own origin. */
  baseUrl?: string;
  /** Default: none, the cookie carries it. */
  token?: string;
  /** Wait before reopening a dropped event socket, in ms. Default 1000. */
  reconnectMs?: number;
}

export interface HttpTransport extends Transport {
  /** Resolves once the event socket is open (it opens with the first `on`). */
  whenConnected(): Promise<void>;
  /** Closes the event socket for good. */
  close(): void;
}

export function createHttpTransport(options: HttpTransportOptions = {}): HttpTransport {
  const origin = options.baseUrl ?? (globalThis as { location?: { origin: string } }).location?.origin;
  if (!origin) throw new Error('createHttpTransport: give baseUrl (e.g. http://127.0.0.1:5174) when not running in a page.');
  const base: string = origin;
  const headers: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};
  const handlers = new Map<string, Set<(payload: unknown) => void>>();
  let socket: WebSocket | null = null;
  let closed = false;
  let connected: Promise<void> = new Promise(() => {});

  function openSocket(): void {
    if (socket || closed) return;
    const url = `${base.replace(/^http/, 'ws')}/api/events`;
    // Browsers take no headers here (the cookie goes by itself); Node's WebSocket takes { headers }.
    const ws = options.token
      ? new WebSocket(url, { headers } as unknown as string[])
      : new WebSocket(url);
    connected = new Promise((resolve) => ws.addEventListener('open', () => resolve(), { once: true }));
    ws.onmessage = (message) => {
      let frame: { event: string; payload: unknown };
      try {
        frame = JSON.parse(String(message.data)) as typeof frame;
      } catch {
        return; // not a frame the server sends: nothing to hand on
      }
      for (const handler of handlers.get(frame.event) ?? []) handler(frame.payload);
    };
    ws.onclose = () => {
      socket = null;
      if (!closed && handlers.size > 0) setTimeout(openSocket, options.reconnectMs ?? 1000);
    };
    socket = ws;
  }

  return {
    async call(name: string, input: unknown): Promise<CallResult> {
      const response = await fetch(`${base}/api/call/${encodeURIComponent(name)}`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: input === undefined ? '' : JSON.stringify(input),
        credentials: 'same-origin',
      });
      if (response.status === 401 || response.status === 403) {
        throw new Error(
          `The Stepwise server refused the call ${name} (HTTP ${response.status}): open the URL that \`stepwise serve\` printed, with its token, again.`,
        );
      }
      const text = await response.text();
      try {
        return JSON.parse(text) as CallResult;
      } catch {
        // Not the contract's answer (a proxy's page, a cut connection): still a typed error.
        return { ok: false, error: { code: 'internal', message: `${name}: the server answered HTTP ${response.status} without the contract's JSON (${quote(text, 100) || 'an empty body'})` } };
      }
    },

    on(event: string, handler: (payload: unknown) => void): () => void {
      let set = handlers.get(event);
      if (!set) handlers.set(event, (set = new Set()));
      set.add(handler);
      openSocket();
      return () => {
        set.delete(handler);
        if (set.size === 0) handlers.delete(event);
      };
    },

    whenConnected(): Promise<void> {
      return connected;
    },

    close(): void {
      closed = true;
      socket?.close();
      socket = null;
    },
  };
}
