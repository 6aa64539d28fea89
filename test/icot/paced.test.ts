/** The optional pacing of the ICoT-SI schedule by validation accuracy (holdBelow, advanceAbove), in real runs of a tiny model. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { listCheckpoints } from '../../src-main/engine/checkpoint.ts';
import { TrainerControl, type TrainerEvent } from '../../src-main/engine/trainer.ts';
import { parseIcotConfig } from '../../src-main/methods/icot/recipe.ts';
import { runIcot } from '../../src-main/methods/icot/run.ts';
import { tinyConfig, writeTinyMult } from '../services/tiny-run.ts';

let dir: string;
/** The tiny run's 2×2 problems: a 1-layer width-32 model stays far from 100% on them. */
let data: Awaited<ReturnType<typeof writeTinyMult>>;
/** Problems whose every digit is 0 (0 × n = 0): the tiny model answers them all within a few batches. */
let zeros: { train: string; valid: string };

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-paced-'));
  data = await writeTinyMult(path.join(dir, 'data'));
  zeros = { train: path.join(dir, 'zeros-train.txt'), valid: path.join(dir, 'zeros-valid.txt') };
  const lines = (n: number) => Array.from({ length: n }, () => '0 0 * 0 0||0 0 0 + 0 0 0 0 #### 0 0 0 0').join('\n') + '\n';
  fs.writeFileSync(zeros.train, lines(64));
  fs.writeFileSync(zeros.valid, lines(8));
});

/** A tiny ICoT-SI run of `epochs` epochs of 4 batches, with the curriculum fields given; its validation metrics and log lines. */
async function run(name: string, opts: { data: { train: string; valid: string }; epochs: number; lr?: number; curriculum: Record<string, unknown> }) {
  const base = tinyConfig(opts.data, opts.epochs);
  const config = parseIcotConfig({ ...base, train: { ...base.train, lr: opts.lr ?? base.train.lr }, runtime: { threads: 1 }, curriculum: { ...base.curriculum, ...opts.curriculum } });
  const events: TrainerEvent[] = [];
  const out = await runIcot({ config, runDir: path.join(dir, name) }, (e) => events.push(e), new TrainerControl());
  const epochs = events.flatMap((e) => (e.type === 'metric' && 'val_accuracy' in e.values ? [e.values] : []));
  const logs = events.flatMap((e) => (e.type === 'log' ? [e.message] : []));
  return { out, epochs, logs };
}

describe('holding the removal on validation accuracy', () => {
  test('below holdBelow the removal stops where it is, says so, and records the hold in its metrics and checkpoints; holdBelow 0 is the fixed schedule', async () => {
    // Δ = 1 with 4 batches per epoch: one more token every 4 batches.
    const fixed = await run('fixed', { data, epochs: 4, curriculum: { removePerEpoch: 1 } });
    expect(fixed.out.status).toBe('completed');
    expect(fixed.epochs.map((v) => v.cot_removed)).toEqual([0, 1, 2, 3]);
    expect(fixed.epochs.every((v) => !('removal_held' in v))).toBe(true);

    // A 1-layer width-32 model after 4 batches is far from 100% on 2×2: every epoch holds.
    const held = await run('held', { data, epochs: 4, curriculum: { removePerEpoch: 1, holdBelow: 1 } });
    expect(held.out.status).toBe('completed');
    expect(held.epochs.every((v) => v.val_accuracy < 1)).toBe(true);
    expect(held.epochs.map((v) => [v.cot_removed, v.removal_held])).toEqual([[0, 1], [0, 1], [0, 1], [0, 1]]);
    const holding = held.logs.filter((m) => m.includes('the removal holds'));
    expect(holding).toEqual([`epoch 1: validation ${(100 * held.epochs[0].val_accuracy).toFixed(1)}% < 100.0%: the removal holds at 0 tokens`]);
    // The hold began with the first epoch's 4 batches counted: the next batch would have removed a token.
    const last = listCheckpoints(path.join(dir, 'held', 'checkpoints')).at(-1)!;
    const record = JSON.parse(fs.readFileSync(last.path, 'utf8')) as { extra: { curriculum: { scheduled: number; holding: boolean } } };
    expect(record.extra.curriculum).toEqual({ scheduled: 0, counter: 4, allRemovedInPrevBatch: false, holding: true, advanceNow: false });

    // A held run that then removes everything (removeAllWhenBeyond): the hold ends, and the log says why.
    // The fixed run (3 tokens removed) goes on holding at 4, then resumes with everything removed beyond 4.
    const resume = async (epochs: number, curriculum: Record<string, unknown>) => {
      const base = tinyConfig(data, epochs);
      const config = parseIcotConfig({ ...base, runtime: { threads: 1 }, curriculum: { ...base.curriculum, removePerEpoch: 1, holdBelow: 1, ...curriculum } });
      const events: TrainerEvent[] = [];
      const from = listCheckpoints(path.join(dir, 'fixed', 'checkpoints')).at(-1)!.path;
      const out = await runIcot({ config, runDir: path.join(dir, 'fixed'), resumeFrom: from }, (e) => events.push(e), new TrainerControl());
      expect(out.status).toBe('completed');
      return {
        metrics: events.flatMap((e) => (e.type === 'metric' && 'val_accuracy' in e.values ? [e.values] : [])),
        holdLogs: events.flatMap((e) => (e.type === 'log' && e.message.includes('hold') ? [e.message] : [])),
      };
    };
    const at4 = await resume(5, {});
    expect(at4.metrics.map((v) => [v.cot_removed, v.removal_held])).toEqual([[4, 1]]);
    const all = await resume(6, { removeAllWhenBeyond: 4 });
    expect(all.metrics.map((v) => [v.val_cot_tokens, v.removal_held])).toEqual([[0, 0]]);
    expect(all.holdLogs).toEqual([`epoch 6: no CoT is left to remove (validation ${(100 * all.metrics[0].val_accuracy).toFixed(1)}%): the hold ends`]);
  });
});

