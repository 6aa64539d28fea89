/**
 * Coconut's training batches: each epoch's examples, shuffled with the
 * engine's seeded order, laid out at the epoch's stage (curriculum.ts),
 * right-padded to the longest of the batch. The first batch of a new stage
 * asks the trainer for an optimizer reset when the curriculum says so. Every
 * example of a stage holds the same number of thoughts, so a batch does too.
 */
import { epochOrder, type Batch, type BatchPosition, type BatchSource } from '../../engine/batches.ts';
import type { SeqTokenizer } from '../../engine/tokenizers/seq-tokenizer.ts';
import { stageAt, type CoconutCurriculum } from './curriculum.ts';
import { encodeAtStage, type EncodedExample, type Markers, type TokenizedExample } from './layout.ts';

export class CoconutBatches implements BatchSource {
  readonly batchesPerEpoch: number;
  private pos: BatchPosition = { epoch: 0, index: 0 };
  private order: number[] = [];
  private readonly laidOut = new Map<number, EncodedExample[]>();
  private readonly examples: TokenizedExample[];
  private readonly opts: { batch: number; maxSeq: number; seed: number; tok: SeqTokenizer; markers: Markers; curriculum: CoconutCurriculum };

  constructor(examples: TokenizedExample[], opts: { batch: number; maxSeq: number; seed: number; tok: SeqTokenizer; markers: Markers; curriculum: CoconutCurriculum }) {
    this.examples = examples;
    this.opts = opts;
    if (examples.length < opts.batch) throw new Error(`need at least ${opts.batch} training examples for a batch of ${opts.batch}, got ${examples.length}`);
    this.batchesPerEpoch = Math.floor(examples.length / opts.batch);
    this.order = epochOrder(examples.length, opts.seed, 0);
  }

  private atStage(stage: number): EncodedExample[] {
    let laid = this.laidOut.get(stage);
    if (!laid) {
      const { tok, markers, curriculum, maxSeq } = this.opts;
      laid = this.examples.map((ex, i) => {
        const e = encodeAtStage(tok, markers, ex, curriculum, stage);
        if (e.ids.length > maxSeq) throw new Error(`training example ${i + 1} has ${e.ids.length} tokens at stage ${stage}, more than the model's ${maxSeq} positions`);
        return e;
      });
      this.laidOut.clear(); // one stage at a time
      this.laidOut.set(stage, laid);
    }
    return laid;
  }

  next(): Batch {
    const B = this.opts.batch;
    if (this.pos.index + B > this.batchesPerEpoch * B) {
      this.pos = { epoch: this.pos.epoch + 1, index: 0 };
      this.order = epochOrder(this.examples.length, this.opts.seed, this.pos.epoch);
    }
    const { epoch, index } = this.pos;
    const stage = stageAt(this.opts.curriculum, epoch);
    const laid = this.atStage(stage);
    const rows = Array.from({ length: B }, (_, b) => laid[this.order[index + b]]);
    let T = 2;
    for (const r of rows) T = Math.max(T, r.ids.length);
    const inputIds = new BigInt64Array(B * T).fill(BigInt(this.opts.tok.padId));
    const labels = new BigInt64Array(B * T).fill(-100n);
    let tokens = 0;
    rows.forEach((r, b) => {
      r.ids.forEach((id, t) => {
        inputIds[b * T + t] = BigInt(id);
        labels[b * T + t] = BigInt(r.labels[t]);
        if (t > 0 && r.labels[t] !== -100) tokens++;
      });
    });
    const startsStage = index === 0 && epoch > 0 && stageAt(this.opts.curriculum, epoch - 1) !== stage;
    this.pos = { epoch, index: index + B };
    return {
      inputIds, labels, seq: T, tokens, epoch,
      resetOptimizer: startsStage && this.opts.curriculum.resetOptimizer,
      info: { stage, thoughts: rows[0].thoughts },
    };
  }

  position(): BatchPosition {
    return { ...this.pos };
  }

  seek(pos: BatchPosition): void {
    if (!Number.isInteger(pos.epoch) || !Number.isInteger(pos.index) || pos.epoch < 0 || pos.index < 0 || pos.index > this.examples.length) throw new Error(`invalid data position ${JSON.stringify(pos)}`);
    this.pos = { ...pos };
    this.order = epochOrder(this.examples.length, this.opts.seed, pos.epoch);
  }
}
