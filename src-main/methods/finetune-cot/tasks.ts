/**
 * Fine-tune-CoT tasks: questions with gold answers, a split, an answer type,
 * and (where a file has them) a teacher's rationale each.
 *
 * Files read, each refused whole with `file:line: expected …` at the first bad line:
 *   - the paper's task files (`tasks/<task>.jsonl`): `{"id", "split", "question",
 *     "answer", "teacher": {"model", "prompt", "rationale", "answer_prompt", "answer"}}`;
 *   - its teacher files (`teacher/<task>.jsonl`): `{"question", "rationale",
 *     "answer_prompt", "teacher_answer", "answer"}`, no split (all 'train');
 *   - any JSONL with "question" and "answer" ("rationale", "split" optional);
 *   - CSV with a header naming "question" and "answer" columns ("rationale",
 *     "split" optional), RFC 4180 quoting.
 * The answer type comes from the task's name when it is one of the paper's,
 * else it must be given.
 */
import path from 'node:path';
import { quote, wellFormedText } from '../../contract/limits.ts';
import { InputFileError, readInputTextSync } from '../input-file.ts';
import { ANSWER_TYPES, type AnswerType } from './answers.ts';

export interface TeacherRecord {
  model: string;
  rationale: string;
  /** Stage 2's trigger as the teacher was given it. */
  answerPrompt: string;
  /** The teacher's answer (after cleansing). */
  answer: string;
}

export interface TaskExample {
  question: string;
  answer: string;
  split: string;
  /** A reference rationale (a generator's, or the file's). */
  rationale?: string;
  teacher?: TeacherRecord;
}

export interface Task {
  /** e.g. 'coin_flip'. */
  name: string;
  answerType: AnswerType;
  examples: TaskExample[];
}

/** The paper's tasks and their answer types (file names of ../shared/data/fine-tune-cot). */
export const PAPER_TASKS: Record<string, AnswerType> = {
  addsub: 'number', multiarith: 'number', single_eq: 'number', singleeq: 'number', svamp: 'number', gsm8k: 'number', aqua: 'choice',
  coin_flip: 'yes-no', strategyqa: 'yes-no', date_understanding: 'choice', tracking_shuffled_objects: 'choice', shuffled_objects: 'choice',
  commonsensqa: 'choice', last_letter_concatenation: 'text', last_letters: 'text',
};

export class TaskFileError extends Error {
  constructor(file: string, line: number, expected: string) {
    super(line > 0 ? `${file}:${line}: ${expected}` : `${file}: ${expected}`);
    this.name = 'TaskFileError';
  }
}

export function answerTypeOf(name: string, given?: AnswerType): AnswerType {
  const t = given ?? PAPER_TASKS[name];
  if (!t) throw new Error(`task "${name}" is not one of the paper's (${Object.keys(PAPER_TASKS).join(', ')}); give its answer type (${ANSWER_TYPES.join(', ')})`);
  return t;
}

/** Reads a task file (JSONL or CSV, by extension; else by its first character). */
export function readTaskFile(file: string, opts: { name?: string; answerType?: AnswerType } = {}): Task {
  let text: string;
  try {
    text = readInputTextSync(file, 'task file');
  } catch (err) {
    if (err instanceof InputFileError) throw new TaskFileError(file, err.line ?? 0, err.problem);
    throw err;
  }
  return parseTask(file, text, opts);
}

/** A task file's text (read by the caller, e.g. off the event loop) as a task; `file` names it in errors and picks the format by extension. */
export function parseTask(file: string, text: string, opts: { name?: string; answerType?: AnswerType } = {}): Task {
  const name = opts.name ?? path.basename(file).replace(/\.(jsonl|json|csv)$/i, '');
  const answerType = answerTypeOf(name, opts.answerType);
  const csv = /\.csv$/i.test(file) || (!/\.jsonl?$/i.test(file) && !text.trimStart().startsWith('{'));
  const examples = csv ? csvExamples(file, text) : jsonlExamples(file, text);
  if (examples.length === 0) throw new TaskFileError(file, 0, 'expected at least one example, found none');
  return { name, answerType, examples };
}

function str(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return typeof v === 'string' ? v : undefined;
}

