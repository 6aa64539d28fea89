import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { LATEST_SCHEMA_VERSION, MIGRATIONS, migrate, schemaVersion } from '../../src-main/store/migrations.ts';
import { configure, openStore } from '../../src-main/store/store.ts';

let dir: string;
let file: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-migrations-'));
  file = path.join(dir, 'stepwise.db');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A database left at `version`, as an older Stepwise would have left it, with a run, metrics, a log line, a checkpoint, a model and a dataset if the schema has tables. */
function databaseAt(version: number): void {
  const db = configure(new Database(file));
  migrate(db, version);
  if (version >= 1) {
    db.prepare("INSERT INTO runs (id, method, name, config, status, created_at, started_at) VALUES (1, 'icot-si', 'old run', '{\"lr\":0.0001}', 'running', 1000, 1100)").run();
    db.prepare("INSERT INTO metrics (run_id, step, key, value, wall_time) VALUES (1, 0, 'loss', 2.5, 1200), (1, 1, 'loss', 2.25, 1300)").run();
    db.prepare("INSERT INTO log_events (run_id, ts, level, message) VALUES (1, 1250, 'info', 'epoch 1')").run();
    db.prepare("INSERT INTO checkpoints (run_id, step, path, bytes, created_at) VALUES (1, 1, 'runs/1/step-1.onnx', 4096, 1300)").run();
    db.prepare(`INSERT INTO models (name, architecture, param_count, path, bytes_on_disk, source, run_id, created_at)
                VALUES ('gpt2-tiny', '{"nLayer":2}', 27072, 'models/gpt2-tiny', 108288, '{"kind":"trained","runId":1}', 1, 1400)`).run();
    db.prepare(`INSERT INTO datasets (name, kind, content_hash, split_counts, path, preview, created_at)
                VALUES ('4x4', 'multiplication', 'ab12', '{"train":808000,"test":1000}', 'datasets/4x4', '["1 2 * 3 4"]', 900)`).run();
  }
  db.close();
}

describe('schema migrations', () => {
  test("the latest schema is the last migration's version and versions are numbered 1, 2, … without gaps", () => {
    expect(LATEST_SCHEMA_VERSION).toBe(MIGRATIONS.length);
    expect(LATEST_SCHEMA_VERSION).toBeGreaterThanOrEqual(4); // 4: saved run configurations
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
  });

  for (let from = 0; from < LATEST_SCHEMA_VERSION; from++) {
    test(`a database at version ${from} migrates to version ${LATEST_SCHEMA_VERSION} keeping every row`, () => {
      databaseAt(from);
      const store = openStore(file);
      try {
        expect(store.schemaVersion).toBe(LATEST_SCHEMA_VERSION);
        if (from === 0) {
          expect(store.runs.count()).toBe(0);
          return;
        }
        expect(store.runs.get(1)).toEqual({
          id: 1,
          method: 'icot-si',
          name: 'old run',
          config: { lr: 0.0001 },
          status: 'running',
          notes: '', // added by version 2, defaulted for old rows
          tags: [], // added by version 7, defaulted for old rows
          parentRunId: null,
          createdAt: 1000,
          startedAt: 1100,
          finishedAt: null,
          error: null,
        });
        expect(store.metrics.series(1)).toEqual([{ key: 'loss', steps: [0, 1], values: [2.5, 2.25], wallTimes: [1200, 1300] }]);
        expect(store.logs.after(1, 0, 10).map((l) => l.message)).toEqual(['epoch 1']);
        expect(store.checkpoints.list(1).map((c) => [c.step, c.path, c.bytes])).toEqual([[1, 'runs/1/step-1.onnx', 4096]]);
        expect(store.models.get(1)).toMatchObject({ name: 'gpt2-tiny', paramCount: 27072, runId: 1, source: { kind: 'trained', runId: 1 } });
        expect(store.datasets.get(1)).toMatchObject({ splitCounts: { train: 808000, test: 1000 }, preview: ['1 2 * 3 4'] });
      } finally {
        store.close();
      }
    });
  }

  test('version 2 adds the indexes for runs by status and logs by run', () => {
    openStore(file).close();
    const db = new Database(file, { readonly: true });
    const indexes = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all();
    db.close();
    expect(indexes).toEqual(expect.arrayContaining(['log_events_by_run', 'models_by_run', 'runs_by_parent', 'runs_by_status'])); // later versions add their own
  });

  test('opening an already migrated database changes nothing', () => {
    databaseAt(LATEST_SCHEMA_VERSION);
    const store = openStore(file);
    expect(store.schemaVersion).toBe(LATEST_SCHEMA_VERSION);
    expect(store.runs.count()).toBe(1);
    store.close();
  });

  test('a database written by a newer Stepwise is refused with both versions named and left as it was', () => {
    const db = new Database(file);
    const newer = LATEST_SCHEMA_VERSION + 1;
    db.pragma(`user_version = ${newer}`);
    db.close();
    expect(() => openStore(file)).toThrow(`schema version ${newer}, but this Stepwise knows versions up to ${LATEST_SCHEMA_VERSION}`);
    const after = new Database(file, { readonly: true });
    expect(schemaVersion(after)).toBe(newer);
    expect(after.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table'").pluck().get()).toBe(0);
    after.close();
  });
});
