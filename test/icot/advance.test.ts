/** The optional advance of the ICoT-SI schedule on validation accuracy, in real runs of a tiny model. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { listCheckpoints } from '../../src-main/engine/checkpoint.ts';
import { TrainerControl, type TrainerEvent } from '../../src-main/engine/trainer.ts';
import { parseIcotConfig } from '../../src-main/methods/icot/recipe.ts';
import { runIcot } from '../../src-main/methods/icot/run.ts';
import { tinyConfig } from '../services/tiny-run.ts';

let dir: string;
let data: { train: string; valid: string };

/** Problems whose every digit is 0 (0 × n = 0): a tiny model answers them all within a few batches. */
function zeros(count: number): string {
  return Array.from({ length: count }, () => '0 0 * 0 0||0 0 0 + 0 0 0 0 #### 0 0 0 0').join('\n') + '\n';
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-advance-'));
  data = { train: path.join(dir, 'train.txt'), valid: path.join(dir, 'valid.txt') };
  fs.writeFileSync(data.train, zeros(64));
  fs.writeFileSync(data.valid, zeros(8));
});

async function run(name: string, curriculum: Record<string, unknown>) {
  const base = tinyConfig(data, 8);
  const config = parseIcotConfig({ ...base, train: { ...base.train, lr: 1e-2 }, runtime: { threads: 1 }, curriculum: { ...base.curriculum, smoothingLambda: null, keepPosition: true, ...curriculum } });
  const events: TrainerEvent[] = [];
  const out = await runIcot({ config, runDir: path.join(dir, name) }, (e) => events.push(e), new TrainerControl());
  const epochs = events.flatMap((e) => (e.type === 'metric' && 'val_accuracy' in e.values ? [e.values] : []));
  const logs = events.flatMap((e) => (e.type === 'log' ? [e.message] : []));
  return { out, epochs, logs };
}

describe('advancing the removal on validation accuracy', () => {
  test('at advanceAbove or more the next token goes with the next batch; with Δ = 0 validation alone paces the removal', async () => {
    // Δ = 0: without the advance nothing is ever removed.
    const still = await run('still', { removePerEpoch: 0 });
    expect(still.epochs.map((v) => v.cot_removed)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(still.epochs.at(-1)!.val_accuracy).toBe(1);

    const paced = await run('paced', { removePerEpoch: 0, advanceAbove: 0.5 });
    expect(paced.out.status).toBe('finished');
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
