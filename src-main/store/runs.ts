/** The runs table: one training run each, with its config and life cycle. */
import type Database from 'better-sqlite3';
import type { JsonObject, Page, Run, RunMethod, RunStatus } from '../contract/entities.ts';

export interface NewRun {
  method: RunMethod;
  name: string;
  config: JsonObject;
  parentRunId?: number | null;
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
  created_at AS createdAt, started_at AS startedAt, finished_at AS finishedAt, error`;

type RunRow = Omit<Run, 'config' | 'tags'> & { config: string; tags: string };

function toRun(row: RunRow): Run {
  return { ...row, config: JSON.parse(row.config) as JsonObject, tags: JSON.parse(row.tags) as string[] };
}

export function createRunsRepository(db: Database.Database) {
  const insert = db.prepare<[string, string, string, number | null, number]>(
    'INSERT INTO runs (method, name, config, parent_run_id, created_at) VALUES (?, ?, ?, ?, ?)',
  );
  const byId = db.prepare<[number], RunRow>(`SELECT ${COLUMNS} FROM runs WHERE id = ?`);
  const remove = db.prepare<[number]>('DELETE FROM runs WHERE id = ?');

  return {
    create(run: NewRun, now: number = Date.now()): Run {
      const { lastInsertRowid } = insert.run(run.method, run.name, JSON.stringify(run.config), run.parentRunId ?? null, now);
      return toRun(byId.get(Number(lastInsertRowid))!);
    },

    get(id: number): Run | undefined {
      const row = byId.get(id);
      return row && toRun(row);
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
    update(id: number, changes: { name?: string; notes?: string; tags?: string[] }): Run | undefined {
      const sets: string[] = [];
      const params: (string | number)[] = [];
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
