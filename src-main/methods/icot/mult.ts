/**
 * Multi-digit multiplication in the ICoT papers' format, e.g. 4×4:
 *
 *   7 6 9 2 * 1 6 3 6||7 6 9 2 0 + 0 2 0 8 7 1 ( 7 8 9 0 8 1 ) + 0 0 1 0 9 8 0 ( 7 8 0 1 7 0 1 ) + 0 0 0 2 0 8 7 1 #### 7 8 0 3 7 8 8 1
 *
 * Every number is written least-significant digit first, one space between
 * digits. For a = a₀…a_{A−1} and b = b₀…b_{B−1} the CoT is one partial
 * product per digit of b: a·bᵢ·10ⁱ written with A+1+i digits (i leading
 * zeros for the shift, then a·bᵢ zero-padded to A+1), joined by ` + `. After
 * every partial product but the first and the last comes the running sum
 * p₀+…+pᵢ in ` ( … ) `, written with the same A+1+i digits (it always fits).
 * The answer is a·b zero-padded to A+B digits. Operands never start with a
 * zero (their most significant digit is 1–9), as in the paper's files.
 *
 * Generated splits are drawn from one seeded stream of distinct pairs, test
 * first, then valid, then train, so the evaluation sets do not change when
 * only the training count does, and no pair is in two splits.
 */
import fs from 'node:fs';
import { Rng } from '../../engine/init.ts';
import { DataFormatError, forEachExample, forEachExampleAsync, formatLine } from '../shared/examples.ts';
import type { CotExample } from '../shared/examples.ts';

/** Digits, least significant first. */
export type Digits = number[];

export const MULT_SPLITS = ['train', 'valid', 'test'] as const;
export type MultSplit = (typeof MULT_SPLITS)[number];
export type MultCounts = Record<MultSplit, number>;

/** Operands longer than this are refused (the arithmetic is exact at any length; this bounds file sizes). */
export const MAX_MULT_DIGITS = 30;

/** The input of a pair, `a₀ … a_{A−1} * b₀ … b_{B−1}`; also the key that identifies the pair. */
export function multInput(a: Digits, b: Digits): string {
  return `${a.join(' ')} * ${b.join(' ')}`;
}

/** x·d, d one digit, as `width` digits. */
function timesDigit(x: Digits, d: number, shift: number, width: number): Digits {
  const out = new Array<number>(width).fill(0);
  let carry = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i] * d + carry;
    out[shift + i] = v % 10;
    carry = Math.floor(v / 10);
  }
  if (carry > 0) out[shift + x.length] = carry;
  return out;
}

/** x + y into `width` digits (the caller guarantees it fits). */
function add(x: Digits, y: Digits, width: number): Digits {
  const out = new Array<number>(width).fill(0);
  let carry = 0;
  for (let i = 0; i < width; i++) {
    const v = (x[i] ?? 0) + (y[i] ?? 0) + carry;
    out[i] = v % 10;
    carry = v >= 10 ? 1 : 0;
  }
  return out;
}

/** The example for a × b, exactly as the paper writes it. */
export function multExample(a: Digits, b: Digits): CotExample {
  const A = a.length;
  const B = b.length;
  const parts: string[] = [];
  let sum: Digits = [];
  for (let i = 0; i < B; i++) {
    const width = A + 1 + i;
    const partial = timesDigit(a, b[i], i, width);
    sum = add(sum, partial, width);
    let part = partial.join(' ');
    if (i > 0 && i < B - 1) part += ` ( ${sum.join(' ')} )`;
    parts.push(part);
  }
  const answer = add(sum, [], A + B);
  return { input: multInput(a, b), cot: parts.join(' + '), answer: answer.join(' ') };
}

const OPERAND = /^\d( \d)*$/;

/** The pair of a multiplication input (`7 6 9 2 * 1 6 3 6`), or null if the text is not one. Extra whitespace is tolerated. */
export function parseMultInput(input: string): { a: Digits; b: Digits } | null {
  const sides = input.trim().split(/\s+\*\s+/);
  if (sides.length !== 2) return null;
  const [left, right] = sides.map((s) => s.split(/\s+/).join(' '));
  if (!OPERAND.test(left) || !OPERAND.test(right)) return null;
  return { a: left.split(' ').map(Number), b: right.split(' ').map(Number) };
}

/** How many distinct A-digit × B-digit pairs there are (no leading zeros). */
export function multPairCount(digitsA: number, digitsB: number): number {
  return 81 * 10 ** (digitsA - 1 + digitsB - 1);
}

function randomOperand(rng: Rng, digits: number): Digits {
  const x = new Array<number>(digits);
  for (let i = 0; i < digits - 1; i++) x[i] = Math.floor(rng.next() * 10);
  x[digits - 1] = 1 + Math.floor(rng.next() * 9); // the most significant digit is never 0
  return x;
}

export interface MultOptions {
  digitsA: number;
  digitsB: number;
  counts: MultCounts;
  seed: number;
  /** Inputs (`multInput` keys) that must not be generated, e.g. every pair of the paper's test set. */
  exclude?: ReadonlySet<string>;
}

