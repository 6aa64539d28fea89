/**
 * Generated instruction tasks on which reading the whole prompt matters, for
 * setting Bitune against LoRA (scripts/bitune-experiment.ts). Each is a
 * function of (count, seed) alone: a mulberry32 stream (engine/init.ts's Rng)
 * draws the examples in order, so the same seed writes the same files.
 *
 * - `late`: five digits, then which one to give (late-task.ts): `3 7 1 9 4 then max` → `9`.
 * - `lookup`, a question after its context: six letter–digit pairs with
 *   distinct letters (a–h), then the letter asked for: `c 7 a 3 f 1 b 9 e 4 d 2 ? a` → `3`.
 * - `choice`, multiple choice with the options after the question: `largest of A 3 B 7 C 1 D 9` → `D`
 *   (largest or smallest, four distinct digits).
 * - `choice-late`, the same with the question after the options: `A 3 B 7 C 1 D 9 largest` → `D`.
 *   Read causally, an option cannot know what it is compared for.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Rng } from '../../src-main/engine/init.ts';
import { lateTask } from './late-task.ts';

export const READING_TASKS = ['late', 'lookup', 'choice', 'choice-late'] as const;
export type ReadingTask = (typeof READING_TASKS)[number];

interface Example {
  question: string;
  answer: string;
}

/** k distinct items of `from`, in a random order. */
function draw<T>(rng: Rng, from: readonly T[], k: number): T[] {
  const pool = [...from];
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng.next() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, k);
}

const DIGITS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const LETTERS = [...'abcdefgh'];
const OPTIONS = [...'ABCD'];

export function lookupTask(n: number, seed: number): Example[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const keys = draw(rng, LETTERS, 6);
    const values = keys.map(() => Math.floor(rng.next() * 10));
    const asked = Math.floor(rng.next() * 6);
    return { question: `${keys.map((k, i) => `${k} ${values[i]}`).join(' ')} ? ${keys[asked]}`, answer: String(values[asked]) };
  });
}

export function choiceTask(n: number, seed: number, questionLast = false): Example[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const digits = draw(rng, DIGITS, 4);
    const op = rng.next() < 0.5 ? 'largest' : 'smallest';
    const target = op === 'largest' ? Math.max(...digits) : Math.min(...digits);
    const options = OPTIONS.map((o, i) => `${o} ${digits[i]}`).join(' ');
    return { question: questionLast ? `${options} ${op}` : `${op} of ${options}`, answer: OPTIONS[digits.indexOf(target)] };
  });
}

export function readingTask(task: ReadingTask, n: number, seed: number): Example[] {
  switch (task) {
    case 'late':
      return lateTask(n, seed);
    case 'lookup':
      return lookupTask(n, seed);
    case 'choice':
      return choiceTask(n, seed);
    case 'choice-late':
      return choiceTask(n, seed, true);
  }
}

/** train.jsonl and test.jsonl in `dir`: the first `train` examples of the stream, then `test` more. */
export function writeReadingTask(task: ReadingTask, dir: string, counts: { train: number; test: number }, seed = 0): { train: string; test: string } {
  mkdirSync(dir, { recursive: true });
  const all = readingTask(task, counts.train + counts.test, seed);
  const files = { train: path.join(dir, 'train.jsonl'), test: path.join(dir, 'test.jsonl') };
  const lines = (xs: Example[]) => `${xs.map((x) => JSON.stringify(x)).join('\n')}\n`;
  writeFileSync(files.train, lines(all.slice(0, counts.train)));
  writeFileSync(files.test, lines(all.slice(counts.train)));
  return files;
}
