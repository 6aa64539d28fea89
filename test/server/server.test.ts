import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { createClient } from '../../src-main/contract/client.ts';
import type { CallResult } from '../../src-main/contract/client.ts';
import type { EventPayloads } from '../../src-main/contract/events.ts';
import { createHttpTransport } from '../../src-main/contract/http-transport.ts';
import { startServer } from '../../src-main/server/server.ts';
import type { RunningServer } from '../../src-main/server/server.ts';
import { openLab } from '../../src-main/services/lab.ts';
import type { Lab } from '../../src-main/services/lab.ts';
import { LATEST_SCHEMA_VERSION } from '../../src-main/store/migrations.ts';
import { tinyConfig, writeTinyMult } from '../services/tiny-run.ts';

const INDEX_HTML = '<!doctype html><title>Stepwise test page</title><div id="app"></div>';

let dataDir: string;
let staticDir: string;
let lab: Lab;
let server: RunningServer;
let base: string;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-server-data-'));
  staticDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-server-static-'));
  fs.writeFileSync(path.join(staticDir, 'index.html'), INDEX_HTML);
  fs.mkdirSync(path.join(staticDir, 'assets'));
  fs.writeFileSync(path.join(staticDir, 'assets', 'app.js'), 'console.log("app")');
  lab = openLab(dataDir);
  server = await startServer({ dispatch: lab.dispatch, events: lab.events, staticDir });
  base = `http://127.0.0.1:${server.port}`;
});

afterAll(async () => {
  await server.close();
  lab.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(staticDir, { recursive: true, force: true });
});

type FailedCall = Extract<CallResult, { ok: false }>;

const bearer = () => ({ authorization: `Bearer ${server.token}` });

/** The status an upgrade to `url` gets: 101 when accepted, else the refusal's status. */
function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    socket.on('open', () => {
      socket.close();
      resolve(101);
    });
    socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
    socket.on('error', reject);
  });
}

/** A raw request, so the path and headers go exactly as written (fetch would normalize them). */
function raw(requestPath: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port: server.port, path: requestPath, headers }, (response) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
    request.end();
  });
}

