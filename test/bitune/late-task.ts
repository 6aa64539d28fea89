/**
 * A generated instruction task whose answer depends on the last word of the
 * prompt: five digits, then which one to give (`first`, `last`, `max`, `min`),
 * e.g. `3 7 1 9 4 then max` → `9`. Read causally, the digits are seen before
 * the model knows what will be asked of them; Bitune's bidirectional prompt
 * pass lets them see it. Written as JSONL {question, answer}, and as a
 * multiple-choice file over the ten digits.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Rng } from '../../src-main/engine/init.ts';

const OPS = ['first', 'last', 'max', 'min'] as const;

export function lateTask(n: number, seed: number): { question: string; answer: string }[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const digits = Array.from({ length: 5 }, () => Math.floor(rng.next() * 10));
    const op = OPS[Math.floor(rng.next() * OPS.length)];
    const answer = op === 'first' ? digits[0] : op === 'last' ? digits[4] : op === 'max' ? Math.max(...digits) : Math.min(...digits);
    return { question: `${digits.join(' ')} then ${op}`, answer: String(answer) };
  });
}

/** train/valid/test JSONL files and a multiple-choice test file in `dir`. */
export function writeLateTask(dir: string, counts: { train: number; valid: number; test: number }, seed = 0): Record<'train' | 'valid' | 'test' | 'choices', string> {
  mkdirSync(dir, { recursive: true });
  const all = lateTask(counts.train + counts.valid + counts.test, seed);
  const files = { train: path.join(dir, 'train.jsonl'), valid: path.join(dir, 'valid.jsonl'), test: path.join(dir, 'test.jsonl'), choices: path.join(dir, 'choices.jsonl') };
  const lines = (xs: object[]) => `${xs.map((x) => JSON.stringify(x)).join('\n')}\n`;
  const test = all.slice(counts.train + counts.valid);
  writeFileSync(files.train, lines(all.slice(0, counts.train)));
  writeFileSync(files.valid, lines(all.slice(counts.train, counts.train + counts.valid)));
  writeFileSync(files.test, lines(test));
  writeFileSync(files.choices, lines(test.map((x) => ({ question: x.question, choices: [...'0123456789'], answer: Number(x.answer) }))));
  return files;
}
