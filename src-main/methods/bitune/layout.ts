/**
 * How an instruction example becomes one Bitune batch row (see graph.ts):
 *
 *   columns 0..Pm−1      the prompt without its last token, left-padded
 *   columns Pm..Pm+S−1   the last prompt token, the answer and EOS, right-padded
 *
 * Positions count the prompt's tokens from 0 and go on through the answer;
 * labels are −100 except on the answer and EOS, so the loss is the answer's.
 * Pm and S are rounded up to multiples of 8 so few graph shapes are compiled.
 * The batches shuffle each epoch with the engine's seeded order and report the
 * learned mixing coefficients α with every step (from `info`).
 */
import { epochOrder, type Batch, type BatchPosition, type BatchSource } from '../../engine/batches.ts';

export interface TokenPair {
  /** The prompt's tokens (at least one). */
  prompt: number[];
  /** The answer's tokens, EOS included (empty when scoring a bare prompt). */
  answer: number[];
}

export const roundUp8 = (n: number) => Math.max(8, Math.ceil(n / 8) * 8);

/** The static lengths fitting every pair: Pm ≥ longest prompt − 1, S ≥ longest answer + 1. */
export function shapeFor(pairs: TokenPair[], maxPositions: number): { prefix: number; rest: number } {
  let p = 1;
  let s = 2;
  for (const x of pairs) {
    p = Math.max(p, x.prompt.length - 1);
    s = Math.max(s, x.answer.length + 1);
  }
  const prefix = roundUp8(p);
  const rest = roundUp8(s);
  if (p + s > maxPositions) throw new Error(`the longest prompt (${p + 1} tokens) and answer (${s - 1} tokens) need ${p + s} positions; the model has ${maxPositions}`);
  return prefix + rest > maxPositions ? { prefix: p, rest: maxPositions - p } : { prefix, rest };
}

/** Rows laid out as [B, Pm + S]: ids, labels (−100 but on the answer) and positions. */
export function layRows(pairs: TokenPair[], prefix: number, rest: number, padId: number): { ids: BigInt64Array; labels: BigInt64Array; positions: BigInt64Array } {
  const T = prefix + rest;
  const B = pairs.length;
  const ids = new BigInt64Array(B * T).fill(BigInt(padId));
  const labels = new BigInt64Array(B * T).fill(-100n);
  const positions = new BigInt64Array(B * T);
  pairs.forEach((x, b) => {
    const L = x.prompt.length - 1;
    if (L < 0) throw new Error(`example ${b} has an empty prompt`);
    if (L > prefix || x.answer.length + 1 > rest) throw new Error(`example ${b} (${x.prompt.length} prompt and ${x.answer.length} answer tokens) does not fit ${prefix} + ${rest} columns`);
    const row = b * T;
    for (let j = 0; j < L; j++) {
      ids[row + prefix - L + j] = BigInt(x.prompt[j]);
      positions[row + prefix - L + j] = BigInt(j);
    }
    const tail = [x.prompt[L], ...x.answer];
    for (let k = 0; k < rest; k++) {
      positions[row + prefix + k] = BigInt(L + k);
      if (k < tail.length) ids[row + prefix + k] = BigInt(tail[k]);
      if (k >= 1 && k < tail.length) labels[row + prefix + k] = BigInt(tail[k]);
    }
  });
  return { ids, labels, positions };
}

export class InstructBatches implements BatchSource {
  readonly batchesPerEpoch: number;
  readonly prefix: number;
  readonly rest: number;
  /** Figures reported with each step (the current α per layer). */
  info: () => Record<string, number> | undefined = () => undefined;
  private order: number[] = [];
  private pos: BatchPosition = { epoch: 0, index: 0 };
  private readonly pairs: TokenPair[];
  private readonly batch: number;
  private readonly seed: number;
  private readonly padId: number;

  constructor(pairs: TokenPair[], opts: { batch: number; seed: number; padId: number; prefix: number; rest: number }) {
    if (pairs.length < opts.batch) throw new Error(`need at least ${opts.batch} training examples for a batch of ${opts.batch}, got ${pairs.length}`);
    this.pairs = pairs;
    this.batch = opts.batch;
    this.seed = opts.seed;
    this.padId = opts.padId;
    this.prefix = opts.prefix;
    this.rest = opts.rest;
    this.batchesPerEpoch = Math.floor(pairs.length / opts.batch);
    this.order = epochOrder(pairs.length, this.seed, 0);
  }

  next(): Batch {
    if (this.pos.index + this.batch > this.batchesPerEpoch * this.batch) {
      this.pos = { epoch: this.pos.epoch + 1, index: 0 };
      this.order = epochOrder(this.pairs.length, this.seed, this.pos.epoch);
    }
    const rows = this.order.slice(this.pos.index, this.pos.index + this.batch).map((i) => this.pairs[i]);
    const { ids, labels, positions } = layRows(rows, this.prefix, this.rest, this.padId);
    let tokens = 0;
    for (const r of rows) tokens += r.answer.length;
    const epoch = this.pos.epoch;
    this.pos = { epoch, index: this.pos.index + this.batch };
    return { inputIds: ids, labels, positionIds: positions, tokens, epoch, info: this.info() };
  }

  position(): BatchPosition {
    return { ...this.pos };
  }

  seek(pos: BatchPosition): void {
    if (!Number.isInteger(pos.epoch) || !Number.isInteger(pos.index) || pos.epoch < 0 || pos.index < 0 || pos.index > this.pairs.length) {
      throw new Error(`invalid data position ${JSON.stringify(pos)}`);
    }
    this.pos = { ...pos };
    this.order = epochOrder(this.pairs.length, this.seed, pos.epoch);
  }
}