/** Why a request cannot be met, or null. */
export function multOptionsProblem({ digitsA, digitsB, counts, exclude }: MultOptions): string | null {
  for (const [name, d] of [['digitsA', digitsA], ['digitsB', digitsB]] as const) {
    if (!Number.isInteger(d) || d < 1 || d > MAX_MULT_DIGITS) return `${name} must be an integer from 1 to ${MAX_MULT_DIGITS} (got ${d})`;
  }
  for (const split of MULT_SPLITS) {
    if (!Number.isInteger(counts[split]) || counts[split] < 0) return `the ${split} count must be a non-negative integer (got ${counts[split]})`;
  }
  const total = counts.train + counts.valid + counts.test;
  if (total === 0) return 'ask for at least one example';
  let excluded = 0;
  for (const key of exclude ?? []) {
    const pair = parseMultInput(key);
    if (pair && pair.a.length === digitsA && pair.b.length === digitsB) excluded++;
  }
  const available = multPairCount(digitsA, digitsB) - excluded;
  if (total > available) {
    return `${total} examples were asked for, but there are only ${available} distinct ${digitsA}×${digitsB} pairs${excluded ? ` once the ${excluded} excluded ones are left out` : ''}`;
  }
  return null;
}

/**
 * The examples, split by split in the order test, valid, train, each a
 * distinct pair not in `exclude`. Deterministic in (digits, counts, seed).
 */
export function* generateMult(opts: MultOptions): Generator<{ split: MultSplit; example: CotExample }> {
  const problem = multOptionsProblem(opts);
  if (problem) throw new Error(problem);
  const { digitsA, digitsB, counts, seed, exclude } = opts;
  const rng = new Rng(seed >>> 0);
  const seen = new Set<string>();
  for (const split of ['test', 'valid', 'train'] as const) {
    for (let n = 0; n < counts[split]; ) {
      const a = randomOperand(rng, digitsA);
      const b = randomOperand(rng, digitsB);
      const key = multInput(a, b);
      if (seen.has(key) || exclude?.has(key)) continue;
      seen.add(key);
      n++;
      yield { split, example: multExample(a, b) };
    }
  }
}

/** `AxB` (e.g. `4x4`, also `4×4`) → digits, or null. */
export function parseDigits(text: string): { digitsA: number; digitsB: number } | null {
  const m = /^(\d+)\s*[x×]\s*(\d+)$/i.exec(text.trim());
  if (!m) return null;
  const digitsA = Number(m[1]);
  const digitsB = Number(m[2]);
  if (digitsA < 1 || digitsB < 1 || digitsA > MAX_MULT_DIGITS || digitsB > MAX_MULT_DIGITS) return null;
  return { digitsA, digitsB };
}

/**
 * The pairs of every example in `files` (either format), as `multInput` keys,
 * to exclude from generation. A line whose input is not a multiplication is
 * an error naming the file and line.
 */
export function readMultPairs(files: readonly string[]): Set<string> {
  const pairs = new Set<string>();
  for (const file of files) forEachExample(file, undefined, collectPair(file, pairs));
  return pairs;
}

/** The same, reading off the event loop (the server's datasets.generateMult). */
export async function readMultPairsAsync(files: readonly string[]): Promise<Set<string>> {
  const pairs = new Set<string>();
  for (const file of files) await forEachExampleAsync(file, undefined, collectPair(file, pairs));
  return pairs;
}

function collectPair(file: string, pairs: Set<string>) {
  return (ex: CotExample, lineNo: number): void => {
    const pair = parseMultInput(ex.input);
    if (!pair) throw new DataFormatError(file, lineNo, `expected a multiplication input like '7 6 9 2 * 1 6 3 6' (digits least significant first) before '||', got "${ex.input.slice(0, 60)}"`);
    pairs.add(multInput(pair.a, pair.b));
  };
}

/**
 * Writes the generated splits in the paper's line format, one file per split
 * with a non-zero count. Each file is written beside its target and renamed
 * into place only when every split is complete, so a failure leaves no
 * partial file. Yields to the event loop between chunks; `onProgress` hears
 * (examples written, total).
 */
export async function writeMultFiles(
  opts: MultOptions,
  files: Partial<Record<MultSplit, string>>,
  onProgress?: (done: number, total: number) => void,
): Promise<void> {
  const total = opts.counts.train + opts.counts.valid + opts.counts.test;
  for (const split of MULT_SPLITS) {
    if (opts.counts[split] > 0 && !files[split]) throw new Error(`no file given for the ${opts.counts[split]} ${split} examples`);
  }
  const partial = (file: string) => `${file}.partial-${process.pid}`;
  const fds = new Map<MultSplit, number>();
  const chunks = new Map<MultSplit, string[]>();
  const flush = (split: MultSplit) => {
    const lines = chunks.get(split);
    if (lines?.length) fs.writeSync(fds.get(split)!, `${lines.join('\n')}\n`);
    chunks.set(split, []);
  };
  try {
    for (const split of MULT_SPLITS) if (opts.counts[split] > 0) fds.set(split, fs.openSync(partial(files[split]!), 'w'));
    let done = 0;
    for (const { split, example } of generateMult(opts)) {
      const lines = chunks.get(split) ?? [];
      lines.push(formatLine(example));
      chunks.set(split, lines);
      if (lines.length >= 4096) flush(split);
      if (++done % 16384 === 0) {
        onProgress?.(done, total);
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    for (const split of fds.keys()) flush(split);
    for (const [split, fd] of fds) {
      fs.closeSync(fd);
      fds.delete(split);
    }
    for (const split of MULT_SPLITS) if (opts.counts[split] > 0) fs.renameSync(partial(files[split]!), files[split]!);
    onProgress?.(total, total);
  } finally {
    for (const fd of fds.values()) fs.closeSync(fd);
    for (const split of MULT_SPLITS) if (files[split]) fs.rmSync(partial(files[split]!), { force: true });
  }
}
