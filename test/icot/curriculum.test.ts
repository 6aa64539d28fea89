import { describe, expect, it } from 'vitest';
import { Rng } from '../../src-main/engine/init.ts';
import { CurriculumBatches } from '../../src-main/methods/icot/batches.ts';
import {
  advance, advancesNow, batchesPerRemovedToken, CURRICULUM_DEFAULTS, holds, holdThreshold, INITIAL_CURRICULUM_STATE, removalCurve, removalOffsetDistribution,
  keptPositionJump, removeCot, roundHalfEven, sampleOffset, scheduleAt, type CurriculumConfig, type LaidOut,
} from '../../src-main/methods/icot/curriculum.ts';

const EOS = 99;
/** input [1 2 3] EOS cot [10..10+n) EOS #### [50] answer [7 8] EOS */
function laid(cotLen: number): LaidOut {
  const ids = [1, 2, 3, EOS, ...Array.from({ length: cotLen }, (_, i) => 10 + i), EOS, 50, 7, 8, EOS];
  const second = 4 + cotLen;
  return { ids, labels: ids.map((x, i) => (i < 3 ? -100 : x)), eos: [3, second, second + 4] };
}

const cfg = (over: Partial<CurriculumConfig> = {}): CurriculumConfig => ({ ...CURRICULUM_DEFAULTS, ...over });