function jsonlExamples(file: string, text: string): TaskExample[] {
  const out: TaskExample[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    let r: Record<string, unknown>;
    try {
      r = JSON.parse(line) as Record<string, unknown>;
    } catch (err) {
      throw new TaskFileError(file, i + 1, `expected a JSON object with "question" and "answer" (${quote((err as Error).message)})`);
    }
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new TaskFileError(file, i + 1, 'expected a JSON object with "question" and "answer"');
    const question = str(r.question);
    const answer = str(r.answer);
    if (!question?.trim()) throw new TaskFileError(file, i + 1, 'expected "question" to be a non-empty string');
    if (!answer?.trim()) throw new TaskFileError(file, i + 1, 'expected "answer" to be a non-empty string or a number');
    if (!wellFormedText(question) || !wellFormedText(answer)) throw new TaskFileError(file, i + 1, 'expected "question" and "answer" to be text without NUL characters or broken Unicode (an unpaired surrogate such as \\ud800)');
    const ex: TaskExample = { question, answer: answer.trim(), split: str(r.split) ?? 'train' };
    const t = r.teacher as Record<string, unknown> | undefined;
    if (t && typeof t === 'object') {
      // The paper's task files: the teacher's completion nested.
      const rationale = str(t.rationale);
      if (rationale === undefined) throw new TaskFileError(file, i + 1, 'expected "teacher.rationale" to be a string');
      ex.teacher = { model: str(t.model) ?? 'unknown', rationale, answerPrompt: str(t.answer_prompt) ?? '', answer: str(t.answer) ?? '' };
    } else if (r.teacher_answer !== undefined) {
      // The paper's teacher files: flat.
      const rationale = str(r.rationale);
      if (rationale === undefined) throw new TaskFileError(file, i + 1, 'expected "rationale" to be a string');
      ex.teacher = { model: 'text-davinci-002', rationale, answerPrompt: str(r.answer_prompt) ?? '', answer: str(r.teacher_answer) ?? '' };
    } else if (r.rationale !== undefined && r.rationale !== null) {
      const rationale = str(r.rationale);
      if (rationale === undefined) throw new TaskFileError(file, i + 1, 'expected "rationale", when given, to be a string');
      ex.rationale = rationale;
    }
    out.push(ex);
  });
  return out;
}

/** RFC 4180 rows: quoted fields may hold commas, newlines and doubled quotes. Answers [row, line of its start]. */
export function parseCsv(text: string): { cells: string[]; line: number }[] {
  const rows: { cells: string[]; line: number }[] = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else {
        if (c === '\n') line++;
        cell += c;
      }
    } else if (c === '"' && cell === '') quoted = true;
    else if (c === ',') {
      cells.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      cells.push(cell);
      if (cells.some((x) => x !== '')) rows.push({ cells, line: rowLine });
      cells = [];
      cell = '';
      line++;
      rowLine = line;
    } else cell += c;
  }
  if (quoted) throw new Error(`line ${rowLine}: a quoted field is never closed`);
  cells.push(cell);
  if (cells.some((x) => x !== '')) rows.push({ cells, line: rowLine });
  return rows;
}

function csvExamples(file: string, text: string): TaskExample[] {
  let rows: { cells: string[]; line: number }[];
  try {
    rows = parseCsv(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new TaskFileError(file, 0, (err as Error).message);
  }
  if (rows.length === 0) throw new TaskFileError(file, 0, 'expected a header row naming "question" and "answer" columns');
  const header = rows[0].cells.map((h) => h.trim().toLowerCase());
  const col = (n: string) => header.indexOf(n);
  if (col('question') < 0 || col('answer') < 0) {
    throw new TaskFileError(file, rows[0].line, `expected a header naming "question" and "answer" columns, got ${quote(header.map((h) => JSON.stringify(h)).join(', '))}`);
  }
  return rows.slice(1).map(({ cells, line }) => {
    if (cells.length !== header.length) throw new TaskFileError(file, line, `expected ${header.length} fields as in the header, got ${cells.length}`);
    const question = cells[col('question')];
    const answer = cells[col('answer')].trim();
    if (!question.trim()) throw new TaskFileError(file, line, 'expected a non-empty question');
    if (!answer) throw new TaskFileError(file, line, 'expected a non-empty answer');
    const ex: TaskExample = { question, answer, split: col('split') >= 0 ? cells[col('split')].trim() || 'train' : 'train' };
    if (col('rationale') >= 0 && cells[col('rationale')].trim()) ex.rationale = cells[col('rationale')];
    return ex;
  });
}

/** One split's examples. */
export function splitOf(task: Task, split: string): TaskExample[] {
  return task.examples.filter((e) => e.split === split);
}
