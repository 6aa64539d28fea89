/**
 * Fine-tune-CoT's tables: rationale generation jobs (a task split, a
 * teacher's description without its key, the settings) and every sample a
 * teacher wrote, kept or filtered and why. A sample's key is
 * (generation, question index, sample index): a resumed job cannot store one twice.
 */
import type Database from 'better-sqlite3';
import type { FtCotGeneration, FtCotRationale } from '../contract/areas/finetune.ts';
import type { JsonObject, RunStatus } from '../contract/entities.ts';

/** A generation job as stored: the contract's view less the counts, which come from its samples. */
export type GenerationRow = Omit<FtCotGeneration, 'done' | 'kept' | 'filtered' | 'byReason' | 'promptTokens' | 'completionTokens' | 'teacherAccuracy'>;

export type RationaleRow = FtCotRationale;

export interface GenerationCounts {
  done: number;
  kept: number;
  /** Samples whose answer was right (kept or duplicate). */
  right: number;
  byReason: Record<string, number>;
  promptTokens: number;
  completionTokens: number;
}

const GEN_COLUMNS = `id, name, dataset_id AS datasetId, split, task, answer_type AS answerType, teacher, settings, status, total, error,
  output_dataset_id AS outputDatasetId, created_at AS createdAt, started_at AS startedAt, finished_at AS finishedAt`;
const RAT_COLUMNS = `generation_id AS generationId, idx AS "index", sample, question, gold, prompt, rationale, answer_prompt AS answerPrompt,
  answer_text AS answerText, answer, kept, reason, temperature, prompt_tokens AS promptTokens, completion_tokens AS completionTokens, created_at AS createdAt`;

type GenDbRow = Omit<GenerationRow, 'teacher' | 'settings'> & { teacher: string; settings: string };
type RatDbRow = Omit<RationaleRow, 'kept'> & { kept: number };

const toGeneration = (r: GenDbRow): GenerationRow => ({ ...r, teacher: JSON.parse(r.teacher) as JsonObject, settings: JSON.parse(r.settings) as JsonObject });
const toRationale = (r: RatDbRow): RationaleRow => ({ ...r, kept: r.kept === 1 });

export type NewGeneration = Pick<GenerationRow, 'name' | 'datasetId' | 'split' | 'task' | 'answerType' | 'teacher' | 'settings' | 'total'>;
export type NewRationale = Omit<RationaleRow, 'generationId' | 'createdAt'>;

