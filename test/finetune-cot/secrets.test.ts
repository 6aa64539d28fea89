/**
 * Issue 23, findings 2 and 3: a teacher's key never reaches the database, the
 * logs or a response, even when the endpoint echoes it back (in an error body
 * or in its answer), and `keyName` reads only variables named like keys.
 *
 * A real echoing endpoint on 127.0.0.1 answers 401 with "Incorrect API key
 * provided: <the Authorization header>" (as OpenAI does), or 200 with the
 * header as its completion. After every call, stepwise.db, its -wal, the
 * console and every response are searched for the key bytes: none found.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import type { CallResult } from '../../src-main/contract/client.ts';
import type { Dataset } from '../../src-main/contract/entities.ts';
import type { FtCotGeneration } from '../../src-main/contract/areas/finetune.ts';
import { redactSecrets } from '../../src-main/methods/finetune-cot/redact.ts';
import { startServer, type RunningServer } from '../../src-main/server/server.ts';
import { openLab, type Lab } from '../../src-main/services/lab.ts';

/** One key shaped like OpenAI's, one that looks like nothing in particular. */
const SHAPED = 'sk-proj-Zq81hLmN0pQrStUvWxYz2345';
const PLAIN = 'correct-horse-battery-staple-42';
const SHAPED_VAR = 'STEPWISE_SECRETS_TEST_API_KEY';
const PLAIN_VAR = 'STEPWISE_SECRETS_TEST_TOKEN';

let work: string;
let lab: Lab;
let server: RunningServer;
let echo: http.Server;
let echoUrl: string;
/** Every Authorization header the endpoint received. */
const received: string[] = [];
/** Every response body the lab's server sent. */
const responses: string[] = [];
const printed: string[] = [];

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-secrets-'));
  process.env[SHAPED_VAR] = SHAPED;
  process.env[PLAIN_VAR] = PLAIN;
  for (const stream of ['log', 'warn', 'error', 'info'] as const) vi.spyOn(console, stream).mockImplementation((...args: unknown[]) => void printed.push(args.map(String).join(' ')));
  echo = http.createServer((request, response) => {
    const auth = request.headers.authorization ?? '';
    received.push(auth);
    request.resume();
    request.on('end', () => {
      if (request.url?.startsWith('/fail/')) {
        response.writeHead(401, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ error: { message: `Incorrect API key provided: ${auth}. You can find your API key at https://platform.example/keys.` } }));
      } else {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ choices: [{ text: `you sent ${auth} and ${auth.replace('Bearer ', '')} ` }], usage: { prompt_tokens: 3, completion_tokens: 4 } }));
      }
    });
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
  const staticDir = path.join(work, 'static');
  fs.mkdirSync(staticDir);
  fs.writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html>');
  lab = openLab(path.join(work, 'lab'));
  server = await startServer({ dispatch: lab.dispatch, events: lab.events, staticDir });
});

afterAll(async () => {
  vi.restoreAllMocks();
  await server?.close();
  lab?.close();
  await new Promise((r) => echo?.close(r));
  delete process.env[SHAPED_VAR];
  delete process.env[PLAIN_VAR];
  fs.rmSync(work, { recursive: true, force: true });
});

