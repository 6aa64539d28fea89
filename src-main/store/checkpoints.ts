/** The checkpoints table: a run's saved weights by step (the files live under the data folder). */
import type Database from 'better-sqlite3';
import type { Checkpoint, Page } from '../contract/entities.ts';

export type NewCheckpoint = Omit<Checkpoint, 'id' | 'createdAt'>;

const COLUMNS = 'id, run_id AS runId, step, path, bytes, created_at AS createdAt';

export function createCheckpointsRepository(db: Database.Database) {
  const insert = db.prepare<[number, number, string, number, number]>(
    'INSERT INTO checkpoints (run_id, step, path, bytes, created_at) VALUES (?, ?, ?, ?, ?)',
  );
  const byId = db.prepare<[number], Checkpoint>(`SELECT ${COLUMNS} FROM checkpoints WHERE id = ?`);
  const byRun = db.prepare<[number], Checkpoint>(`SELECT ${COLUMNS} FROM checkpoints WHERE run_id = ? ORDER BY step`);
  const newest = db.prepare<[number, number], Checkpoint>(`SELECT ${COLUMNS} FROM checkpoints ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`);
  const total = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM checkpoints');

  return {
    add(checkpoint: NewCheckpoint, now: number = Date.now()): Checkpoint {
      const { lastInsertRowid } = insert.run(checkpoint.runId, checkpoint.step, checkpoint.path, checkpoint.bytes, now);
      return byId.get(Number(lastInsertRowid))!;
    },

    list(runId: number): Checkpoint[] {
      return byRun.all(runId);
    },

    /** Every run's checkpoints, newest first. */
    recent(limit: number, offset: number): Page<Checkpoint> {
      return { items: newest.all(limit, offset), total: total.get()!.n };
    },
  };
}

export type CheckpointsRepository = ReturnType<typeof createCheckpointsRepository>;
