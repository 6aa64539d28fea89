import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { configure, openStore } from '../../src-main/store/store.ts';
import type { Store } from '../../src-main/store/store.ts';

let dir: string;
let store: Store;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-store-'));
  store = openStore(path.join(dir, 'stepwise.db'));
});
afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const newRun = (name = 'run') => store.runs.create({ method: 'icot-si', name, config: { epochs: 3 } }, 1000);

describe('connection settings', () => {
  test('every connection runs in WAL mode with foreign keys on and a 5 s busy timeout', () => {
    const db = configure(new Database(path.join(dir, 'other.db')));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    db.close();
  });

  test("the store's file is in WAL mode (a -wal file sits beside it)", () => {
    newRun();
    const db = new Database(store.file, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    expect(fs.existsSync(`${store.file}-wal`)).toBe(true);
  });
});

describe('integrity', () => {
  test('a metric for a run that does not exist is rejected and nothing is written', () => {
    expect(() => store.metrics.record(42, 0, { loss: 1.5 })).toThrow(/FOREIGN KEY/);
    expect(store.metrics.count()).toBe(0);
  });

  test('a transaction whose last insert violates a constraint leaves zero rows behind', () => {
    expect(() =>
      store.transaction(() => {
        const run = newRun();
        store.metrics.record(run.id, 0, { loss: 2.5 });
        store.logs.append(run.id, 'info', 'started');
        store.metrics.record(run.id, -1, { loss: 2.4 }); // step must be >= 0
      }),
    ).toThrow(/CHECK constraint failed/);
    expect(store.runs.count()).toBe(0);
    expect(store.metrics.count()).toBe(0);
  });

  test('recording one step is all or nothing: a bad key value aborts the whole step', () => {
    const run = newRun();
    expect(() => store.metrics.record(run.id, 3, { loss: 1, acc: 'high' as unknown as number })).toThrow();
    expect(store.metrics.count(run.id)).toBe(0);
  });

  test('a status outside the five known ones is rejected by the table itself', () => {
    const run = newRun();
    const db = new Database(store.file);
    expect(() => db.prepare("UPDATE runs SET status = 'paused' WHERE id = ?").run(run.id)).toThrow(/CHECK constraint failed/);
    db.close();
    expect(store.runs.get(run.id)!.status).toBe('queued');
  });

  test('deleting a run deletes its metrics, logs and checkpoints, and unlinks (keeps) its models', () => {
    const run = newRun();
    store.metrics.record(run.id, 0, { loss: 1 });
    store.logs.append(run.id, 'info', 'hello');
    store.checkpoints.add({ runId: run.id, step: 0, path: 'runs/1/step-0', bytes: 10 });
    const model = store.models.add({ name: 'm', architecture: {}, paramCount: 1, path: 'models/m', bytesOnDisk: 4, source: { kind: 'trained' }, runId: run.id });
    expect(store.runs.delete(run.id)).toBe(true);
    expect(store.metrics.count()).toBe(0);
    expect(store.logs.after(run.id, 0, 10)).toEqual([]);
    expect(store.checkpoints.list(run.id)).toEqual([]);
    expect(store.models.get(model.id)!.runId).toBeNull();
  });
});

describe('runs', () => {
  test('a new run is queued with its config stored as given', () => {
    const run = store.runs.create({ method: 'bitune', name: 'b1', config: { lora: { r: 8, alpha: 16 }, tags: ['a'] }, parentRunId: null }, 5000);
    expect(run).toEqual({
      id: 1,
      method: 'bitune',
      name: 'b1',
      config: { lora: { r: 8, alpha: 16 }, tags: ['a'] },
      status: 'queued',
      notes: '',
      tags: [],
      parentRunId: null,
      createdAt: 5000,
      startedAt: null,
      finishedAt: null,
      error: null,
    });
  });

  test('setStatus stamps started and finished times and keeps the error only for a failed run', () => {
    const run = newRun();
    expect(store.runs.setStatus(run.id, 'running', { now: 2000 })).toMatchObject({ status: 'running', startedAt: 2000, finishedAt: null });
    expect(store.runs.setStatus(run.id, 'failed', { now: 3000, error: 'loss became NaN at step 40' })).toMatchObject({
      status: 'failed',
      startedAt: 2000,
      finishedAt: 3000,
      error: 'loss became NaN at step 40',
    });
  });

  test('list filters by status and method, pages newest first, and counts every match', () => {
    for (let i = 1; i <= 5; i++) store.runs.create({ method: i % 2 ? 'icot-si' : 'fine-tune-cot', name: `r${i}`, config: {} });
    store.runs.setStatus(5, 'running');
    expect(store.runs.list({ limit: 2, offset: 0 })).toMatchObject({ total: 5, items: [{ name: 'r5' }, { name: 'r4' }] });
    expect(store.runs.list({ limit: 2, offset: 4 }).items.map((r) => r.name)).toEqual(['r1']);
    const icot = store.runs.list({ method: 'icot-si', limit: 10, offset: 0 });
    expect([icot.total, icot.items.map((r) => r.name)]).toEqual([3, ['r5', 'r3', 'r1']]);
    const queuedIcot = store.runs.list({ method: 'icot-si', status: 'queued', limit: 10, offset: 0 });
    expect(queuedIcot.items.map((r) => r.name)).toEqual(['r3', 'r1']);
  });
});

describe('metrics', () => {
  test('series come back columnar, by step, within the step range, with non-finite values as null', () => {
    const run = newRun();
    store.metrics.record(run.id, 0, { loss: 3, acc: 0 }, 100);
    store.metrics.record(run.id, 10, { loss: 2 }, 110);
    store.metrics.record(run.id, 20, { loss: Number.NaN }, 120);
    store.metrics.record(run.id, 30, { loss: Number.POSITIVE_INFINITY }, 130);
    expect(store.metrics.keys(run.id)).toEqual(['acc', 'loss']);
    expect(store.metrics.series(run.id, { keys: ['loss'], fromStep: 10, toStep: 30 })).toEqual([
      { key: 'loss', steps: [10, 20, 30], values: [2, null, null], wallTimes: [110, 120, 130] },
    ]);
    expect(store.metrics.series(run.id, { keys: ['missing'] })).toEqual([{ key: 'missing', steps: [], values: [], wallTimes: [] }]);
    expect([store.metrics.lastStep(run.id, 'loss'), store.metrics.lastStep(run.id, 'acc'), store.metrics.lastStep(run.id, 'missing')]).toEqual([30, 0, 0]);
    expect(store.metrics.lastStep(newRun('empty').id, 'loss')).toBe(0);
  });

  test('recording a step again replaces its value instead of adding a second point', () => {
    const run = newRun();
    store.metrics.record(run.id, 5, { loss: 2 }, 100);
    store.metrics.record(run.id, 5, { loss: 1.5 }, 200);
    expect(store.metrics.series(run.id)).toEqual([{ key: 'loss', steps: [5], values: [1.5], wallTimes: [200] }]);
  });
});

describe('logs', () => {
  test('after(id) returns the next lines in order, at most `limit`', () => {
    const run = newRun();
    const other = newRun('other');
    const ids = ['a', 'b', 'c', 'd'].map((m, i) => store.logs.append(run.id, 'info', m, i).id);
    store.logs.append(other.id, 'warn', 'not mine');
    expect(store.logs.after(run.id, ids[0], 2).map((l) => l.message)).toEqual(['b', 'c']);
    expect(store.logs.after(run.id, ids[3], 2)).toEqual([]);
  });
});
