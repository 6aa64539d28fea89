/**
 * The local server behind `stepwise serve`: the built renderer and the
 * contract over HTTP and WebSocket, on loopback only, for one token.
 *
 * Wire format
 * -----------
 * Authentication (every request, HTTP or WebSocket upgrade):
 *   - Host must be 127.0.0.1:PORT, localhost:PORT or [::1]:PORT, and Origin,
 *     if sent, http:// on one of those; otherwise 403 with an empty body.
 *   - The token goes as `Authorization: Bearer <token>` or as the cookie
 *     `stepwise_token_<PORT>=<token>`. Without it, or with a wrong one: 401
 *     with an empty body, for the API, the static files and the upgrade alike.
 *   - `GET <any path>?token=<token>` (the printed URL) sets that cookie
 *     (HttpOnly; SameSite=Strict; Path=/) and answers 303 to the same path
 *     without the query, so the token leaves the address bar.
 *
 * Calls:  POST /api/call/<procedure>      e.g. POST /api/call/runs.get
 *   Request body: the input as JSON (Content-Type application/json), or an
 *   empty body for no input. At most 1 MiB.
 *   Response body, always JSON, the transport-neutral CallResult:
 *     { "ok": true,  "result": <output> }                                  200
 *     { "ok": false, "error": { "code", "message", "issues"? } }
 *       invalid_input 400 (also for a body that is not JSON), unknown_procedure 404,
 *       not_found 404, conflict 409, unreachable 502 (an outside service did not answer), internal 500.
 *   Other methods on /api/call/*: 405. Bodies over 1 MiB: 413.
 *
 * Events: GET /api/events, WebSocket upgrade.
 *   The server sends every event as one text frame
 *     { "event": "run.status", "payload": { ... } }
 *   (names and payloads: src-main/contract/events.ts). It reads nothing
 *   from the client.
 *
 * OpenAI-compatible: /v1/models, /v1/completions, /v1/chat/completions (./openai.ts).
 *
 * Everything else: GET/HEAD serves out/renderer (index.html for unknown
 * paths without an extension, for client-side routing).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { CallResult } from '../contract/client.ts';
import type { Dispatch } from '../contract/dispatcher.ts';
import type { ErrorCode } from '../contract/errors.ts';
import { contentSecurityPolicy } from '../services/content-security-policy.ts';
import type { EventBus } from '../services/events.ts';
import type { OpenAiEndpoints } from './openai.ts';
import { fromLoopback, newToken, notLoopback, presentedToken, sameToken, sessionCookie } from './auth.ts';
import { checkRendererBuilt, serveStatic } from './static.ts';
import { MAX_JSON_DEPTH, jsonTextDepth, quote } from '../contract/limits.ts';

export interface ServerOptions {
  dispatch: Dispatch;
  events: EventBus;
  /** The built renderer, e.g. out/renderer. */
  staticDir: string;
  /** A loopback address. Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. Default 0. */
  port?: number;
  /** Default: a fresh random token. */
  token?: string;
  /** OpenAI-compatible /v1/ endpoints (./openai.ts), behind the same token. */
  openai?: OpenAiEndpoints;
}

