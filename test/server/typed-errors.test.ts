/**
 * Issue 23, findings 4 and 6 to 9: every failure over HTTP is the contract's
 * typed error object with a 4xx or 5xx, never an empty 500; messages quote at
 * most a short excerpt of what they were given; text must be valid UTF-8
 * (a bad file is named with its line); internal messages are replaced by
 * what was expected, where; `__proto__`, `constructor` and `prototype` keys
 * are refused like any other unknown key.
 */
import { startLabServer } from '../fixtures/lab-server.ts';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { CallResult } from '../../src-main/contract/client.ts';
import { gpt2ConfigToHf } from '../../src-main/engine/hf/gpt2-folder.ts';
import { PROCEDURE_NAMES } from '../../src-main/contract/procedures.ts';
import type { RunningServer } from '../../src-main/server/server.ts';
import type { Lab } from '../../src-main/services/lab.ts';
import { tinyConfig, writeTinyMult } from '../services/tiny-run.ts';

let work: string;
let lab: Lab;
let server: RunningServer;
let data: { train: string; valid: string; test: string };

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-typed-errors-'));
  data = await writeTinyMult(path.join(work, 'mult'));
  ({ lab, server } = await startLabServer(work, { openai: true }));
});

afterAll(async () => {
  await server?.close();
  lab?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

/** A raw request: the path and body go exactly as given. */
function raw(method: string, requestPath: string, body?: Buffer | string): Promise<{ status: number; body: string; type: string | undefined }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port: server.port, method, path: requestPath, headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), type: response.headers['content-type'] }));
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

async function call(name: string, input: unknown): Promise<{ status: number; error: { code: string; message: string; issues?: unknown[] } | null; body: string }> {
  const r = await raw('POST', `/api/call/${name}`, JSON.stringify(input));
  const parsed = JSON.parse(r.body) as CallResult;
  return { status: r.status, error: parsed.ok ? null : parsed.error, body: r.body };
}

const alive = async () => (await raw('POST', '/api/call/app.info', '{}')).status;

describe('no empty 500s', () => {
  test('JSON nested 5000 deep answers 400 invalid_input on every procedure, and the server goes on', async () => {
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    const bodies = [deep, `{"a":${deep}}`];
    for (const name of PROCEDURE_NAMES) {
      for (const body of bodies) {
        const r = await raw('POST', `/api/call/${name}`, body);
        expect([name, r.status, r.type]).toEqual([name, 400, 'application/json; charset=utf-8']);
        expect(JSON.parse(r.body)).toEqual({ ok: false, error: { code: 'invalid_input', message: `${name}: the request body nests deeper than 64 levels of arrays and objects; no procedure takes that` } });
      }
    }
    expect(await alive()).toBe(200);
  });

  test('the same value handed to the dispatcher (the desktop IPC path) is refused too, not a stack overflow', async () => {
    let deep: unknown = 1;
    for (let i = 0; i < 5000; i++) deep = [deep];
    const answer = await lab.dispatch('runs.create', { method: 'icot-si', name: 'deep', config: { x: deep } });
    expect(answer).toEqual({
      ok: false,
      error: {
        code: 'invalid_input',
        message: 'runs.create: input nests deeper than 64 levels of arrays and objects; no procedure takes that',
        issues: [{ path: [], message: 'input nests deeper than 64 levels of arrays and objects; no procedure takes that' }],
      },
    });
  });

  test('a bad % escape in the procedure name answers 404 unknown_procedure with the contract error', async () => {
    const r = await raw('POST', '/api/call/%E0%A4%A', '{}');
    expect([r.status, JSON.parse(r.body)]).toEqual([
      404,
      { ok: false, error: { code: 'unknown_procedure', message: 'The procedure name "%E0%A4%A" is not valid percent-encoding (e.g. /api/call/runs.get)' } },
    ]);
  });

  test('NUL or a bad escape in a static path answers 400 with the contract error', async () => {
    for (const [p, message] of [
      ['/%00', 'the path contains a NUL character'],
      ['/assets/%00.js', 'the path contains a NUL character'],
      ['/%E0%A4%A', 'the path is not valid percent-encoding'],
    ]) {
      const r = await raw('GET', p);
      expect([p, r.status, JSON.parse(r.body)]).toEqual([p, 400, { ok: false, error: { code: 'invalid_input', message } }]);
    }
    expect(await alive()).toBe(200);
  });

  test('a body over 1 MiB answers 413 with the contract error', async () => {
    const r = await raw('POST', '/api/call/runs.create', `{"name":"${'x'.repeat(1_100_000)}"}`);
    expect([r.status, JSON.parse(r.body)]).toEqual([413, { ok: false, error: { code: 'invalid_input', message: 'the request body is over 1 MiB; no procedure takes that much' } }]);
  });
});

