/**
 * The Stepwise Internalization (ICoT-SI) curriculum, as in the paper's code
 * (Deng, Choi & Shieber 2024, "From Explicit CoT to Implicit CoT"):
 *
 * - Δ CoT tokens are removed per epoch: one more every round(batches per epoch / Δ)
 *   batches, counted from the end of the optional explicit-CoT pretraining epochs;
 * - removal side: from the left of the CoT (the paper's default) or from the right;
 * - removal smoothing λ: each training example removes an extra offset
 *   o ∈ 0..99 with P(o) ∝ e^(−λo) (leftover mass on 99); none at validation;
 * - the optimizer is reset whenever the scheduled count grows (unless the
 *   previous batch had no CoT left);
 * - once K or more tokens are scheduled, the whole CoT is removed;
 * - optionally (not in the paper), the schedule follows validation accuracy:
 *   it holds while accuracy is below one threshold (after an epoch whose
 *   validation fell short, no batch counts towards the next removal until an
 *   epoch's validation is back), and it removes the next token at once after
 *   an epoch whose accuracy reached another.
 *
 * The curriculum is data (CurriculumConfig, stored with the run); its state is
 * a small record saved in every checkpoint.
 */
import type { Rng } from '../../engine/init.ts';

export interface CurriculumConfig {
  /** Δ: CoT tokens removed per epoch. */
  removePerEpoch: number;
  /** λ of removal smoothing; Infinity turns smoothing off. */
  smoothingLambda: number;
  side: 'left' | 'right';
  /** Reset AdamW whenever the scheduled removal grows. */
  resetOptimizer: boolean;
  /** K: remove the whole CoT once this many tokens are scheduled (Infinity = never). */
  removeAllWhenBeyond: number;
  /** Epochs of plain explicit-CoT training before removal starts. */
  pretrainEpochs: number;
  /**
   * Keep positions: tokens after removed CoT keep their original position ids (the paper's
   * `--keep_position`), so a model with learned absolute positions sees them where it learned them.
   */
  keepPosition: boolean;
  /**
   * Hold the schedule while the validation accuracy of the last epoch (with the scheduled
   * removal) is below this fraction; 0 never holds (the paper's fixed schedule). Hard tokens
   * then get the batches they need, and easy ones no more than Δ gives them. A schedule
   * [[tokens, fraction], …] changes the threshold with the tokens removed: each pair holds from
   * that many tokens on (e.g. [[0, 0.5], [37, 0.25]]: 50% until 37 are removed, then 25%).
   */
  holdBelow: HoldSchedule;
  /**
   * Remove the next token at once after an epoch whose validation accuracy (with the scheduled
   * removal) reached this fraction, without waiting for the rest of round(batches/Δ); 0 never
   * does (the paper's fixed schedule). Easy tokens then take one epoch, and Δ only bounds how long
   * a hard one can take; with Δ = 0 the removal is paced by validation alone.
   */
  advanceAbove: number;
}

/** A hold threshold: one fraction, or [tokens removed, fraction] pairs by increasing tokens. */
export type HoldSchedule = number | readonly (readonly [number, number])[];

/** The hold threshold once `scheduled` tokens are removed (0: no hold). */
export function holdThreshold(hold: HoldSchedule, scheduled: number): number {
  if (typeof hold === 'number') return hold;
  let t = 0;
  for (const [from, fraction] of hold) if (scheduled >= from) t = fraction;
  return t;
}

/** Whether the schedule ever holds (some threshold above 0). */
export function everHolds(hold: HoldSchedule): boolean {
  return typeof hold === 'number' ? hold > 0 : hold.some(([, f]) => f > 0);
}

/** The highest threshold the schedule uses. */
export function highestHold(hold: HoldSchedule): number {
  return typeof hold === 'number' ? hold : Math.max(0, ...hold.map(([, f]) => f));
}

/** The paper's defaults (its 4×4 multiplication recipe). */
export const CURRICULUM_DEFAULTS: CurriculumConfig = {
  removePerEpoch: 8,
  smoothingLambda: 4,
  side: 'left',
  resetOptimizer: true,
  removeAllWhenBeyond: Infinity,
  pretrainEpochs: 0,
  keepPosition: false,
  holdBelow: 0,
  advanceAbove: 0,
};

/** Offsets o = 0..TRUNCATE−1 for removal smoothing. */
export const SMOOTHING_TRUNCATE = 100;

/** P(o) = (1 − e^(−λ))·e^(−λo) for o < 99, the leftover mass on o = 99 (the paper's compute_lambda_distribution). */
export function removalOffsetDistribution(lambda: number, truncate = SMOOTHING_TRUNCATE): Float64Array {
  const p = new Float64Array(truncate);
  if (!Number.isFinite(lambda)) {
    p[0] = 1;
    return p;
  }
  let total = 0;
  for (let o = 0; o < truncate; o++) {
    p[o] = (1 - Math.exp(-lambda)) * Math.exp(-lambda * o);
    total += p[o];
  }
  p[truncate - 1] += Math.max(0, 1 - total);
  return p;
}

