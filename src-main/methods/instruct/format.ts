/**
 * Instruction–answer data for instruction tuning (Bitune, LoRA): JSONL files
 * with one example per line. The prompt comes from `question`, `instruction`
 * or `prompt` (plus an optional `input`, appended after a blank line, as
 * Alpaca-style files have it); the answer from `answer`, `output` or
 * `response`. The default template is the Bitune paper's
 *
 *   Question: {question}\n\nAnswer: {answer}
 *
 * and the loss is taken on the answer tokens (and the end-of-sequence token).
 */
import { readFileSync } from 'node:fs';

export interface InstructExample {
  question: string;
  answer: string;
}

const QUESTION_KEYS = ['question', 'instruction', 'prompt'] as const;
const ANSWER_KEYS = ['answer', 'output', 'response'] as const;

/** Parse JSONL instruction data; every bad line is named by file and line number. */
export function parseInstructJsonl(text: string, file = '<data>'): InstructExample[] {
  const out: InstructExample[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${file}:${i + 1}`;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line);
    } catch (err) {
      throw new Error(`${where}: not valid JSON (${(err as Error).message})`);
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new Error(`${where}: expected a JSON object`);
    const qKey = QUESTION_KEYS.find((k) => typeof row[k] === 'string');
    const aKey = ANSWER_KEYS.find((k) => typeof row[k] === 'string' || typeof row[k] === 'number');
    if (!qKey) throw new Error(`${where}: no question (a string field ${QUESTION_KEYS.join(', ')})`);
    if (!aKey) throw new Error(`${where}: no answer (a string field ${ANSWER_KEYS.join(', ')})`);
    const input = typeof row.input === 'string' && row.input.trim() !== '' ? `\n\n${row.input}` : '';
    out.push({ question: `${row[qKey] as string}${input}`, answer: String(row[aKey]) });
  });
  if (out.length === 0) throw new Error(`${file}: holds no examples`);
  return out;
}

export function readInstructFile(file: string): InstructExample[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${file}: cannot read (${(err as Error).message})`);
  }
  return parseInstructJsonl(text, file);
}

/** The prompt as the model reads it (the default `Question: …\n\nAnswer:` template). */
export function promptText(question: string): string {
  return `Question: ${question}\n\nAnswer:`;
}

/** The answer as it follows the prompt. */
export function answerText(answer: string): string {
  return ` ${answer}`;
}