async function call(name: string, input: unknown): Promise<CallResult> {
  const response = await fetch(`http://127.0.0.1:${server.port}/api/call/${name}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(input),
  });
  const text = await response.text();
  responses.push(text);
  return JSON.parse(text) as CallResult;
}

const teacher = (keyName: string, failing = false) => ({ kind: 'openai', baseUrl: `${echoUrl}/${failing ? 'fail/' : ''}v1`, model: 'echo', keyName, maxRetries: 0, timeoutMs: 5000 });

/** Where the key could have leaked: the database file, its WAL, the console and the server's responses. */
function leaks(key: string): string[] {
  const found: string[] = [];
  for (const file of ['stepwise.db', 'stepwise.db-wal']) {
    const at = path.join(lab.dataDir, file);
    if (fs.existsSync(at) && fs.readFileSync(at).includes(Buffer.from(key))) found.push(file);
  }
  if (printed.some((p) => p.includes(key))) found.push('console');
  if (responses.some((r) => r.includes(key))) found.push('a response');
  return found;
}

describe('a key echoed by its endpoint is redacted everywhere', () => {
  test('redactSecrets takes out the key itself, Bearer tokens and key-shaped words', () => {
    expect(redactSecrets(`HTTP 401: Incorrect API key provided: Bearer ${SHAPED}`, [SHAPED])).toBe('HTTP 401: Incorrect API key provided: Bearer [redacted]');
    expect(redactSecrets(`token ${PLAIN} rejected`, [PLAIN])).toBe('token [redacted] rejected');
    expect(redactSecrets('keys sk-abcdefgh1234 and hf_AbCdEfGh1234 leaked')).toBe('keys [redacted] and [redacted] leaked');
    expect(redactSecrets('nothing secret here: 2 + 3 = 5')).toBe('nothing secret here: 2 + 3 = 5');
  });

  test.each([
    [SHAPED_VAR, SHAPED],
    [PLAIN_VAR, PLAIN],
  ])("finetune.testTeacher with %s: the endpoint got the key, the answer and the error carry it redacted", async (keyName, key) => {
    const ok = await call('finetune.testTeacher', { teacher: teacher(keyName) });
    expect(received.at(-1)).toBe(`Bearer ${key}`);
    expect(ok.ok && (ok.result as { text: string }).text).toBe('you sent Bearer [redacted] and [redacted] ');
    const failed = await call('finetune.testTeacher', { teacher: teacher(keyName, true) });
    expect(received.at(-1)).toBe(`Bearer ${key}`);
    expect(failed.ok ? null : failed.error).toEqual({
      code: 'unreachable',
      message: `finetune.testTeacher: openai:${echoUrl}/fail/v1 model echo (completions) did not answer: ${echoUrl}/fail/v1/completions: HTTP 401: Incorrect API key provided: Bearer [redacted]. You can find your API key at https://platform.example/keys.`,
    });
    expect(leaks(key)).toEqual([]);
  });

  test('a generation job whose endpoint refuses the key fails with the error redacted in the row, the response and the WAL', async () => {
    const task = await call('finetune.generateTask', { kind: 'coin-flip', counts: { train: 2, test: 0 }, seed: 1, name: 'coins' });
    expect(task.ok).toBe(true);
    const datasetId = (task as { result: Dataset }).result.id;
    for (const [keyName, key] of [[SHAPED_VAR, SHAPED], [PLAIN_VAR, PLAIN]]) {
      const started = await call('finetune.generate', { datasetId, name: `job ${keyName}`, teacher: teacher(keyName, true), limit: 2 });
      expect(started.ok).toBe(true);
      const id = (started as { result: FtCotGeneration }).result.id;
      const done = await lab.finetune.whenDone(id)!;
      expect(done.status).toBe('failed');
      expect(done.error).toContain('Incorrect API key provided: Bearer [redacted]');
      const listed = await call('finetune.generations', {});
      const row = listed.ok ? (listed.result as { items: FtCotGeneration[] }).items.find((g) => g.id === id) : undefined;
      expect(row?.error).toBe(done.error);
      expect(leaks(key)).toEqual([]);
    }
  });
});

describe('keyName reads only variables named like keys', () => {
  test.each(['PATH', 'HOME', 'SHELL', 'NODE_OPTIONS'])('keyName %s is refused before anything is sent', async (keyName) => {
    const before = received.length;
    const answer = await call('finetune.testTeacher', { teacher: teacher(keyName) });
    expect(answer.ok ? null : answer.error).toEqual({
      code: 'invalid_input',
      message: `finetune.testTeacher: ${keyName} is not a key's name: keys are read only from environment variables named *_API_KEY, *_KEY or *_TOKEN (e.g. OPENAI_API_KEY)`,
      issues: [{ path: ['teacher.keyName'], message: `finetune.testTeacher: ${keyName} is not a key's name: keys are read only from environment variables named *_API_KEY, *_KEY or *_TOKEN (e.g. OPENAI_API_KEY)` }],
    });
    expect(received.length).toBe(before);
    expect(leaks(process.env.PATH!)).toEqual([]);
  });

  test('a key-shaped name that is not set says which variable to set', async () => {
    const answer = await call('finetune.testTeacher', { teacher: teacher('UNSET_EXAMPLE_API_KEY') });
    expect(answer.ok ? null : answer.error.message).toBe('finetune.testTeacher: no key named UNSET_EXAMPLE_API_KEY: set the environment variable UNSET_EXAMPLE_API_KEY');
  });
});