/** Draw one offset from the distribution (inverse CDF). */
export function sampleOffset(dist: Float64Array, rng: Rng): number {
  let u = rng.next();
  for (let o = 0; o < dist.length; o++) {
    u -= dist[o];
    if (u < 0) return o;
  }
  return dist.length - 1;
}

/** Where the schedule stands; saved in checkpoints. */
export interface CurriculumState {
  /** CoT tokens scheduled for removal; Infinity once everything is removed. */
  scheduled: number;
  /** Batches counted towards the next removal. */
  counter: number;
  /** Whether the previous batch had no CoT left at all (then growth does not reset the optimizer). */
  allRemovedInPrevBatch: boolean;
  /** The last validation fell below `holdBelow`: batches do not count towards the next removal. (Absent in checkpoints of older runs: false.) */
  holding?: boolean;
  /** The last validation reached `advanceAbove`: the next batch removes one more token. (Absent in checkpoints of older runs: false.) */
  advanceNow?: boolean;
}

export const INITIAL_CURRICULUM_STATE: CurriculumState = { scheduled: 0, counter: 0, allRemovedInPrevBatch: false, holding: false, advanceNow: false };

export interface ScheduleStep {
  /** Scheduled removal for this batch (Infinity = all). */
  scheduled: number;
  /** The schedule grew at this batch. */
  grew: boolean;
  /** Reset the optimizer before this batch. */
  resetOptimizer: boolean;
}

/** Python 3's round(): halves go to the even neighbour (round(12.5) = 12), as in the paper's code. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Batches per removed token: round(batches per epoch / Δ) (0 = one more every batch). */
export function batchesPerRemovedToken(cfg: CurriculumConfig, batchesPerEpoch: number): number {
  return cfg.removePerEpoch > 0 ? roundHalfEven(batchesPerEpoch / cfg.removePerEpoch) : Infinity;
}

/**
 * Advance the schedule by one training batch of `epoch` (0-based). Mirrors the paper's loop:
 * the count grows when the counter has reached round(batches/Δ); the counter runs only after
 * the pretraining epochs; K or more scheduled means everything. A validation that reached
 * `advanceAbove` (state.advanceNow) grows the count at the next batch, whatever the counter says.
 */
export function advance(cfg: CurriculumConfig, state: CurriculumState, epoch: number, batchesPerEpoch: number): { state: CurriculumState; step: ScheduleStep } {
  const per = batchesPerRemovedToken(cfg, batchesPerEpoch);
  let { scheduled, counter } = state;
  const prev = scheduled;
  const now = !!state.advanceNow;
  if (epoch >= cfg.pretrainEpochs && (cfg.removePerEpoch > 0 || now) && Number.isFinite(scheduled) && !state.holding) {
    if (counter === per || per === 0 || now) {
      scheduled += 1;
      counter = 0;
    }
    counter += 1;
  }
  if (scheduled >= cfg.removeAllWhenBeyond) scheduled = Infinity;
  const grew = scheduled > prev;
  const resetOptimizer = grew && cfg.resetOptimizer && !state.allRemovedInPrevBatch;
  return { state: { ...state, scheduled, counter, ...(now && grew ? { advanceNow: false } : {}) }, step: { scheduled, grew, resetOptimizer } };
}

/**
 * Whether the schedule holds after an epoch whose validation (with `scheduled` tokens removed)
 * reached `accuracy`: below the hold threshold for `scheduled` tokens, while some of the longest CoT's `cotLength` tokens are left.
 */
export function holds(cfg: CurriculumConfig, scheduled: number, accuracy: number, cotLength: number): boolean {
  const threshold = holdThreshold(cfg.holdBelow, scheduled);
  return threshold > 0 && scheduled < cotLength && accuracy < threshold;
}

/**
 * Whether the next batch removes one more token after an epoch whose validation (with `scheduled`
 * tokens removed) reached `accuracy`: at `advanceAbove` or more, while some of the longest CoT's
 * `cotLength` tokens are left and the pretraining epochs are over (`epochsDone` of them trained).
 */
export function advancesNow(cfg: CurriculumConfig, scheduled: number, accuracy: number, cotLength: number, epochsDone: number): boolean {
  return cfg.advanceAbove > 0 && scheduled < cotLength && accuracy >= cfg.advanceAbove && epochsDone >= cfg.pretrainEpochs;
}

/** The scheduled removal after `batches` training batches (for previews and plots; a schedule that never holds). */
export function scheduleAt(cfg: CurriculumConfig, batchesPerEpoch: number, batches: number): number {
  let state = INITIAL_CURRICULUM_STATE;
  let scheduled = 0;
  for (let b = 0; b < batches; b++) {
    const r = advance(cfg, state, Math.floor(b / batchesPerEpoch), batchesPerEpoch);
    state = r.state;
    scheduled = r.step.scheduled;
  }
  return scheduled;
}

