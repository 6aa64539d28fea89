/** The predictions table: every evaluated example of a run, by split and step. */
import type Database from 'better-sqlite3';
import type { Prediction } from '../contract/entities.ts';

export type { Prediction };

export type NewPrediction = Omit<Prediction, 'runId' | 'split' | 'step'>;

/** A row as SQLite returns it: `correct` is 0 or 1. */
type Row = Omit<Prediction, 'correct'> & { correct: number };

const COLUMNS = 'run_id AS runId, split, step, idx AS "index", input, target, generated, answer, correct, cot_tokens AS cotTokens';

export function createPredictionsRepository(db: Database.Database) {
  const upsert = db.prepare(
    `INSERT INTO predictions (run_id, split, step, idx, input, target, generated, answer, correct, cot_tokens)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (run_id, split, step, idx) DO UPDATE SET input = excluded.input, target = excluded.target,
       generated = excluded.generated, answer = excluded.answer, correct = excluded.correct, cot_tokens = excluded.cot_tokens`,
  );
  const page = db.prepare<[number, string, number, number, number], Row>(
    `SELECT ${COLUMNS} FROM predictions WHERE run_id = ? AND split = ? AND step = ? ORDER BY idx LIMIT ? OFFSET ?`,
  );
  const steps = db.prepare<[number, string], { step: number; total: number; correct: number }>(
    'SELECT step, count(*) AS total, sum(correct) AS correct FROM predictions WHERE run_id = ? AND split = ? GROUP BY step ORDER BY step',
  );
  const splitsOf = db.prepare<[number], { split: string }>('SELECT DISTINCT split FROM predictions WHERE run_id = ? ORDER BY split');
  const fromRow = (r: Row): Prediction => ({ ...r, correct: r.correct === 1 });
  return {
    /** Records one evaluation's predictions, all or nothing (re-recording a step replaces it). */
    record(runId: number, split: string, step: number, rows: NewPrediction[]): void {
      db.transaction(() => {
        for (const r of rows) upsert.run(runId, split, step, r.index, r.input, r.target, r.generated, r.answer, r.correct ? 1 : 0, r.cotTokens);
      })();
    },
    list(runId: number, split: string, step: number, offset = 0, limit = 100): Prediction[] {
      return page.all(runId, split, step, limit, offset).map(fromRow);
    },
    /** The splits the run has predictions for, by name. */
    splits(runId: number): string[] {
      return splitsOf.all(runId).map((r) => r.split);
    },
    /** Evaluations of a split: each step with its counts. */
    evaluations(runId: number, split: string): { step: number; total: number; correct: number }[] {
      return steps.all(runId, split);
    },
  };
}

export type PredictionsRepository = ReturnType<typeof createPredictionsRepository>;