describe('a hold schedule', () => {
  test('[[0, 0], [2, 1]]: the fixed schedule until 2 tokens are removed, then a hold at 100%, said in the log with its threshold', async () => {
    const r = await run('schedule', { data, epochs: 5, curriculum: { removePerEpoch: 1, holdBelow: [[0, 0], [2, 1]] } });
    expect(r.out.status).toBe('completed');
    expect(r.epochs.every((v) => v.val_accuracy < 1)).toBe(true);
    // Epochs 1–2 follow Δ (1 and 2 removed); from 2 removed on the 100% threshold holds every epoch.
    expect(r.epochs.map((v) => [v.cot_removed, v.removal_held])).toEqual([[0, 0], [1, 0], [2, 1], [2, 1], [2, 1]]);
    expect(r.logs.filter((m) => m.includes('the removal holds'))).toEqual([`epoch 3: validation ${(100 * r.epochs[2].val_accuracy).toFixed(1)}% < 100.0%: the removal holds at 2 tokens`]);
  });
});

describe('advancing the removal on validation accuracy', () => {
  test('at advanceAbove or more the next token goes with the next batch; with Δ = 0 validation alone paces the removal', async () => {
    // Δ = 0: without the advance nothing is ever removed.
    const still = await run('still', { data: zeros, epochs: 8, lr: 1e-2, curriculum: { removePerEpoch: 0, smoothingLambda: null, keepPosition: true } });
    expect(still.epochs.map((v) => v.cot_removed)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(still.epochs.at(-1)!.val_accuracy).toBe(1);

    const paced = await run('paced', { data: zeros, epochs: 8, lr: 1e-2, curriculum: { removePerEpoch: 0, smoothingLambda: null, keepPosition: true, advanceAbove: 0.5 } });
    expect(paced.out.status).toBe('completed');
    const acc = paced.epochs.map((v) => v.val_accuracy);
    const removed = paced.epochs.map((v) => v.cot_removed);
    // Each epoch's validation (with the tokens then removed) decides the next epoch's removal.
    for (let e = 1; e < removed.length; e++) expect(removed[e], `epoch ${e + 1}`).toBe(removed[e - 1] + (acc[e - 1] >= 0.5 ? 1 : 0));
    expect(removed.at(-1)).toBeGreaterThanOrEqual(2);
    const first = acc.findIndex((a) => a >= 0.5);
    expect(paced.logs).toContain(`epoch ${first + 1}: validation ${(100 * acc[first]).toFixed(1)}% ≥ 50.0%: one more token removed now (${removed[first] + 1} in all)`);
    // The pending advance is part of the curriculum state a checkpoint keeps, so a resumed run takes it.
    const last = listCheckpoints(path.join(dir, 'paced', 'checkpoints')).at(-1)!;
    const record = JSON.parse(fs.readFileSync(last.path, 'utf8')) as { extra: { curriculum: { scheduled: number; advanceNow: boolean } } };
    expect(record.extra.curriculum.scheduled).toBe(removed.at(-1));
    expect(record.extra.curriculum.advanceNow).toBe(acc.at(-1)! >= 0.5);
  });
});
