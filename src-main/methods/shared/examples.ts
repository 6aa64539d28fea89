/**
 * Files of examples, the data sets of the dataset library that ICoT-SI
 * trains on, evaluation and probes read, and instruction data may be written
 * in. Two formats, ICoT's, parsed exactly as the paper's code reads them
 * (Deng et al. 2024, `src/data.py` and `extract_answer` / `extract_cot`):
 *
 *   lines:  `input||cot #### answer`, one example per line. The line is
 *           stripped and split on `||` (exactly two parts); the answer is
 *           the text after the first `####`, stripped, commas removed; the
 *           CoT is the text before it, stripped. GSM8K-Aug writes its CoT as
 *           calculator equations (`<<16-3-4=9>> <<9*2=18>>`) and may leave it
 *           empty (`question|| #### 9`).
 *   jsonl:  one JSON object per line, `{"question", "rationale"?, "answer"}`
 *           (other fields ignored); the answer is normalised the same way.
 *
 * Blank lines are skipped, as the paper's reader skips them. Every other line
 * must parse, or the whole file is refused with an error naming the file, the
 * line and what was expected, so nothing is ever half-read.
 */
import fs from 'node:fs';
import { wellFormedText } from '../../contract/limits.ts';
import { InputFileError, forEachInputLine, forEachInputLineAsync, openInputFile } from '../input-file.ts';

/** An example: an input (the question), its chain of thought and its answer. */
export interface CotExample {
  input: string;
  /** May be empty (GSM8K-Aug has a few examples without equations). */
  cot: string;
  /** Without the `####`; commas removed. */
  answer: string;
}

export type ExampleFormat = 'lines' | 'jsonl';

/** A line that does not parse; the message reads `file:line: expected …`. */
export class DataFormatError extends Error {
  readonly file: string;
  readonly line: number;
  /** What was expected, without the location. */
  readonly expected: string;
  constructor(file: string, line: number, expected: string) {
    super(`${file}:${line}: ${expected}`);
    this.name = 'DataFormatError';
    this.file = file;
    this.line = line;
    this.expected = expected;
  }
}

/** The paper's `extract_answer` for text that has a `####`: what follows the first one, stripped, commas removed. */
export function extractAnswer(target: string): string {
  const at = target.indexOf('####');
  if (at < 0) throw new Error(`expected '####' before the answer in "${excerpt(target)}"`);
  return target.slice(at + 4).trim().replaceAll(',', '');
}

/** One line of the `input||cot #### answer` format; throws a plain Error saying what was expected. */
export function parseLine(raw: string): CotExample {
  const line = raw.trim();
  const parts = line.split('||');
  if (parts.length !== 2) {
    const found = parts.length === 1 ? 'none' : `${parts.length - 1}`;
    throw new Error(`expected one '||' between the input and the chain of thought, as in 'input||cot #### answer' (found ${found}) in "${excerpt(line)}"`);
  }
  const [input, target] = parts;
  if (input.trim() === '') throw new Error(`expected an input before '||' in "${excerpt(line)}"`);
  const at = target.indexOf('####');
  if (at < 0) throw new Error(`expected '#### answer' after the chain of thought, as in 'input||cot #### answer' in "${excerpt(line)}"`);
  const answer = target.slice(at + 4).trim().replaceAll(',', '');
  if (answer === '') throw new Error(`expected an answer after '####' in "${excerpt(line)}"`);
  return { input, cot: target.slice(0, at).trim(), answer };
}

