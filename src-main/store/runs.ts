/** The runs table: one training run each, with its config and life cycle. */
import type Database from 'better-sqlite3';
import type { JobOrigin, JsonObject, Page, Run, RunMethod, RunStatus } from '../contract/entities.ts';

export interface NewRun {
  method: RunMethod;
  name: string;
  config: JsonObject;
  parentRunId?: number | null;
  /** Where it was trained, for a run imported from a cluster job. */
  origin?: JobOrigin;
}

/** An imported run's life, as its job recorded it (times in ms since the epoch). */
export interface RunHistory {
  status: RunStatus;
  startedAt: number | null;
  finishedAt: number | null;
  error: string | null;
}

export interface RunFilter {
  status?: RunStatus;
  method?: RunMethod;
  /** Runs carrying this tag. */
  tag?: string;
  /** Runs whose name contains this text (any case). */
  search?: string;
  limit: number;
  offset: number;
}

const COLUMNS = `id, method, name, config, status, notes, tags, parent_run_id AS parentRunId,
  created_at AS createdAt, started_at AS startedAt, finished_at AS finishedAt, error, origin`;

type RunRow = Omit<Run, 'config' | 'tags' | 'origin'> & { config: string; tags: string; origin: string | null };

/** A stored run; `origin` only on a run that has one (an imported run). */
function toRun({ origin, ...row }: RunRow): Run {
  const run: Run = { ...row, config: JSON.parse(row.config) as JsonObject, tags: JSON.parse(row.tags) as string[] };
  if (origin !== null) run.origin = JSON.parse(origin) as JobOrigin;
  return run;
}

export function createRunsRepository(db: Database.Database) {
  const insert = db.prepare<[string, string, string, number | null, string | null, number]>(
    'INSERT INTO runs (method, name, config, parent_run_id, origin, created_at) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const byJob = db.prepare<[string], RunRow>(`SELECT ${COLUMNS} FROM runs WHERE origin IS NOT NULL AND json_extract(origin, '$.jobId') = ?`);
  const byId = db.prepare<[number], RunRow>(`SELECT ${COLUMNS} FROM runs WHERE id = ?`);
  const remove = db.prepare<[number]>('DELETE FROM runs WHERE id = ?');

  return {
    create(run: NewRun, now: number = Date.now()): Run {
      const { lastInsertRowid } = insert.run(run.method, run.name, JSON.stringify(run.config), run.parentRunId ?? null, run.origin ? JSON.stringify(run.origin) : null, now);
      return toRun(byId.get(Number(lastInsertRowid))!);
    },

    get(id: number): Run | undefined {
      const row = byId.get(id);
      return row && toRun(row);
    },

    /** The run a cluster job was imported as (by its origin's jobId), if any. */
    byJob(jobId: string): Run | undefined {
      const row = byJob.get(jobId);
      return row && toRun(row);
    },

    /**
     * Sets an imported run's status, times, error and origin as its job
     * recorded them (setStatus stamps the present instead).
     */
    setHistory(id: number, history: RunHistory, origin: JobOrigin): Run | undefined {
      db.prepare('UPDATE runs SET status = ?, started_at = ?, finished_at = ?, error = ?, origin = ? WHERE id = ?').run(
        history.status, history.startedAt, history.finishedAt, history.error, JSON.stringify(origin), id,
      );
      return this.get(id);
    },

    /** Deletes what a run recorded (metrics, predictions, checkpoint rows, its models' rows), keeping the run and its log: an imported run about to be brought up to date. */
    clearRecords(id: number): void {
      for (const table of ['metrics', 'predictions', 'checkpoints', 'models']) db.prepare(`DELETE FROM ${table} WHERE run_id = ?`).run(id);
    },

    list(filter: RunFilter): Page<Run> {
      const where: string[] = [];
      const params: (string | number)[] = [];
      if (filter.status) {
        where.push('status = ?');
        params.push(filter.status);
      }
      if (filter.method) {
        where.push('method = ?');
        params.push(filter.method);
      }
      if (filter.tag) {
        where.push('EXISTS (SELECT 1 FROM json_each(runs.tags) WHERE json_each.value = ?)');
        params.push(filter.tag);
      }
      if (filter.search) {
        // instr on lower(): no LIKE wildcards to escape in what the user typed.
        where.push('instr(lower(name), lower(?)) > 0');
        params.push(filter.search);
      }
      const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
      const rows = db
        .prepare<(string | number)[], RunRow>(`SELECT ${COLUMNS} FROM runs ${clause} ORDER BY id DESC LIMIT ? OFFSET ?`)
        .all(...params, filter.limit, filter.offset);
      const { total } = db.prepare<(string | number)[], { total: number }>(`SELECT count(*) AS total FROM runs ${clause}`).get(...params)!;
      return { items: rows.map(toRun), total };
    },

    /** Changes the given fields; answers the run as it now is, or undefined if there is none. */
    update(id: number, changes: { name?: string; notes?: string; tags?: string[]; config?: NewRun['config'] }): Run | undefined {
      const sets: string[] = [];
      const params: (string | number)[] = [];
      if (changes.config !== undefined) {
        // A run's settings change only while it is queued: a started run's records came from them.
        const { changes: changed } = db.prepare("UPDATE runs SET config = ? WHERE id = ? AND status = 'queued'").run(JSON.stringify(changes.config), id);
        if (changed === 0 && this.get(id)) throw new Error(`run ${id} is not queued; its settings cannot change`);
      }
      if (changes.name !== undefined) {
        sets.push('name = ?');
        params.push(changes.name);
      }
      if (changes.notes !== undefined) {
        sets.push('notes = ?');
        params.push(changes.notes);
      }
      if (changes.tags !== undefined) {
        sets.push('tags = ?');
        params.push(JSON.stringify(changes.tags));
      }
      if (sets.length) db.prepare(`UPDATE runs SET ${sets.join(', ')} WHERE id = ?`).run(...params, id);
      return this.get(id);
    },

    /**
     * Moves a run to `status`: 'running' stamps started_at the first time
     * (a resumed run keeps it) and clears finished_at, the end states stamp
     * finished_at, 'failed' keeps `error`.
     */
    setStatus(id: number, status: RunStatus, options: { error?: string; now?: number } = {}): Run | undefined {
      const now = options.now ?? Date.now();
      const ended = status === 'completed' || status === 'failed' || status === 'cancelled';
      const running = status === 'running' ? 1 : 0;
      db.prepare(
        `UPDATE runs SET status = ?,
           started_at = CASE WHEN ? THEN coalesce(started_at, ?) ELSE started_at END,
           finished_at = CASE WHEN ? THEN ? WHEN ? THEN NULL ELSE finished_at END,
           error = ?
         WHERE id = ?`,
      ).run(status, running, now, ended ? 1 : 0, now, running, status === 'failed' ? (options.error ?? 'failed') : null, id);
      return this.get(id);
    },

    /** Deletes the run; its metrics, logs and checkpoint rows go with it (ON DELETE CASCADE). */
    delete(id: number): boolean {
      return remove.run(id).changes > 0;
    },

    /** Every tag in use, with how many runs carry it, most used first. */
    tags(): { tag: string; runs: number }[] {
      return db
        .prepare<[], { tag: string; runs: number }>('SELECT json_each.value AS tag, count(*) AS runs FROM runs, json_each(runs.tags) GROUP BY tag ORDER BY runs DESC, tag')
        .all();
    },

    count(): number {
      return (db.prepare('SELECT count(*) AS n FROM runs').get() as { n: number }).n;
    },
  };
}

export type RunsRepository = ReturnType<typeof createRunsRepository>;
