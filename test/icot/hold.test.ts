/** The optional hold of the ICoT-SI schedule on validation accuracy, in real runs of a tiny model. */
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
let data: Awaited<ReturnType<typeof writeTinyMult>>;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-hold-'));
  data = await writeTinyMult(path.join(dir, 'data'));
});

async function run(name: string, holdBelow: number) {
  const base = tinyConfig(data, 4);
  const config = parseIcotConfig({ ...base, runtime: { threads: 1 }, curriculum: { ...base.curriculum, removePerEpoch: 1, holdBelow } }); // one more token every 4 batches
  const events: TrainerEvent[] = [];
  const out = await runIcot({ config, runDir: path.join(dir, name) }, (e) => events.push(e), new TrainerControl());
  const epochs = events.flatMap((e) => (e.type === 'metric' && 'val_accuracy' in e.values ? [e.values] : []));
  const logs = events.flatMap((e) => (e.type === 'log' ? [e.message] : []));
  return { out, epochs, logs };
}

describe('holding the removal on validation accuracy', () => {
  test('below holdBelow the removal stops where it is, says so, and records the hold in its metrics and checkpoints; holdBelow 0 is the fixed schedule', async () => {
    const fixed = await run('fixed', 0);
    expect(fixed.out.status).toBe('finished');
    expect(fixed.epochs.map((v) => v.cot_removed)).toEqual([0, 1, 2, 3]);
    expect(fixed.epochs.every((v) => !('removal_held' in v))).toBe(true);

    // A 1-layer width-32 model after 4 batches is far from 100% on 2×2: every epoch holds.
    const held = await run('held', 1);
    expect(held.out.status).toBe('finished');
    expect(held.epochs.every((v) => v.val_accuracy < 1)).toBe(true);
    expect(held.epochs.map((v) => [v.cot_removed, v.removal_held])).toEqual([[0, 1], [0, 1], [0, 1], [0, 1]]);
    const holding = held.logs.filter((m) => m.includes('the removal holds'));
    expect(holding).toEqual([`epoch 1: validation ${(100 * held.epochs[0].val_accuracy).toFixed(1)}% < 100.0%: the removal holds at 0 tokens`]);
    // The hold began with the first epoch's 4 batches counted: the next batch would have removed a token.
    const last = listCheckpoints(path.join(dir, 'held', 'checkpoints')).at(-1)!;
    const record = JSON.parse(fs.readFileSync(last.path, 'utf8')) as { extra: { curriculum: { scheduled: number; holding: boolean } } };
    expect(record.extra.curriculum).toEqual({ scheduled: 0, counter: 4, allRemovedInPrevBatch: false, holding: true, advanceNow: false });
  });
});