/** One JSONL record; throws a plain Error saying what was expected. */
export function parseRecord(raw: string): CotExample {
  let record: unknown;
  try {
    record = JSON.parse(raw);
  } catch (error) {
    throw new Error(`expected a JSON object like {"question": …, "rationale": …, "answer": …} (${(error as Error).message})`);
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    throw new Error(`expected a JSON object like {"question": …, "rationale": …, "answer": …}, got ${excerpt(raw)}`);
  }
  const { question, rationale, answer } = record as Record<string, unknown>;
  if (typeof question !== 'string' || question.trim() === '') throw new Error('expected "question" to be a non-empty string');
  if (rationale !== undefined && rationale !== null && typeof rationale !== 'string') throw new Error('expected "rationale", when given, to be a string');
  const answerText = typeof answer === 'number' && Number.isFinite(answer) ? String(answer) : answer;
  if (typeof answerText !== 'string' || answerText.trim() === '') throw new Error('expected "answer" to be a non-empty string or a number');
  for (const [field, value] of [['question', question], ['rationale', rationale], ['answer', answerText]] as const) {
    if (typeof value === 'string' && !wellFormedText(value)) throw new Error(`expected "${field}" to be text without NUL characters or broken Unicode (an unpaired surrogate such as \\ud800)`);
  }
  return { input: question, cot: typeof rationale === 'string' ? rationale.trim() : '', answer: answerText.trim().replaceAll(',', '') };
}

/** The line format back: `input||cot #### answer` (an empty CoT gives `input|| #### answer`, as GSM8K-Aug writes it). */
export function formatLine(ex: CotExample): string {
  return `${ex.input}||${ex.cot} #### ${ex.answer}`;
}

/** `.jsonl`/`.json` files are JSONL; otherwise a file whose first non-blank line starts with `{` is; else the line format. */
export function detectFormat(file: string, firstLine: string | undefined): ExampleFormat {
  if (/\.jsonl?$/i.test(file)) return 'jsonl';
  return firstLine?.trimStart().startsWith('{') ? 'jsonl' : 'lines';
}

/** The first non-blank line of a file, to detect its format. */
export function firstNonBlankLine(file: string): string | undefined {
  const { fd } = openInputFile(file, 'file of examples');
  try {
    const buffer = Buffer.alloc(64 * 1024);
    const n = fs.readSync(fd, buffer, 0, buffer.length, 0);
    return buffer.subarray(0, n).toString('utf8').split('\n').find((l) => l.trim() !== '');
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Every example of a file, in order, through `fn` (no array is built; `fn`
 * answering false stops). The file must be a regular file within the limit of
 * a file of examples. Throws a DataFormatError at the first bad line (one that
 * does not parse, is not UTF-8 or is absurdly long); a file that cannot be
 * used gives an InputFileError naming it.
 */
export function forEachExample(file: string, format: ExampleFormat | undefined, fn: (ex: CotExample, lineNo: number) => boolean | void): ExampleFormat {
  const resolved = format ?? detectFormat(file, firstNonBlankLine(file));
  try {
    forEachInputLine(file, 'file of examples', exampleLines(file, resolved, fn));
  } catch (error) {
    throw asFormatError(error);
  }
  return resolved;
}

/** The same, reading off the event loop (for the server: imports, exclusion lists). */
export async function forEachExampleAsync(file: string, format: ExampleFormat | undefined, fn: (ex: CotExample, lineNo: number) => boolean | void): Promise<ExampleFormat> {
  const resolved = format ?? detectFormat(file, firstNonBlankLine(file));
  try {
    await forEachInputLineAsync(file, 'file of examples', exampleLines(file, resolved, fn));
  } catch (error) {
    throw asFormatError(error);
  }
  return resolved;
}

/** Each non-blank line parsed in `format` and handed to `fn`; a line that does not parse is a DataFormatError. */
function exampleLines(file: string, format: ExampleFormat, fn: (ex: CotExample, lineNo: number) => boolean | void) {
  const parse = format === 'jsonl' ? parseRecord : parseLine;
  return (line: string, lineNo: number): boolean | void => {
    if (line.trim() === '') return;
    let ex: CotExample;
    try {
      ex = parse(line);
    } catch (error) {
      throw new DataFormatError(file, lineNo, (error as Error).message);
    }
    return fn(ex, lineNo);
  };
}

/** A line the reader refused (bad UTF-8, too long) is a bad line like any other. */
function asFormatError(error: unknown): unknown {
  return error instanceof InputFileError && error.line !== null ? new DataFormatError(error.file, error.line, error.problem) : error;
}

/** All examples of a file (see forEachExample). */
export function readExamples(file: string, format?: ExampleFormat): CotExample[] {
  const examples: CotExample[] = [];
  forEachExample(file, format, (ex) => {
    examples.push(ex);
  });
  return examples;
}

function excerpt(text: string, max = 80): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
