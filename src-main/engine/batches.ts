/**
 * Token batches for causal-LM training: examples (ids and labels, −100 =
 * no loss) are shuffled each epoch with a seeded generator, right-padded to
 * the step's sequence length and stacked [B, T]. The position in the data
 * (epoch, index) is part of a checkpoint, so a resumed run sees exactly the
 * batches it would have seen.
 */
import { Rng } from './init.ts';

export interface TokenExample {
  ids: number[];
  /** Same length as ids; −100 where no loss is taken. Defaults to ids. */
  labels?: number[];
}

export interface Batch {
  inputIds: BigInt64Array; // [B, T]
  labels: BigInt64Array; // [B, T]
  /** Position ids [B, T] when not 0..T−1 (ICoT-SI's kept positions). */
  positionIds?: BigInt64Array;
  /** T, when shorter than the step's longest sequence (a source may pad each batch only as far as it needs). */
  seq?: number;
  /** Tokens that carry a loss (labels ≠ −100). */
  tokens: number;
  epoch: number;
  /** Reset the optimizer before this batch (e.g. ICoT-SI when its removal schedule grows). */
  resetOptimizer?: boolean;
  /** Figures a method reports with the step (e.g. CoT tokens scheduled for removal). */
  info?: Record<string, number>;
}

export interface BatchPosition {
  epoch: number;
  /** Index of the next example within this epoch's order. */
  index: number;
}

/** Anything the trainer can pull batches from. */
export interface BatchSource {
  readonly batchesPerEpoch: number;
  next(): Batch;
  position(): BatchPosition;
  seek(pos: BatchPosition): void;
}

/** The order of `n` examples in `epoch`: one seeded generator per epoch, so seeking needs no replay. */
export function epochOrder(n: number, seed: number, epoch: number): number[] {
  const rng = new Rng((seed * 1_000_003 + epoch) >>> 0);
  const order = [...Array(n).keys()];
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

export class TokenBatches implements BatchSource {
  readonly batchesPerEpoch: number;
  private order: number[] = [];
  private pos: BatchPosition = { epoch: 0, index: 0 };
  private readonly examples: TokenExample[];
  private readonly batch: number;
  private readonly seq: number;
  private readonly seed: number;
  private readonly padId: number;

  constructor(examples: TokenExample[], opts: { batch: number; seq: number; seed: number; padId?: number }) {
    if (examples.length < opts.batch) throw new Error(`need at least ${opts.batch} examples for a batch of ${opts.batch}, got ${examples.length}`);
    examples.forEach((e, i) => {
      if (e.ids.length > opts.seq) throw new Error(`example ${i} has ${e.ids.length} tokens, more than the sequence length ${opts.seq}`);
      if (e.labels && e.labels.length !== e.ids.length) throw new Error(`example ${i} has ${e.ids.length} ids but ${e.labels.length} labels`);
    });
    this.examples = examples;
    this.batch = opts.batch;
    this.seq = opts.seq;
    this.seed = opts.seed;
    this.padId = opts.padId ?? 0;
    this.batchesPerEpoch = Math.floor(examples.length / opts.batch); // the last partial batch is dropped
    this.shuffle();
  }

  private shuffle(): void {
    this.order = epochOrder(this.examples.length, this.seed, this.pos.epoch);
  }

  next(): Batch {
    if (this.pos.index + this.batch > this.batchesPerEpoch * this.batch) {
      this.pos = { epoch: this.pos.epoch + 1, index: 0 };
      this.shuffle();
    }
    const { batch: B, seq: T } = this;
    const inputIds = new BigInt64Array(B * T).fill(BigInt(this.padId));
    const labels = new BigInt64Array(B * T).fill(-100n);
    let tokens = 0;
    for (let b = 0; b < B; b++) {
      const ex = this.examples[this.order[this.pos.index + b]];
      for (let t = 0; t < ex.ids.length; t++) {
        inputIds[b * T + t] = BigInt(ex.ids[t]);
        const l = ex.labels ? ex.labels[t] : ex.ids[t];
        labels[b * T + t] = BigInt(l);
        if (t > 0 && l !== -100) tokens++;
      }
    }
    const epoch = this.pos.epoch;
    this.pos = { epoch, index: this.pos.index + B };
    return { inputIds, labels, tokens, epoch };
  }

  position(): BatchPosition {
    return { ...this.pos };
  }

  seek(pos: BatchPosition): void {
    if (!Number.isInteger(pos.epoch) || !Number.isInteger(pos.index) || pos.epoch < 0 || pos.index < 0 || pos.index > this.examples.length) {
      throw new Error(`invalid data position ${JSON.stringify(pos)}`);
    }
    this.pos = { ...pos };
    this.shuffle();
  }
}
