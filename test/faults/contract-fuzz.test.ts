/**
 * Fault group "contract fuzz": every procedure of the contract, over a live
 * `stepwise serve` server, with malformed payloads (wrong JSON types, broken
 * JSON, bytes that are not UTF-8, deep nesting, prototype keys, unknown and
 * out-of-range fields, and seeded random values). Each must answer the
 * contract's typed error (400 invalid_input, never an empty or internal
 * 500), the server must keep answering, and no table may gain or lose a row.
 * The event socket gets garbage frames too.
 */
import { startLabServer } from '../fixtures/lab-server.ts';
import { seededRandom } from '../fixtures/seeded.ts';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { MAX_MESSAGE } from '../../src-main/contract/limits.ts';
import { PROCEDURE_NAMES } from '../../src-main/contract/procedures.ts';
import type { RunningServer } from '../../src-main/server/server.ts';
import type { Lab } from '../../src-main/services/lab.ts';
import { tally } from './counts.ts';

const SEED = 23;
const RANDOM_PER_PROCEDURE = 12;

let work: string;
let lab: Lab;
let server: RunningServer;
let db: Database.Database;
const group = tally('contract fuzz');

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-faults-fuzz-'));
  ({ lab, server } = await startLabServer(work));
  // A few rows, so that ids name something and "unchanged" means something.
  expect((await lab.dispatch('configs.save', { name: 'kept', method: 'icot-si', config: { recipe: 'cot' } })).ok).toBe(true);
  lab.store.runs.create({ method: 'icot-si', name: 'queued', config: { recipe: 'cot' } });
  db = new Database(path.join(lab.dataDir, 'stepwise.db'), { readonly: true });
});