/** CoT tokens still shown, per epoch end, for plotting "tokens remaining against progress". */
export function removalCurve(cfg: CurriculumConfig, batchesPerEpoch: number, epochs: number, cotLength: number): { batch: number; removed: number; remaining: number }[] {
  const out: { batch: number; removed: number; remaining: number }[] = [];
  let state = INITIAL_CURRICULUM_STATE;
  for (let b = 0; b < epochs * batchesPerEpoch; b++) {
    const r = advance(cfg, state, Math.floor(b / batchesPerEpoch), batchesPerEpoch);
    state = r.state;
    const removed = Math.min(cotLength, r.step.scheduled);
    if (b === 0 || r.step.grew || b === epochs * batchesPerEpoch - 1) out.push({ batch: b + 1, removed, remaining: cotLength - removed });
  }
  return out;
}

/**
 * Where a hold can bite, over the schedule that never holds: for each stretch of the hold
 * schedule with a threshold above 0, the batches during which that many tokens (and fewer than
 * the whole CoT) are scheduled. A run's removal can only lag the fixed schedule inside them.
 */
export function holdSpans(cfg: CurriculumConfig, batchesPerEpoch: number, epochs: number, cotLength: number): { fromBatch: number; toBatch: number; fromRemoved: number; toRemoved: number; holdBelow: number }[] {
  const spans: { fromBatch: number; toBatch: number; fromRemoved: number; toRemoved: number; holdBelow: number }[] = [];
  if (!everHolds(cfg.holdBelow)) return spans;
  const fixed = { ...cfg, holdBelow: 0, advanceAbove: 0 };
  let state = INITIAL_CURRICULUM_STATE;
  const total = epochs * batchesPerEpoch;
  for (let b = 0; b < total; b++) {
    const r = advance(fixed, state, Math.floor(b / batchesPerEpoch), batchesPerEpoch);
    state = r.state;
    const removed = Math.min(cotLength, r.step.scheduled);
    const threshold = removed < cotLength ? holdThreshold(cfg.holdBelow, removed) : 0;
    const last = spans.at(-1);
    if (threshold > 0 && last && last.toBatch === b && last.holdBelow === threshold) {
      last.toBatch = b + 1;
      last.toRemoved = removed;
    } else if (threshold > 0) spans.push({ fromBatch: b, toBatch: b + 1, fromRemoved: removed, toRemoved: removed, holdBelow: threshold });
  }
  return spans;
}

/** An encoded example: ids with the positions of its three EOS tokens (input EOS cot EOS #### answer EOS). */
export interface LaidOut {
  ids: number[];
  labels: number[];
  eos: [number, number, number];
}

/** Where kept positions jump when a model decodes: by how many positions, after how many generated tokens. */
export interface PositionJump {
  by: number;
  after: number;
}

/**
 * The jump that reproduces removeCot's kept positions at decoding time, for an example whose CoT
 * has `cotLen` tokens, `removed` of them removed from `side`: from the left, every token from the
 * prompt's last one on moves on by the removed count; from the right, the CoT tokens kept come
 * first at their own positions, and the jump starts at the last of them.
 */
export function keptPositionJump(cotLen: number, removed: number, side: 'left' | 'right'): PositionJump {
  const n = Math.max(0, Math.min(cotLen, removed));
  return { by: n, after: side === 'left' ? 0 : cotLen - n };
}

/**
 * Remove `count` CoT tokens (Infinity = all) from one example, from the left or the right of the
 * CoT (the tokens strictly between the first and second EOS). Returns the shortened sequence and
 * which CoT positions were removed (as [from, to) in the original ids).
 */
export function removeCot(ex: LaidOut, count: number, side: 'left' | 'right'): { ids: number[]; labels: number[]; positions: number[]; removed: [number, number]; allRemoved: boolean } {
  const [first, second, third] = ex.eos;
  const cotLen = second - first - 1;
  const n = Math.max(0, Math.min(cotLen, count));
  const from = side === 'left' ? first + 1 : second - n;
  const to = from + n;
  const ids = [...ex.ids.slice(0, from), ...ex.ids.slice(to, third + 1)];
  const labels = [...ex.labels.slice(0, from), ...ex.labels.slice(to, third + 1)];
  // Kept positions, as the paper's code: from the token before the removed span on, +n. The same
  // jump decoding uses (keptPositionJump), counted from the prompt's last token, the first EOS.
  const jump = keptPositionJump(cotLen, n, side);
  const positions = ids.map((_, i) => (i >= first + jump.after ? i + jump.by : i));
  return { ids, labels, positions, removed: [from, to], allRemoved: n === cotLen };
}