export function createRationalesRepository(db: Database.Database) {
  const insertGen = db.prepare(
    `INSERT INTO ftcot_generations (name, dataset_id, split, task, answer_type, teacher, settings, total, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const genById = db.prepare<[number], GenDbRow>(`SELECT ${GEN_COLUMNS} FROM ftcot_generations WHERE id = ?`);
  const genPage = db.prepare<[number, number], GenDbRow>(`SELECT ${GEN_COLUMNS} FROM ftcot_generations ORDER BY id DESC LIMIT ? OFFSET ?`);
  const genTotal = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM ftcot_generations');
  const genByStatus = db.prepare<[string], GenDbRow>(`SELECT ${GEN_COLUMNS} FROM ftcot_generations WHERE status = ?`);
  const setStatus = db.prepare<[string, string | null, number, number, number]>(
    `UPDATE ftcot_generations SET status = ?, error = ?,
       started_at = CASE WHEN ? = 1 THEN coalesce(started_at, strftime('%s','now') * 1000) ELSE started_at END,
       finished_at = CASE WHEN ? = 1 THEN strftime('%s','now') * 1000 ELSE NULL END WHERE id = ?`,
  );
  const setOutput = db.prepare<[number, number]>('UPDATE ftcot_generations SET output_dataset_id = ? WHERE id = ?');
  const deleteGen = db.prepare<[number]>('DELETE FROM ftcot_generations WHERE id = ?');
  const insertRat = db.prepare(
    `INSERT INTO ftcot_rationales (generation_id, idx, sample, question, gold, prompt, rationale, answer_prompt, answer_text, answer, kept, reason,
       temperature, prompt_tokens, completion_tokens, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const counts = db.prepare<[number], { reason: string; n: number; kept: number; p: number; c: number }>(
    `SELECT reason, count(*) AS n, sum(kept) AS kept, sum(prompt_tokens) AS p, sum(completion_tokens) AS c FROM ftcot_rationales WHERE generation_id = ? GROUP BY reason`,
  );
  const doneOf = db.prepare<[number], { index: number; sample: number; rationale: string; kept: number }>(
    'SELECT idx AS "index", sample, rationale, kept FROM ftcot_rationales WHERE generation_id = ? ORDER BY idx, sample',
  );
  const keptOf = db.prepare<[number], RatDbRow>(`SELECT ${RAT_COLUMNS} FROM ftcot_rationales WHERE generation_id = ? AND kept = 1 ORDER BY idx, sample`);

  return {
    add(g: NewGeneration, now = Date.now()): GenerationRow {
      const { lastInsertRowid } = insertGen.run(g.name, g.datasetId, g.split, g.task, g.answerType, JSON.stringify(g.teacher), JSON.stringify(g.settings), g.total, now);
      return toGeneration(genById.get(Number(lastInsertRowid))!);
    },
    get(id: number): GenerationRow | undefined {
      const r = genById.get(id);
      return r && toGeneration(r);
    },
    list(limit: number, offset: number): { items: GenerationRow[]; total: number } {
      return { items: genPage.all(limit, offset).map(toGeneration), total: genTotal.get()!.n };
    },
    withStatus(status: RunStatus): GenerationRow[] {
      return genByStatus.all(status).map(toGeneration);
    },
    setStatus(id: number, status: RunStatus, error: string | null = null): GenerationRow {
      const finished = status === 'completed' || status === 'failed' || status === 'cancelled';
      setStatus.run(status, error, status === 'running' ? 1 : 0, finished ? 1 : 0, id);
      return toGeneration(genById.get(id)!);
    },
    setOutput(id: number, datasetId: number): void {
      setOutput.run(datasetId, id);
    },
    delete(id: number): void {
      deleteGen.run(id);
    },
    addSample(generationId: number, r: NewRationale, now = Date.now()): void {
      insertRat.run(generationId, r.index, r.sample, r.question, r.gold, r.prompt, r.rationale, r.answerPrompt, r.answerText, r.answer, r.kept ? 1 : 0, r.reason,
        r.temperature, r.promptTokens, r.completionTokens, now);
    },
    counts(generationId: number): GenerationCounts {
      const out: GenerationCounts = { done: 0, kept: 0, right: 0, byReason: {}, promptTokens: 0, completionTokens: 0 };
      for (const r of counts.all(generationId)) {
        out.done += r.n;
        out.kept += r.kept;
        if (r.reason === 'kept' || r.reason === 'duplicate') out.right += r.n;
        out.byReason[r.reason] = r.n;
        out.promptTokens += r.p;
        out.completionTokens += r.c;
      }
      return out;
    },
    /** Samples stored so far, by question index (what a resumed job skips). */
    done(generationId: number): Map<number, { sample: number; rationale: string; kept: boolean }[]> {
      const m = new Map<number, { sample: number; rationale: string; kept: boolean }[]>();
      for (const r of doneOf.iterate(generationId)) {
        let xs = m.get(r.index);
        if (!xs) m.set(r.index, (xs = []));
        xs.push({ sample: r.sample, rationale: r.rationale, kept: r.kept === 1 });
      }
      return m;
    },
    kept(generationId: number): RationaleRow[] {
      return keptOf.all(generationId).map(toRationale);
    },
    /** A page of samples: all, kept only, or filtered only; optionally one reason. */
    page(generationId: number, filter: { kept?: boolean; reason?: string }, offset: number, limit: number): { items: RationaleRow[]; total: number } {
      const where = ['generation_id = ?'];
      const args: (number | string)[] = [generationId];
      if (filter.kept !== undefined) {
        where.push('kept = ?');
        args.push(filter.kept ? 1 : 0);
      }
      if (filter.reason !== undefined) {
        where.push('reason = ?');
        args.push(filter.reason);
      }
      const w = where.join(' AND ');
      const items = db.prepare<(number | string)[], RatDbRow>(`SELECT ${RAT_COLUMNS} FROM ftcot_rationales WHERE ${w} ORDER BY idx, sample LIMIT ? OFFSET ?`).all(...args, limit, offset);
      const total = db.prepare<(number | string)[], { n: number }>(`SELECT count(*) AS n FROM ftcot_rationales WHERE ${w}`).get(...args)!.n;
      return { items: items.map(toRationale), total };
    },
  };
}

export type RationalesRepository = ReturnType<typeof createRationalesRepository>;
