/** The metrics table: one value per (run, key, step), read back as series for charts. */
import type Database from 'better-sqlite3';
import type { MetricSeries } from '../contract/entities.ts';

export interface SeriesQuery {
  /** Default: every key the run has. */
  keys?: string[];
  fromStep?: number;
  toStep?: number;
}

interface MetricRow {
  key: string;
  step: number;
  value: number | null;
  wallTime: number;
}

export function createMetricsRepository(db: Database.Database) {
  // Recording a step again (e.g. a resumed run) replaces its value.
  const upsert = db.prepare<[number, number, string, number, number]>(
    `INSERT INTO metrics (run_id, step, key, value, wall_time) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (run_id, key, step) DO UPDATE SET value = excluded.value, wall_time = excluded.wall_time`,
  );
  const keysOf = db.prepare<[number], { key: string }>('SELECT DISTINCT key FROM metrics WHERE run_id = ? ORDER BY key');
  const lastStepOf = db.prepare<[number, string], { step: number | null }>('SELECT max(step) AS step FROM metrics WHERE run_id = ? AND key = ?');
  const seriesOf = db.prepare<[number, string, number, number], MetricRow>(
    `SELECT key, step, value, wall_time AS wallTime FROM metrics
     WHERE run_id = ? AND key = ? AND step BETWEEN ? AND ? ORDER BY step`,
  );

  return {
    /** Records every value of one step, all or nothing. */
    record(runId: number, step: number, values: Record<string, number>, wallTime: number = Date.now()): void {
      db.transaction(() => {
        for (const [key, value] of Object.entries(values)) upsert.run(runId, step, key, value, wallTime);
      })();
    },

    keys(runId: number): string[] {
      return keysOf.all(runId).map((row) => row.key);
    },

    /** One series per key asked for, in the order asked (keys with no values give empty series). */
    series(runId: number, query: SeriesQuery = {}): MetricSeries[] {
      const keys = query.keys ?? this.keys(runId);
      return keys.map((key) => {
        const rows = seriesOf.all(runId, key, query.fromStep ?? 0, query.toStep ?? Number.MAX_SAFE_INTEGER);
        return {
          key,
          steps: rows.map((r) => r.step),
          values: rows.map((r) => (r.value !== null && Number.isFinite(r.value) ? r.value : null)),
          wallTimes: rows.map((r) => r.wallTime),
        };
      });
    },

    /** Each key's last recorded value per run (null where a run has none, or its last value is not finite). */
    lastValues(runIds: number[], keys: string[]): Map<number, Record<string, number | null>> {
      const out = new Map<number, Record<string, number | null>>(runIds.map((id) => [id, Object.fromEntries(keys.map((k) => [k, null]))]));
      if (runIds.length === 0 || keys.length === 0) return out;
      const rows = db
        .prepare<(number | string)[], { runId: number; key: string; value: number | null }>(
          `SELECT m.run_id AS runId, m.key AS key, m.value AS value FROM metrics m
           JOIN (SELECT run_id, key, max(step) AS step FROM metrics
                 WHERE run_id IN (${runIds.map(() => '?').join(',')}) AND key IN (${keys.map(() => '?').join(',')}) GROUP BY run_id, key) last
             ON m.run_id = last.run_id AND m.key = last.key AND m.step = last.step`,
        )
        .all(...runIds, ...keys);
      for (const r of rows) out.get(r.runId)![r.key] = r.value !== null && Number.isFinite(r.value) ? r.value : null;
      return out;
    },

    /** Every metric key any run has recorded, with how many runs have it. */
    allKeys(): { key: string; runs: number }[] {
      return db.prepare<[], { key: string; runs: number }>('SELECT key, count(DISTINCT run_id) AS runs FROM metrics GROUP BY key ORDER BY key').all();
    },

    /** The last step with a value of `key`; 0 when there is none. */
    lastStep(runId: number, key: string): number {
      return lastStepOf.get(runId, key)?.step ?? 0;
    },

    count(runId?: number): number {
      const row = runId === undefined
        ? db.prepare('SELECT count(*) AS n FROM metrics').get()
        : db.prepare('SELECT count(*) AS n FROM metrics WHERE run_id = ?').get(runId);
      return (row as { n: number }).n;
    },
  };
}

export type MetricsRepository = ReturnType<typeof createMetricsRepository>;