export interface RunningServer {
  port: number;
  token: string;
  /** The URL to open: http://127.0.0.1:PORT/?token=… */
  url: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1 << 20;
/** Refuses bytes that are not UTF-8 instead of turning them into U+FFFD. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

const STATUS_OF: Record<ErrorCode, number> = {
  invalid_input: 400,
  unknown_procedure: 404,
  not_found: 404,
  conflict: 409,
  unreachable: 502,
  internal: 500,
};

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const refusal = notLoopback(host);
  if (refusal) throw new Error(refusal);
  checkRendererBuilt(options.staticDir);
  const token = options.token ?? newToken();
  const sockets = new WebSocketServer({ noServer: true, maxPayload: 1024 });
  let port = 0;

  const server = http.createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      // Never an empty 500: the contract's error object, saying what failed.
      console.error('stepwise serve: request failed:', error);
      if (response.headersSent) return void response.end();
      answerCall(response, { ok: false, error: { code: 'internal', message: `the server failed to answer ${quote(request.method ?? '', 10)} ${quote(request.url ?? '', 100)}: ${quote(error instanceof Error ? error.message : String(error))}` } });
    });
  });

  async function handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    if (!fromLoopback(request, port)) return refuse(response, 403);
    const url = new URL(request.url ?? '/', `http://127.0.0.1:${port}`);

    const offered = url.searchParams.get('token');
    if (request.method === 'GET' && offered !== null && sameToken(offered, token)) {
      url.searchParams.delete('token');
      response.writeHead(303, {
        'set-cookie': sessionCookie(port, token),
        location: url.pathname + url.search,
        'referrer-policy': 'no-referrer',
        'content-length': 0,
      });
      return void response.end();
    }
    if (!sameToken(presentedToken(request, port), token)) return refuse(response, 401);
    if (options.openai && (await options.openai.handle(request, response, url.pathname))) return;

    if (url.pathname.startsWith('/api/call/')) {
      if (request.method !== 'POST') {
        response.writeHead(405, { allow: 'POST' });
        return void response.end();
      }
      const encoded = url.pathname.slice('/api/call/'.length);
      let name: string;
      try {
        name = decodeURIComponent(encoded);
      } catch {
        return answerCall(response, { ok: false, error: { code: 'unknown_procedure', message: `The procedure name "${quote(encoded, 100)}" is not valid percent-encoding (e.g. /api/call/runs.get)` } });
      }
      return answerCall(response, await callFromBody(request, name));
    }
    if (url.pathname.startsWith('/api/')) {
      response.writeHead(url.pathname === '/api/events' ? 426 : 404, { 'content-type': 'text/plain; charset=utf-8' });
      return void response.end(url.pathname === '/api/events' ? 'Use a WebSocket for /api/events' : 'Not found');
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' });
      return void response.end();
    }
    // 'self' covers ws:// to this origin in current Chromium; the explicit entries are for older engines.
    // (An IPv6 literal such as ws://[::1]:PORT is not a valid CSP source, so it is left to 'self'.)
    response.setHeader('content-security-policy', contentSecurityPolicy([`ws://127.0.0.1:${port}`, `ws://localhost:${port}`]));
    response.setHeader('x-content-type-options', 'nosniff');
    response.setHeader('referrer-policy', 'no-referrer');
    await serveStatic(options.staticDir, url.pathname, response, request.method === 'HEAD');
  }

  async function callFromBody(request: http.IncomingMessage, name: string): Promise<CallResult | 413> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) return 413;
      chunks.push(chunk);
    }
    const refuse = (message: string): CallResult => ({ ok: false, error: { code: 'invalid_input', message: `${quote(name, 100)}: ${message}` } });
    let text: string;
    try {
      text = UTF8.decode(Buffer.concat(chunks));
    } catch {
      return refuse('the request body is not valid UTF-8 text');
    }
    let input: unknown;
    if (text.trim() !== '') {
      if (jsonTextDepth(text) > MAX_JSON_DEPTH) return refuse(`the request body nests deeper than ${MAX_JSON_DEPTH} levels of arrays and objects; no procedure takes that`);
      try {
        input = JSON.parse(text);
      } catch {
        return refuse('the request body is not JSON');
      }
    }
    return options.dispatch(name, input);
  }

  server.on('upgrade', (request: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    try {
      upgrade(request, socket, head);
    } catch (error) {
      console.error('stepwise serve: upgrade failed:', error);
      socket.destroy();
    }
  });

  function upgrade(request: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
    if (!fromLoopback(request, port)) return refuseUpgrade(socket, 403);
    if (!sameToken(presentedToken(request, port), token)) return refuseUpgrade(socket, 401);
    if (path !== '/api/events') return refuseUpgrade(socket, 404);
    socket.on('error', () => socket.destroy());
    sockets.handleUpgrade(request, socket, head, (ws) => {
      // A socket that drops mid-send must not take the server down; its frames simply stop.
      ws.on('error', () => ws.terminate());
    });
  }

  const unsubscribe = options.events.subscribe((event, payload) => {
    const frame = JSON.stringify({ event, payload });
    for (const client of sockets.clients) if (client.readyState === client.OPEN) client.send(frame);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const urlHost = host === '::1' ? '[::1]' : host;

  return {
    port,
    token,
    url: `http://${urlHost}:${port}/?token=${token}`,
    close: async () => {
      unsubscribe();
      await options.openai?.close();
      for (const client of sockets.clients) client.terminate();
      sockets.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function answerCall(response: http.ServerResponse, answer: CallResult | 413): void {
  const tooLarge = answer === 413;
  const result: CallResult = tooLarge
    ? { ok: false, error: { code: 'invalid_input', message: `the request body is over ${MAX_BODY_BYTES >> 20} MiB; no procedure takes that much` } }
    : answer;
  const body = JSON.stringify(result);
  response.writeHead(tooLarge ? 413 : result.ok ? 200 : STATUS_OF[result.error.code], {
    ...(tooLarge ? { connection: 'close' } : {}),
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  response.end(body);
}

/** A refusal says nothing: no body, no hint of what is behind it. */
function refuse(response: http.ServerResponse, status: 401 | 403): void {
  response.writeHead(status, { 'content-length': 0 });
  response.end();
}

function refuseUpgrade(socket: Duplex, status: 401 | 403 | 404): void {
  const reason = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' }[status];
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
}