describe('the token', () => {
  test('is 32 base64url characters (24 random bytes) and appears in the printed URL', () => {
    expect(server.token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(server.url).toBe(`${base}/?token=${server.token}`);
  });

  test('without it, the page, static files and API answer 401 with an empty body', async () => {
    for (const [url, init] of [
      [`${base}/`, {}],
      [`${base}/assets/app.js`, {}],
      [`${base}/api/call/app.info`, { method: 'POST', body: '{}' }],
      [`${base}/api/call/runs.create`, { method: 'POST', body: JSON.stringify({ method: 'icot-si', name: 'x', config: {} }) }],
    ] as const) {
      const response = await fetch(url, init);
      expect([url, response.status, await response.text()]).toEqual([url, 401, '']);
    }
    expect(lab.store.runs.count()).toBe(0);
  });

  test('a wrong token, as bearer, cookie or ?token=, answers 401 too', async () => {
    const wrong = `${server.token.slice(0, -1)}${server.token.endsWith('A') ? 'B' : 'A'}`;
    for (const headers of [{ authorization: `Bearer ${wrong}` }, { cookie: `stepwise_token_${server.port}=${wrong}` }, { authorization: 'Bearer ' }]) {
      const response = await fetch(`${base}/api/call/app.info`, { method: 'POST', headers });
      expect(response.status).toBe(401);
    }
    const page = await fetch(`${base}/?token=${wrong}`, { redirect: 'manual' });
    expect([page.status, page.headers.get('set-cookie'), await page.text()]).toEqual([401, null, '']);
    // Another server's cookie (another port) is not ours.
    const other = await fetch(`${base}/`, { headers: { cookie: `stepwise_token_${server.port + 1}=${server.token}` } });
    expect(other.status).toBe(401);
  });

  test('the event socket refuses an upgrade without the right token (401) and accepts it with it', async () => {
    const url = `ws://127.0.0.1:${server.port}/api/events`;
    expect(await upgradeStatus(url)).toBe(401);
    expect(await upgradeStatus(url, { authorization: 'Bearer nope' })).toBe(401);
    expect(await upgradeStatus(url, { cookie: `stepwise_token_${server.port}=nope` })).toBe(401);
    expect(await upgradeStatus(url, bearer())).toBe(101);
    expect(await upgradeStatus(url, { cookie: `stepwise_token_${server.port}=${server.token}` })).toBe(101);
  });

  test('the printed URL sets an HttpOnly SameSite=Strict cookie and redirects to the page without the token', async () => {
    const first = await fetch(server.url, { redirect: 'manual' });
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/');
    const cookie = first.headers.get('set-cookie')!;
    expect(cookie).toBe(`stepwise_token_${server.port}=${server.token}; HttpOnly; SameSite=Strict; Path=/`);

    const page = await fetch(`${base}/`, { headers: { cookie: cookie.split(';')[0] } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toBe(
      `default-src 'self'; connect-src 'self' ws://127.0.0.1:${server.port} ws://localhost:${server.port}; img-src 'self' data:; ` +
        "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    expect(await page.text()).toBe(INDEX_HTML);
    const script = await fetch(`${base}/assets/app.js`, { headers: { cookie: cookie.split(';')[0] } });
    expect([script.status, script.headers.get('content-type'), await script.text()]).toEqual([200, 'text/javascript; charset=utf-8', 'console.log("app")']);
  });
});

describe('loopback only', () => {
  test('a Host that is not loopback (DNS rebinding) is refused with 403 even with the token', async () => {
    expect(await raw('/', { host: `evil.example:${server.port}`, ...bearer() })).toEqual({ status: 403, body: '' });
    expect(await raw('/', { host: `127.0.0.1:${server.port + 1}`, ...bearer() })).toEqual({ status: 403, body: '' });
    expect((await raw('/', { host: `localhost:${server.port}`, ...bearer() })).status).toBe(200);
  });

  test('a request from a foreign Origin is refused, on HTTP and on the event socket', async () => {
    const response = await fetch(`${base}/api/call/app.info`, { method: 'POST', headers: { ...bearer(), origin: 'http://evil.example' } });
    expect(response.status).toBe(403);
    expect(await upgradeStatus(`ws://127.0.0.1:${server.port}/api/events`, { ...bearer(), origin: 'http://evil.example' })).toBe(403);
    const same = await fetch(`${base}/api/call/app.info`, { method: 'POST', headers: { ...bearer(), origin: base } });
    expect(same.status).toBe(200);
  });

  test('a --host that is not loopback is refused before listening', async () => {
    await expect(startServer({ dispatch: lab.dispatch, events: lab.events, staticDir, host: '0.0.0.0' })).rejects.toThrow(
      '--host must be a loopback address (127.0.0.1, localhost, ::1), got "0.0.0.0": Stepwise serves this machine only',
    );
  });
});

describe('static files', () => {
  test('paths that climb out of the renderer folder are not served', async () => {
    fs.writeFileSync(path.join(path.dirname(staticDir), 'secret.txt'), 'secret');
    for (const attempt of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt']) {
      expect(await raw(attempt, { host: `127.0.0.1:${server.port}`, ...bearer() })).toEqual({ status: 404, body: 'Not found' });
    }
  });

  test('unknown paths without an extension get index.html (client routing); missing files get 404', async () => {
    expect(await (await fetch(`${base}/runs/7`, { headers: bearer() })).text()).toBe(INDEX_HTML);
    expect((await fetch(`${base}/assets/missing.js`, { headers: bearer() })).status).toBe(404);
  });

  test('a missing renderer build is named, with the command that builds it', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-empty-'));
    await expect(startServer({ dispatch: lab.dispatch, events: lab.events, staticDir: empty })).rejects.toThrow(
      /The renderer is not built: .*index\.html is missing\. Run `npm run build:renderer` first/,
    );
    fs.rmSync(empty, { recursive: true });
  });
});

describe('the contract over HTTP and WebSocket', () => {
  test('calls answer the procedure output, with the HTTP status of the error code otherwise', async () => {
    const call = (name: string, body: string) => fetch(`${base}/api/call/${name}`, { method: 'POST', headers: bearer(), body });
    const info = await call('app.info', '');
    expect(info.status).toBe(200);
    expect(await info.json()).toMatchObject({ ok: true, result: { dataDir, schemaVersion: LATEST_SCHEMA_VERSION } });

    const before = lab.store.runs.count();
    const bad = await call('runs.create', JSON.stringify({ method: 'icot-si', name: '', config: {} }));
    expect([bad.status, ((await bad.json()) as FailedCall).error.message]).toEqual([400, 'runs.create: name must not be empty (got "")']);
    const notJson = await call('runs.create', '{method:');
    expect([notJson.status, ((await notJson.json()) as FailedCall).error]).toEqual([400, { code: 'invalid_input', message: 'runs.create: the request body is not JSON' }]);
    expect(lab.store.runs.count()).toBe(before);

    expect((await call('runs.get', '{"id":999}')).status).toBe(404);
    expect((await call('no.such', '{}')).status).toBe(404);
    expect((await fetch(`${base}/api/call/app.info`, { headers: bearer() })).status).toBe(405);
    expect((await call('runs.create', `{"name":"${'x'.repeat(1_100_000)}"}`)).status).toBe(413);
  });

  test('the typed client over the HTTP transport creates a run and hears its run.status on the event socket', async () => {
    const transport = createHttpTransport({ baseUrl: base, token: server.token });
    const client = createClient(transport);
    const statuses: EventPayloads['run.status'][] = [];
    const stop = client.on('run.status', (payload) => statuses.push(payload));
    await transport.whenConnected();

    const data = await writeTinyMult(path.join(dataDir, 'mult'));
    const run = await client.call('runs.create', { method: 'icot-si', name: 'over http', config: tinyConfig(data, 1) });
    await expect.poll(() => statuses.length).toBe(1);
    expect(statuses[0]).toEqual({ runId: run.id, status: 'queued', error: null, at: run.createdAt });
    expect(await client.call('runs.get', { id: run.id })).toEqual(run);
    await expect(client.call('runs.get', { id: -3 })).rejects.toMatchObject({ code: 'invalid_input', message: 'runs.get: id must be a positive integer (got -3)' });

    // Events emitted by main (e.g. the trainer) reach the socket as sent.
    const progress: EventPayloads['run.progress'][] = [];
    client.on('run.progress', (payload) => progress.push(payload));
    const sent = { runId: run.id, step: 10, totalSteps: 100, epoch: 0, examplesPerSecond: 512.5, etaSeconds: 18 };
    lab.events.emit('run.progress', sent);
    await expect.poll(() => progress.length).toBe(1);
    expect(progress[0]).toEqual(sent);

    stop();
    transport.close();
  });

  test('the HTTP transport rejects with a message naming the fix when the token is wrong', async () => {
    const transport = createHttpTransport({ baseUrl: base, token: 'wrong' });
    await expect(transport.call('app.info', undefined)).rejects.toThrow(/refused the call app\.info \(HTTP 401\): open the URL that `stepwise serve` printed/);
  });
});