afterAll(async () => {
  db?.close();
  await server?.close();
  lab?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

/** Row counts of every table. */
function rowCounts(): Record<string, number> {
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[];
  return Object.fromEntries(tables.map(({ name }) => [name, (db.prepare(`SELECT count(*) AS n FROM "${name}"`).get() as { n: number }).n]));
}

function post(name: string, body: Buffer | string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port: server.port, method: 'POST', path: `/api/call/${name}`, headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' } },
      (response) => {
        let text = '';
        response.on('data', (c) => (text += c));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}


const FIELDS = ['id', 'name', 'path', 'config', 'method', 'runId', 'split', 'limit', 'offset', 'teacher', 'source', 'data', 'counts', 'digitsA', 'seed', 'excludePaths', 'keys', 'format', 'text', 'checkpoints'];
const STRINGS = ['', ' ', 'x', '/etc/passwd', 'relative/path', '../../..', 'runs.get', '\u0000', '\ud800', '%E0%A4%A', '💡'.repeat(50), 'y'.repeat(5000), '{"nested":"json"}', 'icot-si', 'train'];
const NUMBERS = [0, -1, 1, 1.5, 2 ** 53, -(2 ** 31), 1e308, 4294967296, 100_001];

function randomValue(next: () => number, depth: number): unknown {
  const pick = <T,>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)];
  const kind = Math.floor(next() * (depth > 3 ? 4 : 7));
  switch (kind) {
    case 0: return pick(NUMBERS);
    case 1: return pick(STRINGS);
    case 2: return next() < 0.5;
    case 3: return null;
    case 4: return Array.from({ length: Math.floor(next() * 4) }, () => randomValue(next, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(next() * 4); i > 0; i--) o[pick(FIELDS)] = randomValue(next, depth + 1);
      return o;
    }
  }
}

/** Payloads no procedure accepts, as raw bodies. */
const FIXED: [string, Buffer | string][] = [
  ['null', 'null'],
  ['an array', '[]'],
  ['a string', '"text"'],
  ['a number', '0'],
  ['true', 'true'],
  ['an unknown field', '{"zz_fuzz":1}'],
  ['__proto__', '{"__proto__":{"polluted":true}}'],
  ['constructor', '{"constructor":{"prototype":1}}'],
  ['nested 200 deep', `${'['.repeat(200)}${']'.repeat(200)}`],
  ['nested 5000 deep in an object', `{"config":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`],
  ['cut JSON', '{"id":'],
  ['an open brace', '{'],
  ['a NUL byte', '\u0000'],
  ['bytes that are not UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])],
  ['a negative id', '{"id":-1,"zz_fuzz":0}'],
  ['an id as a string', '{"id":"1","zz_fuzz":0}'],
  ['an infinite number', '{"id":1e400,"zz_fuzz":0}'],
  ['a NUL in a name', '{"name":"a\\u0000b","zz_fuzz":0}'],
  ['a lone surrogate', '{"name":"\\ud800","zz_fuzz":0}'],
  ['a limit over the range', '{"limit":1000000,"zz_fuzz":0}'],
  ['a relative path', '{"path":"relative/x","zz_fuzz":0}'],
  ['a long string', `{"name":"${'z'.repeat(500_000)}","zz_fuzz":0}`],
];

describe('every procedure with malformed payloads', () => {
  test('answers a typed 400, keeps the server answering and changes no row', async () => {
    const next = seededRandom(SEED);
    const before = rowCounts();
    for (const name of PROCEDURE_NAMES) {
      const payloads: [string, Buffer | string][] = [...FIXED];
      for (let i = 0; i < RANDOM_PER_PROCEDURE; i++) {
        const value = randomValue(next, 0);
        // Random objects carry an unknown field, so none of them is a valid call that would change rows.
        const body = value !== null && typeof value === 'object' && !Array.isArray(value) ? { ...value, zz_fuzz: i } : value;
        payloads.push([`random ${i}`, JSON.stringify(body)]);
      }
      for (const [what, body] of payloads) {
        let problem: string | null = null;
        try {
          const r = await post(name, body);
          const parsed = JSON.parse(r.body) as { ok: boolean; error?: { code: string; message: string } };
          if (r.status !== 400 || parsed.ok || parsed.error?.code !== 'invalid_input') problem = `answered ${r.status} ${r.body.slice(0, 160)}`;
          else if (typeof parsed.error.message !== 'string' || parsed.error.message.length > MAX_MESSAGE + 100) problem = `a message of ${parsed.error.message.length} characters`;
        } catch (error) {
          problem = `no typed answer (${(error as Error).message.slice(0, 160)})`;
        }
        group.attempt(`${name} with ${what}`, problem);
      }
      const info = await post('app.info', '{}');
      if (info.status !== 200) group.attempt(`app.info after ${name}`, `answered ${info.status}`);
      const after = rowCounts();
      if (JSON.stringify(after) !== JSON.stringify(before)) group.attempt(`rows after ${name}`, `changed: ${JSON.stringify(before)} → ${JSON.stringify(after)}`);
    }
    expect(group.counts.attempts).toBe(PROCEDURE_NAMES.length * (FIXED.length + RANDOM_PER_PROCEDURE));
  });

  test('garbage frames on the event socket close at most that socket; the server goes on', async () => {
    const frames: [string, Buffer | string][] = [
      ['text', 'hello'],
      ['JSON', '{"event":"run.status","payload":{}}'],
      ['binary', Buffer.from([0, 1, 2, 255])],
      ['a frame over the 1 KiB limit', 'x'.repeat(10_000)],
    ];
    for (const [what, frame] of frames) {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api/events`, { headers: { authorization: `Bearer ${server.token}` } });
      await new Promise<void>((resolve, reject) => {
        ws.on('open', () => resolve());
        ws.on('error', reject);
      });
      const closed = new Promise<void>((resolve) => ws.on('close', () => resolve()));
      ws.on('error', () => {});
      ws.send(frame);
      await new Promise((r) => setTimeout(r, 50));
      ws.terminate();
      await closed;
      const info = await post('app.info', '{}');
      group.attempt(`event socket with ${what}`, info.status === 200 ? null : `app.info answered ${info.status} after it`);
    }
  });

  test('no attempt failed', () => {
    expect(group.write()).toEqual([]);
  });
});
