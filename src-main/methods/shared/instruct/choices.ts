/**
 * Zero-shot multiple-choice files, as the benchmarks ship them (one JSON
 * object per line), normalised to a question, its choices and the gold index:
 *
 * - generic / MMLU-style: {question, choices: [..], answer: index | letter};
 * - PIQA: {goal, sol1, sol2, label};
 * - ARC / CommonsenseQA: {question: {stem, choices: [{label, text}]}, answerKey}
 *   (or question as a string with a top-level choices of the same shape);
 * - SIQA: {context, question, answerA, answerB, answerC, label: "1".."3"}.
 *
 * Scoring follows lm-evaluation-harness: each choice is a continuation
 * ` {choice}` of the prompt, scored by its summed log-likelihood; `acc` takes
 * the best sum, `acc_norm` the best sum divided by the continuation's length
 * in bytes.
 */
import { readInputTextSync } from '../../input-file.ts';

export interface ChoiceQuestion {
  question: string;
  choices: string[];
  gold: number;
}

const LETTERS = 'ABCDEFGHIJ';

function goldIndex(v: unknown, labels: string[] | null, n: number, where: string): number {
  let i: number;
  if (typeof v === 'number') i = v;
  else if (typeof v === 'string' && labels && labels.includes(v)) i = labels.indexOf(v);
  else if (typeof v === 'string' && /^[A-J]$/.test(v.trim())) i = LETTERS.indexOf(v.trim());
  else if (typeof v === 'string' && /^\d+$/.test(v.trim())) i = Number(v.trim());
  else throw new Error(`${where}: cannot read the answer ${JSON.stringify(v)}`);
  if (!(Number.isInteger(i) && i >= 0 && i < n)) throw new Error(`${where}: the answer ${JSON.stringify(v)} is not one of the ${n} choices`);
  return i;
}

/** One line of any supported shape. */
export function normaliseChoice(row: Record<string, unknown>, where: string): ChoiceQuestion {
  // PIQA
  if (typeof row.goal === 'string' && typeof row.sol1 === 'string' && typeof row.sol2 === 'string') {
    return { question: row.goal, choices: [row.sol1, row.sol2], gold: goldIndex(row.label, null, 2, where) };
  }
  // SIQA (labels 1-based)
  if (typeof row.answerA === 'string' && typeof row.answerB === 'string') {
    const choices = [row.answerA, row.answerB, ...(typeof row.answerC === 'string' ? [row.answerC] : [])];
    const label = Number(row.label);
    if (!(Number.isInteger(label) && label >= 1 && label <= choices.length)) throw new Error(`${where}: SIQA label ${JSON.stringify(row.label)} must be 1..${choices.length}`);
    const context = typeof row.context === 'string' ? `${row.context} ` : '';
    return { question: `${context}${String(row.question ?? '')}`.trim(), choices, gold: label - 1 };
  }
  // ARC / CommonsenseQA
  const q = row.question;
  const nested = typeof q === 'object' && q !== null ? (q as Record<string, unknown>) : null;
  const labelled = (nested?.choices ?? row.choices) as unknown;
  if (Array.isArray(labelled) && labelled.length && typeof labelled[0] === 'object') {
    const cs = labelled as { label?: string; text?: string }[];
    if (!cs.every((c) => typeof c.text === 'string')) throw new Error(`${where}: every choice needs a text`);
    const stem = nested ? nested.stem : q;
    if (typeof stem !== 'string') throw new Error(`${where}: no question text`);
    return { question: stem, choices: cs.map((c) => c.text!), gold: goldIndex(row.answerKey ?? row.answer ?? row.label, cs.map((c) => String(c.label)), cs.length, where) };
  }
  // Generic / MMLU
  if (typeof q === 'string' && Array.isArray(row.choices) && row.choices.every((c) => typeof c === 'string')) {
    const choices = row.choices as string[];
    return { question: q, choices, gold: goldIndex(row.answer ?? row.label ?? row.answerKey, null, choices.length, where) };
  }
  throw new Error(`${where}: not a multiple-choice question (expected {question, choices, answer}, PIQA, ARC, CommonsenseQA or SIQA fields)`);
}

export function parseChoiceJsonl(text: string, file = '<data>'): ChoiceQuestion[] {
  const out: ChoiceQuestion[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${file}:${i + 1}`;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (err) {
      throw new Error(`${where}: not valid JSON (${(err as Error).message})`);
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new Error(`${where}: expected a JSON object`);
    const q = normaliseChoice(row as Record<string, unknown>, where);
    if (q.choices.length < 2) throw new Error(`${where}: needs at least two choices`);
    out.push(q);
  });
  if (out.length === 0) throw new Error(`${file}: holds no questions`);
  return out;
}

export function readChoiceFile(file: string): ChoiceQuestion[] {
  let text: string;
  // A FIFO, a device or an oversized file is refused before it is opened; bad UTF-8 is named by its line.
  text = readInputTextSync(file, 'evaluation file');
  return parseChoiceJsonl(text, file);
}

export interface ChoiceScores {
  /** Summed log-likelihood of each choice's continuation. */
  logprob: number[];
  /** Each continuation's length in bytes (UTF-8), for acc_norm. */
  bytes: number[];
}

/** acc and acc_norm of one question. */
export function choiceCorrect(q: ChoiceQuestion, s: ChoiceScores): { acc: boolean; accNorm: boolean; predicted: number } {
  const argmax = (xs: number[]) => xs.reduce((best, x, i) => (x > xs[best] ? i : best), 0);
  const predicted = argmax(s.logprob);
  const norm = argmax(s.logprob.map((lp, i) => lp / Math.max(1, s.bytes[i])));
  return { acc: predicted === q.gold, accNorm: norm === q.gold, predicted };
}
