/**
 * Fault group "auth matrix": every way in without the right token, from the
 * wrong Host (DNS rebinding) or a foreign Origin (CSRF), on each door of the
 * server (the API, static files, the OpenAI endpoints, the event socket):
 * 401 or 403 with an empty body, and nothing changed. Static path traversal
 * with the token: 404, never a file from outside the folder.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { openAiEndpoints } from '../../src-main/server/openai.ts';
import { startServer, type RunningServer } from '../../src-main/server/server.ts';
import { openLab, type Lab } from '../../src-main/services/lab.ts';
import { tally } from './counts.ts';

let work: string;
let lab: Lab;
let server: RunningServer;
const group = tally('auth matrix');

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-faults-auth-'));
  const staticDir = path.join(work, 'renderer');
  fs.mkdirSync(path.join(staticDir, 'assets'), { recursive: true });
  fs.writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>lab</title>');
  fs.writeFileSync(path.join(staticDir, 'assets', 'app.js'), 'console.log(1)');
  fs.writeFileSync(path.join(work, 'outside.txt'), 'OUTSIDE-THE-FOLDER');
  lab = openLab(path.join(work, 'lab'));
  server = await startServer({ dispatch: lab.dispatch, events: lab.events, staticDir, openai: openAiEndpoints({ store: lab.store, dataDir: lab.dataDir }) });
});

afterAll(async () => {
  await server?.close();
  lab?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

interface Door {
  name: string;
  method: string;
  path: string;
  body?: string;
  socket?: boolean;
}

const DOORS: Door[] = [
  { name: 'POST /api/call/app.info', method: 'POST', path: '/api/call/app.info', body: '{}' },
  { name: 'POST /api/call/runs.create', method: 'POST', path: '/api/call/runs.create', body: JSON.stringify({ method: 'icot-si', name: 'x', config: {} }) },
  { name: 'GET /', method: 'GET', path: '/' },
  { name: 'GET /assets/app.js', method: 'GET', path: '/assets/app.js' },
  { name: 'GET /v1/models', method: 'GET', path: '/v1/models' },
  { name: 'POST /v1/completions', method: 'POST', path: '/v1/completions', body: '{"model":"1","prompt":"x"}' },
  { name: 'upgrade /api/events', method: 'GET', path: '/api/events', socket: true },
];

/** A request exactly as given; for a socket door, the upgrade's status (101 when accepted). */
function knock(door: Door, headers: Record<string, string>, requestPath = door.path): Promise<{ status: number; body: string }> {
  if (door.socket) {
    return new Promise((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}${requestPath}`, { headers });
      ws.on('open', () => {
        ws.close();
        resolve({ status: 101, body: '' });
      });
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.on('error', () => resolve({ status: 0, body: '' }));
    });
  }
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port: server.port, method: door.method, path: requestPath, headers: { host: `127.0.0.1:${server.port}`, ...headers } }, (response) => {
      let body = '';
      response.on('data', (c) => (body += c));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
    request.end(door.body);
  });
}

const token = () => server.token;
const wrong = () => `${token().slice(0, -1)}${token().endsWith('A') ? 'B' : 'A'}`;

/** Credentials that are not this launch's token: 401. */
const NO_TOKEN: [string, () => Record<string, string>][] = [
  ['no token', () => ({})],
  ['a wrong bearer token', () => ({ authorization: `Bearer ${wrong()}` })],
  ['an empty bearer', () => ({ authorization: 'Bearer ' })],
  ['a bearer of the token with a character more', () => ({ authorization: `Bearer ${token()}x` })],
  ['the token without "Bearer"', () => ({ authorization: token() })],
  ['a wrong cookie', () => ({ cookie: `stepwise_token_${server.port}=${wrong()}` })],
  ["another port's cookie holding the token", () => ({ cookie: `stepwise_token_${server.port + 1}=${token()}` })],
  ['the token as Basic auth', () => ({ authorization: `Basic ${Buffer.from(`x:${token()}`).toString('base64')}` })],
];

/** Hosts a page on another name would send, with the right token: 403. */
const BAD_HOST: [string, () => string][] = [
  ['a rebinding name', () => `evil.example:${server.port}`],
  ['another port', () => `127.0.0.1:${server.port + 1}`],
  ['a loopback-looking name', () => `localhost.evil.example:${server.port}`],
  ['another loopback address', () => `127.0.0.2:${server.port}`],
  ['no port', () => '127.0.0.1'],
];

/** Origins of another site, with the right token: 403. */
const BAD_ORIGIN: [string, () => string][] = [
  ['a foreign site', () => 'http://evil.example'],
  ['an opaque origin', () => 'null'],
  ['https on our port', () => `https://127.0.0.1:${server.port}`],
  ['another loopback port', () => `http://127.0.0.1:${server.port + 1}`],
  ['a file page', () => 'file://'],
];

describe('the auth matrix', () => {
  test('every door refuses every bad credential, host and origin with 401/403 and an empty body; nothing changes', async () => {
    const before = lab.store.runs.count();
    for (const door of DOORS) {
      for (const [what, headers] of NO_TOKEN) {
        const r = await knock(door, headers());
        group.attempt(`${door.name} with ${what}`, r.status === 401 && r.body === '' ? null : `answered ${r.status} ${JSON.stringify(r.body.slice(0, 80))}`);
      }
      for (const [what, host] of BAD_HOST) {
        const r = await knock(door, { host: host(), authorization: `Bearer ${token()}` });
        group.attempt(`${door.name} from ${what}`, r.status === 403 && r.body === '' ? null : `answered ${r.status} ${JSON.stringify(r.body.slice(0, 80))}`);
      }
      for (const [what, origin] of BAD_ORIGIN) {
        const r = await knock(door, { origin: origin(), authorization: `Bearer ${token()}` });
        group.attempt(`${door.name} from ${what}`, r.status === 403 && r.body === '' ? null : `answered ${r.status} ${JSON.stringify(r.body.slice(0, 80))}`);
      }
    }
    // The same doors with the token answer (so the refusals above are the token's, host's and origin's doing).
    for (const door of DOORS.filter((d) => d.name !== 'POST /api/call/runs.create' && d.name !== 'POST /v1/completions')) {
      expect([door.name, (await knock(door, { authorization: `Bearer ${token()}` })).status]).toEqual([door.name, door.socket ? 101 : 200]);
    }
    expect(lab.store.runs.count()).toBe(before);
    expect(group.counts.attempts).toBe(DOORS.length * (NO_TOKEN.length + BAD_HOST.length + BAD_ORIGIN.length));
  });

  test('static path traversal with the token answers 404 and never a file outside the folder', async () => {
    const get = DOORS[2];
    for (const p of ['/../outside.txt', '/%2e%2e/outside.txt', '/..%2foutside.txt', '/assets/../../outside.txt', '/assets/%2e%2e%2f%2e%2e%2foutside.txt', '/%2e%2e%5coutside.txt', '//outside.txt', '/../../../../etc/passwd']) {
      const r = await knock(get, { authorization: `Bearer ${token()}` }, p);
      const problem = r.body.includes('OUTSIDE-THE-FOLDER') || r.body.includes('root:') ? `served a file from outside (${r.status})` : r.status === 404 || (r.status === 200 && r.body.includes('<title>lab</title>')) ? null : `answered ${r.status}`;
      group.attempt(`GET ${p}`, problem);
    }
  });

  test('no attempt got in', () => {
    expect(group.write()).toEqual([]);
  });
});