describe('text must be valid UTF-8, without NUL or broken surrogates', () => {
  test('a request body that is not UTF-8 is refused, not turned into U+FFFD', async () => {
    const body = Buffer.concat([Buffer.from('{"name":"caf'), Buffer.from([0xe9]), Buffer.from('","method":"icot-si","config":{}}')]);
    const r = await raw('POST', '/api/call/runs.create', body);
    expect([r.status, JSON.parse(r.body)]).toEqual([400, { ok: false, error: { code: 'invalid_input', message: 'runs.create: the request body is not valid UTF-8 text' } }]);
    expect(lab.store.runs.count()).toBe(0);
  });

  test.each([
    ['a NUL', 'a\u0000b'],
    ['a lone surrogate', 'a\ud800b'],
  ])('a name with %s is refused', async (_what, name) => {
    const r = await call('configs.save', { name, method: 'icot-si', config: { recipe: 'cot' } });
    expect([r.status, r.error?.code, r.error?.message]).toEqual([400, 'invalid_input', 'configs.save: name must be text without NUL characters or broken Unicode (unpaired surrogates)']);
    expect(lab.store.configs.list(100, 0).total).toBe(0);
  });

  test('a data file with a byte that is not UTF-8 is refused naming the file and its line', async () => {
    const file = path.join(work, 'latin1.txt');
    const good = fs.readFileSync(data.train, 'utf8').split('\n').slice(0, 2).join('\n');
    fs.writeFileSync(file, Buffer.concat([Buffer.from(`${good}\n`), Buffer.from('1 2 * 3 4||caf'), Buffer.from([0xe9]), Buffer.from(' #### 5\n')]));
    const r = await call('datasets.import', { path: file, name: 'latin1' });
    expect([r.status, r.error?.message]).toEqual([400, `datasets.import: ${file}:3: expected valid UTF-8 text (save the file as UTF-8)`]);
    const task = path.join(work, 'latin1.jsonl');
    fs.writeFileSync(task, Buffer.concat([Buffer.from('{"question":"q","answer":"a"}\n{"question":"caf'), Buffer.from([0xe9]), Buffer.from('","answer":"b"}\n')]));
    const t = await call('finetune.importTask', { path: task, name: 'latin1', answerType: 'text' });
    expect([t.status, t.error?.message]).toEqual([400, `finetune.importTask: ${task}:2: is not valid UTF-8 text (save the file as UTF-8)`]);
    expect(lab.store.datasets.list(100, 0).total).toBe(0);
  });
});

describe('errors quote only a short excerpt', () => {
  test('a 30 MB one-line data file answers an error of a few hundred bytes that names its line', async () => {
    const file = path.join(work, 'one-line.txt');
    fs.writeFileSync(file, 'x'.repeat(30_000_000));
    const r = await call('datasets.import', { path: file, name: 'one line' });
    expect(r.status).toBe(400);
    expect(r.error?.message.startsWith(`datasets.import: ${file}:1: expected one '||' between the input and the chain of thought`)).toBe(true);
    expect(r.body.length).toBeLessThan(2000);
    // The issue's case: a CSV task file whose one line is its header (was a 62.9 MB error body).
    const task = path.join(work, 'one-line.csv');
    fs.writeFileSync(task, Array.from({ length: 30_000 }, () => 'y'.repeat(1000)).join(','));
    const t = await call('finetune.importTask', { path: task, name: 'one line', answerType: 'text' });
    expect(t.status).toBe(400);
    expect(t.error?.message).toContain(`${task}:1: expected a header naming "question" and "answer" columns, got "yyyy`);
    expect(t.body.length).toBeLessThan(2500);
  });

  test('a 900 KB model name to /v1/completions comes back cut, not whole', async () => {
    const r = await raw('POST', '/v1/completions', JSON.stringify({ model: 'm'.repeat(900_000), prompt: 'hi' }));
    expect(r.status).toBe(404);
    const error = (JSON.parse(r.body) as { error: { message: string } }).error;
    expect(error.message.startsWith("The model 'mmmm")).toBe(true);
    expect(error.message.endsWith('more characters)')).toBe(true);
    expect(r.body.length).toBeLessThan(2500);
  });

  test('an invalid input listing many problems is cut to what a person reads', async () => {
    const r = await call('runs.metrics', { runId: 1, keys: Array.from({ length: 5000 }, () => 7) });
    expect(r.status).toBe(400);
    expect(r.error!.issues!.length).toBeLessThanOrEqual(50);
    expect(r.body.length).toBeLessThan(20_000);
  });
});

describe('what was expected, where, instead of internal messages', () => {
  test('a safetensors header whose shape is "abc" names the tensor and what the shape must be', async () => {
    const folder = path.join(work, 'bad-shape');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, 'config.json'), JSON.stringify(gpt2ConfigToHf({ vocabSize: 8, nPositions: 8, nEmbd: 4, nLayer: 1, nHead: 1, layerNormEpsilon: 1e-5 })));
    const header = Buffer.from(JSON.stringify({ 'wte.weight': { dtype: 'F32', shape: 'abc', data_offsets: [0, 4] } }));
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(header.length));
    fs.writeFileSync(path.join(folder, 'model.safetensors'), Buffer.concat([length, header, Buffer.alloc(4)]));
    const r = await call('models.import', { path: folder });
    expect(r.status).toBe(400);
    expect(r.error?.message).toContain(`${path.join(folder, 'model.safetensors')}: tensor 'wte.weight' in the header: expected "shape" to be a list of at most 16 non-negative integers`);
    expect(r.error?.message).not.toContain('reduce');
    expect(lab.store.models.list(10, 0).total).toBe(0);
  });
});

describe('keys that reach an object’s prototype are refused', () => {
  test.each(['__proto__', 'constructor', 'prototype'])('a config holding %s is refused by runs.start, runs.create and configs.save, naming where', async (key) => {
    const body = (name: string) => `{"method":"icot-si","name":"${name}","config":${JSON.stringify(tinyConfig(data, 1)).replace('"model":{', `"model":{"${key}":{"polluted":true},`)}}`;
    for (const name of ['runs.start', 'runs.create']) {
      const r = await raw('POST', `/api/call/${name}`, body('p'));
      expect([name, r.status, (JSON.parse(r.body) as { error: { message: string } }).error.message]).toEqual([
        name,
        400,
        `${name}: config.model.${key}: the key "${key}" is not allowed (it names a JavaScript object's internals, not a setting)`,
      ]);
    }
    const saved = await raw('POST', '/api/call/configs.save', `{"name":"p","config":{"${key}":1}}`);
    expect(saved.status).toBe(400);
    expect(lab.store.runs.count()).toBe(0);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
