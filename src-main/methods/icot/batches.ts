/**
 * Training batches for the ICoT family of recipes. Every example is laid out
 * `input EOS cot EOS #### answer EOS`; what the model is shown depends on the
 * recipe: explicit CoT shows everything, No CoT removes the whole CoT
 * (`input EOS EOS #### answer EOS`), and ICoT-SI removes what its curriculum
 * schedules plus each example's smoothing offset. Batches are right-padded to
 * their longest example rounded up to a multiple of `bucket`, so as the CoT
 * disappears, steps run on shorter graphs.
 */
import type { AuxTargets } from '../../engine/aux-probe.ts';
import { epochOrder, type Batch, type BatchPosition, type BatchSource } from '../../engine/batches.ts';
import { Rng } from '../../engine/init.ts';
import { advance, INITIAL_CURRICULUM_STATE, removalOffsetDistribution, removeCot, sampleOffset, type CurriculumConfig, type CurriculumState, type LaidOut } from './curriculum.ts';
import type { RunningSumTargets } from './running-sum.ts';

export type Recipe = 'cot' | 'nocot' | 'icot-si';

export interface CurriculumBatchesOptions {
  batch: number;
  /** Longest sequence the step is compiled for. */
  maxSeq: number;
  seed: number;
  padId: number;
  recipe: Recipe;
  curriculum: CurriculumConfig;
  /** Pad lengths up to a multiple of this (bounds the number of compiled graphs). */
  bucket?: number;
  /** The running-sum probe's targets: each batch carries them as `aux` (ĉ of example i: `sums[i]`). */
  runningSum?: { targets: RunningSumTargets; sums: number[][] };
}

/** A batch, with the running-sum probe's targets when the recipe has the probe. */
export type CurriculumBatch = Batch & { aux?: AuxTargets };

export class CurriculumBatches implements BatchSource {
  readonly batchesPerEpoch: number;
  private readonly examples: LaidOut[];
  private readonly opts: CurriculumBatchesOptions;
  private readonly offsets: Float64Array;
  /** CoT tokens of the longest CoT: the schedule may run past it, the removal cannot. */
  private readonly longestCot: number;
  private order: number[];
  private pos: BatchPosition = { epoch: 0, index: 0 };
  curriculum: CurriculumState = { ...INITIAL_CURRICULUM_STATE };

  constructor(examples: LaidOut[], opts: CurriculumBatchesOptions) {
    if (examples.length < opts.batch) throw new Error(`need at least ${opts.batch} training examples for a batch of ${opts.batch}, got ${examples.length}`);
    let longest = 0;
    let longestCot = 0;
    for (const e of examples) {
      // not Math.max(...): large data overflows the stack
      longest = Math.max(longest, e.eos[2] + 1);
      longestCot = Math.max(longestCot, e.eos[1] - e.eos[0] - 1);
    }
    this.longestCot = longestCot;
    if (longest > opts.maxSeq) throw new Error(`the longest training example has ${longest} tokens, more than the model's context of ${opts.maxSeq}`);
    this.examples = examples;
    this.opts = opts;
    this.batchesPerEpoch = Math.floor(examples.length / opts.batch);
    this.offsets = removalOffsetDistribution(opts.curriculum.smoothingLambda);
    this.order = epochOrder(examples.length, opts.seed, 0);
  }

  next(): CurriculumBatch {
    const { batch: B, padId, recipe, curriculum: cfg } = this.opts;
    if (this.pos.index + B > this.batchesPerEpoch * B) {
      this.pos = { epoch: this.pos.epoch + 1, index: 0 };
      this.order = epochOrder(this.examples.length, this.opts.seed, this.pos.epoch);
    }
    const epoch = this.pos.epoch;
    let scheduled = 0;
    let resetOptimizer = false;
    if (recipe === 'icot-si') {
      const r = advance(cfg, this.curriculum, epoch, this.batchesPerEpoch);
      this.curriculum = r.state;
      scheduled = r.step.scheduled;
      resetOptimizer = r.step.resetOptimizer;
    } else if (recipe === 'nocot') {
      scheduled = Infinity;
    }
    // Offsets come from a generator of their own per batch, so resuming needs no generator state.
    const rng = new Rng((this.opts.seed * 7_919 + epoch * 104_729 + this.pos.index) >>> 0);
    const smoothing = recipe === 'icot-si' && Number.isFinite(cfg.smoothingLambda) && epoch >= cfg.pretrainEpochs;
    const rows = [];
    const picked: number[] = [];
    let allRemoved = true;
    let removedTotal = 0;
    for (let b = 0; b < B; b++) {
      picked.push(this.order[this.pos.index + b]);
      const ex = this.examples[picked[b]];
      const count = scheduled + (smoothing ? sampleOffset(this.offsets, rng) : 0);
      const r = removeCot(ex, count, cfg.side);
      allRemoved &&= r.allRemoved;
      removedTotal += r.removed[1] - r.removed[0];
      rows.push(r);
    }
    if (recipe === 'icot-si') this.curriculum = { ...this.curriculum, allRemovedInPrevBatch: allRemoved };
    const bucket = this.opts.bucket ?? 8;
    const longest = Math.max(...rows.map((r) => r.ids.length));
    const T = Math.min(this.opts.maxSeq, Math.ceil(longest / bucket) * bucket);
    const inputIds = new BigInt64Array(B * T).fill(BigInt(padId));
    const labels = new BigInt64Array(B * T).fill(-100n);
    const keep = cfg.keepPosition && recipe !== 'cot';
    const positionIds = keep ? new BigInt64Array(B * T) : undefined;
    let tokens = 0;
    rows.forEach((r, b) => {
      for (let t = 0; t < r.ids.length; t++) {
        inputIds[b * T + t] = BigInt(r.ids[t]);
        labels[b * T + t] = BigInt(r.labels[t]);
        if (t > 0 && r.labels[t] !== -100) tokens++;
      }
      if (positionIds) {
        // Padding continues from the last kept position (never attended to by real tokens, capped to the context).
        const last = r.positions[r.positions.length - 1];
        for (let t = 0; t < T; t++) positionIds[b * T + t] = BigInt(Math.min(this.opts.maxSeq - 1, t < r.positions.length ? r.positions[t] : last + 1 + t - r.positions.length));
      }
    });
    this.pos = { epoch, index: this.pos.index + B };
    const probe = this.opts.runningSum;
    return {
      inputIds, labels, positionIds, seq: T, tokens, epoch, resetOptimizer,
      ...(probe ? { aux: probe.targets.batch(rows.map((r, b) => ({ ids: r.ids, sums: probe.sums[picked[b]] })), T) } : {}),
      // The schedule counts on past the longest CoT (it goes on until remove-all or the end); what it removes stops there.
      info: { scheduledRemoval: Number.isFinite(scheduled) ? Math.min(scheduled, this.longestCot) : -1, meanCotRemoved: removedTotal / B, allCotRemoved: allRemoved ? 1 : 0 },
    };
  }

  position(): BatchPosition {
    return { ...this.pos };
  }

  seek(pos: BatchPosition): void {
    this.pos = { ...pos };
    this.order = epochOrder(this.examples.length, this.opts.seed, pos.epoch);
  }
}
