/**
 * The database schema, as numbered migrations.
 *
 * `PRAGMA user_version` holds the number of the last migration applied. Each
 * migration runs in its own transaction together with the version bump, so a
 * database is always exactly at some version. Append new migrations; never
 * edit one that has shipped.
 *
 * Tables are STRICT: a value of the wrong type (text in a metric's value,
 * say) is an error rather than stored as is.
 *
 * Big tensors (weights, checkpoints, datasets) live in files under the data
 * folder; rows hold their relative paths and sizes only.
 */
import type Database from 'better-sqlite3';

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'runs, models, datasets, metrics, checkpoints, log events',
    sql: `
      CREATE TABLE runs (
        id            INTEGER PRIMARY KEY,
        method        TEXT    NOT NULL,
        name          TEXT    NOT NULL,
        config        TEXT    NOT NULL CHECK (json_valid(config)),
        status        TEXT    NOT NULL DEFAULT 'queued'
                              CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
        parent_run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        created_at    INTEGER NOT NULL,
        started_at    INTEGER,
        finished_at   INTEGER,
        error         TEXT
      ) STRICT;

      CREATE TABLE models (
        id            INTEGER PRIMARY KEY,
        name          TEXT    NOT NULL,
        architecture  TEXT    NOT NULL CHECK (json_valid(architecture)),
        param_count   INTEGER NOT NULL CHECK (param_count >= 0),
        path          TEXT    NOT NULL UNIQUE,
        bytes_on_disk INTEGER NOT NULL CHECK (bytes_on_disk >= 0),
        source        TEXT    NOT NULL CHECK (json_valid(source)),
        run_id        INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        created_at    INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE datasets (
        id           INTEGER PRIMARY KEY,
        name         TEXT    NOT NULL,
        kind         TEXT    NOT NULL,
        content_hash TEXT    NOT NULL,
        split_counts TEXT    NOT NULL CHECK (json_valid(split_counts)),
        path         TEXT    NOT NULL UNIQUE,
        preview      TEXT    NOT NULL CHECK (json_valid(preview)),
        created_at   INTEGER NOT NULL
      ) STRICT;

      -- One value per (run, key, step); the primary key is the index charts read by.
      -- value is NULL where training produced NaN (SQLite stores NaN as NULL).
      CREATE TABLE metrics (
        run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        step      INTEGER NOT NULL CHECK (step >= 0),
        key       TEXT    NOT NULL,
        value     REAL,
        wall_time INTEGER NOT NULL,
        PRIMARY KEY (run_id, key, step)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE checkpoints (
        id         INTEGER PRIMARY KEY,
        run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        step       INTEGER NOT NULL CHECK (step >= 0),
        path       TEXT    NOT NULL UNIQUE,
        bytes      INTEGER NOT NULL CHECK (bytes >= 0),
        created_at INTEGER NOT NULL,
        UNIQUE (run_id, step)
      ) STRICT;

      CREATE TABLE log_events (
        id      INTEGER PRIMARY KEY,
        run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        ts      INTEGER NOT NULL,
        level   TEXT    NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error')),
        message TEXT    NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 2,
    description: 'run notes; indexes for listing runs by status and reading logs, models by run',
    sql: `
      ALTER TABLE runs ADD COLUMN notes TEXT NOT NULL DEFAULT '';
      CREATE INDEX runs_by_status ON runs (status, id);
      CREATE INDEX runs_by_parent ON runs (parent_run_id);
      CREATE INDEX log_events_by_run ON log_events (run_id, id);
      CREATE INDEX models_by_run ON models (run_id);
    `,
  },
  {
    version: 3,
    description: 'predictions: every evaluated example of a run (input, generation, right or wrong)',
    sql: `
      CREATE TABLE predictions (
        run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        split      TEXT    NOT NULL,
        step       INTEGER NOT NULL CHECK (step >= 0),
        idx        INTEGER NOT NULL CHECK (idx >= 0),
        input      TEXT    NOT NULL,
        target     TEXT    NOT NULL,
        generated  TEXT    NOT NULL,
        answer     TEXT,
        correct    INTEGER NOT NULL CHECK (correct IN (0, 1)),
        cot_tokens INTEGER,
        PRIMARY KEY (run_id, split, step, idx)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 4,
    description: 'saved run configurations (New run → Save / Load), one per name',
    sql: `
      CREATE TABLE saved_configs (
        id         INTEGER PRIMARY KEY,
        name       TEXT    NOT NULL UNIQUE,
        method     TEXT    NOT NULL,
        config     TEXT    NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 5,
    description: 'Fine-tune-CoT: rationale generation jobs and every sample a teacher wrote (kept or filtered, and why)',
    sql: `
      CREATE TABLE ftcot_generations (
        id                INTEGER PRIMARY KEY,
        name              TEXT    NOT NULL,
        dataset_id        INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
        split             TEXT    NOT NULL,
        task              TEXT    NOT NULL,
        answer_type       TEXT    NOT NULL,
        teacher           TEXT    NOT NULL CHECK (json_valid(teacher)),
        settings          TEXT    NOT NULL CHECK (json_valid(settings)),
        status            TEXT    NOT NULL DEFAULT 'queued'
                                  CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
        total             INTEGER NOT NULL CHECK (total >= 0),
        error             TEXT,
        output_dataset_id INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
        created_at        INTEGER NOT NULL,
        started_at        INTEGER,
        finished_at       INTEGER
      ) STRICT;

      CREATE TABLE ftcot_rationales (
        generation_id     INTEGER NOT NULL REFERENCES ftcot_generations(id) ON DELETE CASCADE,
        idx               INTEGER NOT NULL CHECK (idx >= 0),
        sample            INTEGER NOT NULL CHECK (sample >= 0),
        question          TEXT    NOT NULL,
        gold              TEXT    NOT NULL,
        prompt            TEXT    NOT NULL,
        rationale         TEXT    NOT NULL,
        answer_prompt     TEXT    NOT NULL,
        answer_text       TEXT    NOT NULL,
        answer            TEXT,
        kept              INTEGER NOT NULL CHECK (kept IN (0, 1)),
        reason            TEXT    NOT NULL,
        temperature       REAL    NOT NULL,
        prompt_tokens     INTEGER NOT NULL CHECK (prompt_tokens >= 0),
        completion_tokens INTEGER NOT NULL CHECK (completion_tokens >= 0),
        created_at        INTEGER NOT NULL,
        PRIMARY KEY (generation_id, idx, sample)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 6,
    description: 'probe jobs: hidden-state captures and linear probes, indexed (the captures are files under probes/<id>/)',
    sql: `
      CREATE TABLE probes (
        id          INTEGER PRIMARY KEY,
        name        TEXT    NOT NULL,
        run_id      INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        config      TEXT    NOT NULL CHECK (json_valid(config)),
        status      TEXT    NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'cancelled')),
        path        TEXT    NOT NULL UNIQUE,
        bytes       INTEGER NOT NULL CHECK (bytes >= 0),
        summary     TEXT    NOT NULL CHECK (json_valid(summary)),
        error       TEXT,
        created_at  INTEGER NOT NULL,
        finished_at INTEGER
      ) STRICT;
      CREATE INDEX probes_by_run ON probes (run_id);
    `,
  },
  {
    version: 7,
    description: 'run tags: a JSON array of short labels per run, for filtering the runs table',
    sql: `
      ALTER TABLE runs ADD COLUMN tags TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags) AND json_type(tags) = 'array');
    `,
  },
  {
    version: 8,
    description: "a run's origin: where a run imported from a cluster job was trained (the job, the machine, its GPUs and wall time), one run per job",
    sql: `
      ALTER TABLE runs ADD COLUMN origin TEXT CHECK (origin IS NULL OR (json_valid(origin) AND json_type(origin) = 'object'));
      CREATE UNIQUE INDEX runs_by_job ON runs (json_extract(origin, '$.jobId')) WHERE origin IS NOT NULL;
    `,
  },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings `db` up to `target` (default: the latest), one migration per
 * transaction. Refuses a database newer than this code knows.
 */
export function migrate(db: Database.Database, target: number = LATEST_SCHEMA_VERSION): number {
  const current = schemaVersion(db);
  if (current > LATEST_SCHEMA_VERSION) {
    throw new Error(
      `${db.name} has schema version ${current}, but this Stepwise knows versions up to ${LATEST_SCHEMA_VERSION}. ` +
        'It was written by a newer Stepwise: update Stepwise, or use another data folder (--data-dir or STEPWISE_DATA_DIR).',
    );
  }
  for (const migration of MIGRATIONS) {
    if (migration.version <= current || migration.version > target) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    })();
  }
  return schemaVersion(db);
}
