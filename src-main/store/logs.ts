/** The log_events table: a run's log lines, read in order after a given id. */
import type Database from 'better-sqlite3';
import type { LogEvent, LogLevel } from '../contract/entities.ts';

const COLUMNS = 'id, run_id AS runId, ts, level, message';

export function createLogsRepository(db: Database.Database) {
  const insert = db.prepare<[number, number, string, string]>('INSERT INTO log_events (run_id, ts, level, message) VALUES (?, ?, ?, ?)');
  const byId = db.prepare<[number], LogEvent>(`SELECT ${COLUMNS} FROM log_events WHERE id = ?`);
  const after = db.prepare<[number, number, number], LogEvent>(
    `SELECT ${COLUMNS} FROM log_events WHERE run_id = ? AND id > ? ORDER BY id LIMIT ?`,
  );

  return {
    append(runId: number, level: LogLevel, message: string, ts: number = Date.now()): LogEvent {
      const { lastInsertRowid } = insert.run(runId, ts, level, message);
      return byId.get(Number(lastInsertRowid))!;
    },

    after(runId: number, afterId: number, limit: number): LogEvent[] {
      return after.all(runId, afterId, limit);
    },
  };
}

export type LogsRepository = ReturnType<typeof createLogsRepository>;