describe('ICoT-SI curriculum', () => {
  it('a hold schedule [[0, 0.5], [37, 0.25]] holds below 50% until 37 tokens are removed, then below 25%, and never once the CoT is gone', () => {
    const c = cfg({ holdBelow: [[0, 0.5], [37, 0.25]] });
    expect([0, 36, 37, 45].map((n) => holdThreshold(c.holdBelow, n))).toEqual([0.5, 0.5, 0.25, 0.25]);
    expect(holds(c, 36, 0.4, 46)).toBe(true);
    expect(holds(c, 37, 0.4, 46)).toBe(false);
    expect(holds(c, 37, 0.2, 46)).toBe(true);
    expect(holds(c, 46, 0.2, 46)).toBe(false);
    expect(holdThreshold(0.3, 100)).toBe(0.3);
  });

  it('removal smoothing draws offsets with P(0)=0.98 at λ=4, leftover mass on 99', () => {
    const p = removalOffsetDistribution(4);
    expect(p).toHaveLength(100);
    expect(p[0]).toBeCloseTo(1 - Math.exp(-4), 12);
    expect(p[0]).toBeCloseTo(0.9817, 4);
    expect(p[1]).toBeCloseTo((1 - Math.exp(-4)) * Math.exp(-4), 12);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    const flat = removalOffsetDistribution(0);
    expect(flat[99]).toBe(1); // λ = 0: (1 − e⁰) = 0 everywhere, all mass left over on 99
    const off = removalOffsetDistribution(Infinity);
    expect(off[0]).toBe(1);
    const rng = new Rng(3);
    const counts = new Array(3).fill(0);
    for (let i = 0; i < 20000; i++) counts[Math.min(2, sampleOffset(p, rng))]++;
    expect(counts[0] / 20000).toBeCloseTo(0.9817, 2);
    expect(counts[1] / 20000).toBeCloseTo(0.018, 2);
  });

  it('removes one more token every round(batches per epoch / Δ) batches, with Python rounding', () => {
    expect(roundHalfEven(12.5)).toBe(12);
    expect(roundHalfEven(13.5)).toBe(14);
    expect(roundHalfEven(2.4)).toBe(2);
    expect(batchesPerRemovedToken(cfg({ removePerEpoch: 8 }), 100)).toBe(12);
    // batch b (0-based) is scheduled floor(b / 12): 8 tokens by the end of the first epoch.
    expect(scheduleAt(cfg(), 100, 1)).toBe(0);
    expect(scheduleAt(cfg(), 100, 12)).toBe(0);
    expect(scheduleAt(cfg(), 100, 13)).toBe(1);
    expect(scheduleAt(cfg(), 100, 100)).toBe(8);
    expect(scheduleAt(cfg(), 100, 200)).toBe(16);
    // More removals than batches: one more token every batch.
    expect(scheduleAt(cfg({ removePerEpoch: 40 }), 10, 10)).toBe(10);
  });

  it('resets the optimizer exactly when the schedule grows, unless the previous batch had no CoT left', () => {
    let state = INITIAL_CURRICULUM_STATE;
    const resets: number[] = [];
    for (let b = 0; b < 40; b++) {
      const r = advance(cfg(), state, Math.floor(b / 10), 10); // 10 batches/epoch, Δ 8 → every round(1.25) = 1 batch
      state = r.state;
      if (r.step.resetOptimizer) resets.push(b);
      expect(r.step.resetOptimizer).toBe(r.step.grew);
    }
    expect(resets[0]).toBe(1);
    expect(resets).toHaveLength(39);
    const noReset = advance(cfg(), { scheduled: 3, counter: 1, allRemovedInPrevBatch: true }, 0, 10);
    expect(noReset.step.grew).toBe(true);
    expect(noReset.step.resetOptimizer).toBe(false);
    expect(advance(cfg({ resetOptimizer: false }), { scheduled: 3, counter: 1, allRemovedInPrevBatch: false }, 0, 10).step.resetOptimizer).toBe(false);
  });

  it('removes everything once K or more tokens are scheduled, and nothing during explicit-CoT pretraining', () => {
    expect(scheduleAt(cfg({ removeAllWhenBeyond: 5 }), 100, 48)).toBe(3);
    expect(scheduleAt(cfg({ removeAllWhenBeyond: 5 }), 100, 61)).toBe(Infinity);
    expect(scheduleAt(cfg({ pretrainEpochs: 2 }), 100, 200)).toBe(0);
    expect(scheduleAt(cfg({ pretrainEpochs: 2 }), 100, 300)).toBe(8);
    const curve = removalCurve(cfg(), 100, 3, 20);
    expect(curve[0]).toEqual({ batch: 1, removed: 0, remaining: 20 });
    expect(curve.at(-1)).toEqual({ batch: 300, removed: 20, remaining: 0 });
  });

  it('holds (optionally) while validation is below holdBelow: no batch counts towards the next removal, and counting resumes where it stopped', () => {
    const c = cfg({ removePerEpoch: 1, holdBelow: 0.9 }); // 10 batches per epoch: one more token every 10
    expect([holds(c, 2, 0.5, 8), holds(c, 2, 0.9, 8), holds(c, 8, 0.5, 8), holds(cfg(), 2, 0, 8)]).toEqual([true, false, false, false]);
    let state = { ...INITIAL_CURRICULUM_STATE, scheduled: 2, counter: 4 };
    for (let b = 0; b < 30; b++) state = advance(c, { ...state, holding: true }, 5, 10).state;
    expect(state).toEqual({ scheduled: 2, counter: 4, allRemovedInPrevBatch: false, holding: true, advanceNow: false });
    const grown: number[] = [];
    state = { ...state, holding: false };
    for (let b = 0; b < 20; b++) {
      const r = advance(c, state, 5, 10);
      state = r.state;
      if (r.step.grew) grown.push(b);
    }
    expect(grown).toEqual([6, 16]); // 6 more batches finish the 10 begun before the hold
    expect(state.scheduled).toBe(4);
  });

  it('advances (optionally) at advanceAbove: the next batch removes one more token and counting starts again; with Δ = 0 nothing else removes', () => {
    const c = cfg({ removePerEpoch: 1, advanceAbove: 0.9, pretrainEpochs: 2 }); // 10 batches per epoch: one more token every 10
    expect([advancesNow(c, 2, 0.95, 8, 3), advancesNow(c, 2, 0.9, 8, 3), advancesNow(c, 2, 0.85, 8, 3), advancesNow(c, 8, 1, 8, 3), advancesNow(c, 2, 1, 8, 1), advancesNow(cfg(), 2, 1, 8, 3)])
      .toEqual([true, true, false, false, false, false]); // not below it, with nothing left, during pretraining, or when off
    let r = advance(c, { ...INITIAL_CURRICULUM_STATE, scheduled: 2, counter: 4, advanceNow: true }, 5, 10);
    expect(r.step).toEqual({ scheduled: 3, grew: true, resetOptimizer: true });
    expect(r.state).toEqual({ scheduled: 3, counter: 1, allRemovedInPrevBatch: false, holding: false, advanceNow: false });
    const grown: number[] = [];
    for (let b = 0; b < 20; b++) {
      r = advance(c, r.state, 5, 10);
      if (r.step.grew) grown.push(b);
    }
    expect(grown).toEqual([9, 19]); // a full round(batches/Δ) after the advance
    // Δ = 0: only an advance removes a token.
    const paced = cfg({ removePerEpoch: 0, advanceAbove: 0.9 });
    let state = { ...INITIAL_CURRICULUM_STATE, scheduled: 1 };
    for (let b = 0; b < 50; b++) state = advance(paced, state, 5, 10).state;
    expect(state.scheduled).toBe(1);
    expect(advance(paced, { ...state, advanceNow: true }, 5, 10).state.scheduled).toBe(2);
  });

  it('removes CoT tokens from the left or the right, never the input or the answer', () => {
    const ex = laid(6);
    const left = removeCot(ex, 2, 'left');
    expect(left.ids).toEqual([1, 2, 3, EOS, 12, 13, 14, 15, EOS, 50, 7, 8, EOS]);
    expect(left.removed).toEqual([4, 6]);
    expect(left.allRemoved).toBe(false);
    expect(removeCot(ex, 2, 'right').ids).toEqual([1, 2, 3, EOS, 10, 11, 12, 13, EOS, 50, 7, 8, EOS]);
    const all = removeCot(ex, Infinity, 'left');
    expect(all.ids).toEqual([1, 2, 3, EOS, EOS, 50, 7, 8, EOS]);
    expect(all.allRemoved).toBe(true);
    expect(removeCot(ex, 100, 'right').ids).toEqual(all.ids);
    expect(all.labels.slice(0, 3)).toEqual([-100, -100, -100]);
  });

  it('kept positions: from the first EOS on, tokens keep the position ids they had before removal', () => {
    const ex = laid(6);
    expect(removeCot(ex, 0, 'left').positions).toEqual(ex.ids.map((_, i) => i));
    const left = removeCot(ex, 2, 'left'); // [1 2 3 EOS 12 13 14 15 EOS 50 7 8 EOS]
    expect(left.positions).toEqual([0, 1, 2, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    const all = removeCot(ex, Infinity, 'left'); // [1 2 3 EOS EOS 50 7 8 EOS]
    expect(all.positions).toEqual([0, 1, 2, 9, 10, 11, 12, 13, 14]);
    const examples = Array.from({ length: 8 }, () => laid(6));
    const b = new CurriculumBatches(examples, { batch: 4, maxSeq: 24, seed: 1, padId: 0, recipe: 'nocot', curriculum: cfg({ keepPosition: true }) }).next();
    expect(Array.from(b.positionIds!.slice(0, 9), Number)).toEqual([0, 1, 2, 9, 10, 11, 12, 13, 14]);
    expect(new CurriculumBatches(examples, { batch: 4, maxSeq: 24, seed: 1, padId: 0, recipe: 'nocot', curriculum: cfg() }).next().positionIds).toBeUndefined();
  });

  it('keptPositionJump gives decoding the positions removeCot trained with, from either side', () => {
    const ex = laid(6);
    const promptLen = 4; // [1 2 3 EOS]
    // Decoding positions: the j-th token (prompt and generated together) moves by `by` from index promptLen − 1 + after on.
    const decoded = (len: number, j: { by: number; after: number }) => Array.from({ length: len }, (_, i) => i + (i >= promptLen - 1 + j.after ? j.by : 0));
    for (const side of ['left', 'right'] as const) {
      for (const n of [0, 1, 2, 5, 6, Infinity]) {
        const r = removeCot(ex, n, side);
        expect(decoded(r.ids.length, keptPositionJump(6, n, side)), `${side}, ${n} removed`).toEqual(r.positions);
      }
    }
    // From the right the CoT kept comes first: 2 removed of 6 leaves 4, and the jump starts at the 4th.
    expect(keptPositionJump(6, 2, 'right')).toEqual({ by: 2, after: 4 });
    expect(removeCot(ex, 2, 'right').positions).toEqual([0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14]);
    expect(keptPositionJump(6, 2, 'left')).toEqual({ by: 2, after: 0 });
    expect(keptPositionJump(6, Infinity, 'right')).toEqual({ by: 6, after: 0 });
  });

  it('batches: explicit CoT keeps all, No CoT removes all, ICoT-SI follows the schedule; padding buckets shrink', () => {
    const examples = Array.from({ length: 16 }, () => laid(20));
    const base = { batch: 4, maxSeq: 40, seed: 1, padId: 0, curriculum: cfg({ removePerEpoch: 16, smoothingLambda: Infinity }) };
    const cot = new CurriculumBatches(examples, { ...base, recipe: 'cot' }).next();
    expect(cot.seq).toBe(32); // 29 tokens → bucket of 8
    expect(cot.info!.meanCotRemoved).toBe(0);
    const nocot = new CurriculumBatches(examples, { ...base, recipe: 'nocot' }).next();
    expect(nocot.seq).toBe(16); // 9 tokens
    expect(Array.from(nocot.inputIds.slice(0, 9), Number)).toEqual([1, 2, 3, EOS, EOS, 50, 7, 8, EOS]);
    expect(nocot.info!.allCotRemoved).toBe(1);
    // 4 batches/epoch, Δ 16: round(4/16) = 0, so one more token every batch, from the first (as the paper's loop).
    const icot = new CurriculumBatches(examples, { ...base, recipe: 'icot-si' });
    const seen = Array.from({ length: 8 }, () => icot.next());
    expect(seen.map((b) => b.info!.scheduledRemoval)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(seen.every((b) => b.resetOptimizer)).toBe(true);
    expect(seen[7].seq).toBe(24); // 29 − 8 = 21 tokens
  });

  it('the reported scheduled removal stops at the longest CoT while the schedule counts on (the charts stay on the CoT\'s scale)', () => {
    const examples = Array.from({ length: 16 }, (_, i) => laid(i % 2 ? 3 : 5));
    const icot = new CurriculumBatches(examples, { batch: 4, maxSeq: 40, seed: 1, padId: 0, recipe: 'icot-si', curriculum: cfg({ removePerEpoch: 16, smoothingLambda: Infinity }) });
    const seen = Array.from({ length: 8 }, () => icot.next());
    expect(seen.map((b) => b.info!.scheduledRemoval)).toEqual([1, 2, 3, 4, 5, 5, 5, 5]);
    expect(icot.curriculum.scheduled).toBe(8);
    expect(seen.slice(4).every((b) => b.info!.allCotRemoved === 1)).toBe(true);
  });

  it('accepts datasets as large as the paper\'s (hundreds of thousands of examples)', () => {
    const one = laid(6);
    const many = Array.from({ length: 200_000 }, () => one);
    const b = new CurriculumBatches(many, { batch: 32, maxSeq: 24, seed: 1, padId: 0, recipe: 'cot', curriculum: cfg() });
    expect(b.batchesPerEpoch).toBe(6250);
    expect(b.next().seq).toBe(16);
  });

  it('resuming the batch stream from its position and curriculum state reproduces it exactly', () => {
    const examples = Array.from({ length: 24 }, (_, i) => laid(10 + (i % 7)));
    const opts = { batch: 4, maxSeq: 40, seed: 5, padId: 0, recipe: 'icot-si' as const, curriculum: cfg({ removePerEpoch: 6, smoothingLambda: 2 }) };
    const a = new CurriculumBatches(examples, opts);
    for (let i = 0; i < 9; i++) a.next();
    const pos = a.position();
    const state = a.curriculum;
    const rest = Array.from({ length: 6 }, () => a.next());
    const b = new CurriculumBatches(examples, opts);
    b.seek(pos);
    b.curriculum = state;
    for (const want of rest) {
      const got = b.next();
      expect(Array.from(got.inputIds)).toEqual(Array.from(want.inputIds));
      expect(got.info).toEqual(want.info);
    }
  });
});
