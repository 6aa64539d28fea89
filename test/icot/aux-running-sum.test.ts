/** The running-sum auxiliary loss (Bai et al. 2025) as a No-CoT option: its targets, its graph's gradients, and a tiny real run. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { auxRegressionLoss, probeScores, selectSlot } from '../../src-main/engine/aux-probe.ts';
import { loadCheckpoint, listCheckpoints } from '../../src-main/engine/checkpoint.ts';
import { compactTokenizerForTexts } from '../../src-main/engine/tokenizers/compact.ts';
import { TrainerControl, type TrainerEvent } from '../../src-main/engine/trainer.ts';
import { readExamples } from '../../src-main/methods/shared/examples.ts';
import { parseIcotConfig } from '../../src-main/methods/icot/recipe.ts';
import { runIcot } from '../../src-main/methods/icot/run.ts';
import { runningSums, runningSumsOf, RunningSumTargets } from '../../src-main/methods/icot/running-sum.ts';
import { encodeExample } from '../../src-main/methods/icot/layout.ts';
import { removeCot } from '../../src-main/methods/icot/curriculum.ts';
import { checkGradient } from '../engine/fd.ts';
import { tinyConfig, writeTinyMult } from '../services/tiny-run.ts';

describe('running-sum targets', () => {
  test('ĉ_k = s_k + r_{k−1} on the paper\'s first 4×4 test problem (digits least significant first), and its digits are the answer', () => {
    // 2967 × 6361 = 18873087, written 7 6 9 2 * 1 6 3 6 and 7 8 0 3 7 8 8 1.
    const [ex] = readExamples(path.resolve('../shared/data/icot/4_by_4_mult/test.txt')).slice(0, 1);
    const sums = runningSumsOf(ex, 'test.txt, example 1');
    // s_0 = 7·1 = 7; s_1 = 7·6 + 6·1 = 48; s_2 = 7·3 + 6·6 + 9·1 = 66, ĉ_2 = 66 + 4 = 70; s_3 = 42 + 18 + 54 + 2 = 116, ĉ_3 = 116 + 7 = 123 …
    expect(sums).toEqual([7, 48, 70, 123, 87, 68, 18, 1]);
    expect(sums.map((c) => c % 10).join(' ')).toBe(ex.answer);
    expect(runningSums([9, 9], [9, 9])).toEqual([81, 170, 98, 9]); // 99 × 99 = 9801
  });

  test('a problem that is not a multiplication, or whose answer is wrong, is refused naming the file and example', () => {
    expect(() => runningSumsOf({ input: 'what is 2 + 2', cot: '', answer: '4' }, 'train.txt, example 3')).toThrow(/train\.txt, example 3: the running-sum loss needs multiplication problems/);
    expect(() => runningSumsOf({ input: '2 1 * 3', cot: '', answer: '6 3 1' }, 'valid.txt, example 9')).toThrow(/valid\.txt, example 9: the answer "6 3 1" is not 2 1 \* 3 written least significant digit first \(6 3 0\)/);
  });

  test('a batch selects ĉ_k at the token of answer digit k (or the token before it), standardized, with weights that average over the supervised tokens', () => {
    const ex = { input: '7 6 * 1 6', cot: '7 6 0 + 0 2 0 4', answer: '7 8 0 4' }; // 67 × 61 = 4087
    const tok = compactTokenizerForTexts([ex.input, ex.cot, ex.answer]);
    const row = removeCot(encodeExample(tok, ex), Infinity, 'left'); // 7 6 * 1 6 EOS EOS #### 7 8 0 4 EOS
    const sums = runningSums([7, 6], [1, 6]);
    expect(sums).toEqual([7, 48, 40, 4]);
    const targets = new RunningSumTargets(tok, [sums, [0, 0, 0, 0]], 'digit');
    expect(targets.mean).toEqual([3.5, 24, 20, 2]);
    expect(targets.positions({ ids: row.ids, sums })).toEqual([8, 9, 10, 11]);
    expect(new RunningSumTargets(tok, [sums, [0, 0, 0, 0]], 'before-digit').positions({ ids: row.ids, sums })).toEqual([7, 8, 9, 10]);
    const T = 16;
    const b = targets.batch([null, { ids: row.ids, sums }], T);
    const K = 4;
    expect(Array.from(b.select.slice((T + 10) * K, (T + 11) * K))).toEqual([0, 0, 1, 0]); // row 1, token 10 reads slot 2
    expect(b.target[T + 10]).toBeCloseTo((40 - 20) / 20, 6);
    expect(Array.from(b.weight.slice(T, 2 * T)).filter((w) => w > 0)).toEqual([0.25, 0.25, 0.25, 0.25]);
    expect(b.weight.slice(0, T).every((w) => w === 0)).toBe(true); // the padding row has no loss
  });
});

describe('the probe objective differentiates correctly', () => {
  test('heads [B, H, T, D] through per-slot, per-head weights, the slot selection and the weighted squared error match finite differences', async () => {
    const B = 2;
    const H = 2;
    const T = 3;
    const D = 3;
    const K = 2;
    const select = [1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0]; // [B, T, K] one-hot rows
    const r = await checkGradient(
      [
        { name: 'x', shape: [B, H, T, D] },
        { name: 'w', shape: [K, H, D] },
        { name: 'b', shape: [K, H] },
        { name: 'select', shape: [B, T, K], data: select.slice(0, B * T * K), wrt: false },
        { name: 'target', shape: [B, T] },
        { name: 'weight', shape: [B, T], data: [0.25, 0, 0.25, 0.25, 0.25, 0], wrt: false },
      ],
      (g, [x, w, b, sel, target, weight]) => auxRegressionLoss(g, selectSlot(g, probeScores(g, x, w, b), sel), target, weight),
    );
    expect(r.relError).toBeLessThan(1e-6);
    expect(r.maxGrad).toBeGreaterThan(1e-3);
  });

  test('a residual stream [B, T, C] read by one probe per slot matches finite differences', async () => {
    const r = await checkGradient(
      [
        { name: 'x', shape: [2, 2, 4] },
        { name: 'w', shape: [2, 1, 4] },
        { name: 'b', shape: [2, 1] },
        { name: 'select', shape: [2, 2, 2], data: [1, 0, 0, 1, 0, 1, 0, 0], wrt: false },
        { name: 'target', shape: [2, 2] },
        { name: 'weight', shape: [2, 2], data: [1 / 3, 1 / 3, 1 / 3, 0], wrt: false },
      ],
      (g, [x, w, b, sel, target, weight]) => auxRegressionLoss(g, selectSlot(g, probeScores(g, x, w, b), sel), target, weight),
    );
    expect(r.relError).toBeLessThan(1e-6);
    expect(r.maxGrad).toBeGreaterThan(1e-3);
  });
});

describe('a No-CoT run with the running-sum loss', () => {
  let dir: string;
  let data: Awaited<ReturnType<typeof writeTinyMult>>;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-aux-'));
    data = await writeTinyMult(path.join(dir, 'data'));
  });

  const config = (runningSum: Record<string, unknown>, epochs = 3) => {
    const base = tinyConfig(data, epochs);
    return parseIcotConfig({ ...base, recipe: 'nocot', model: { ...base.model, layers: 2 }, runtime: { threads: 1 }, runningSum });
  };

  test('records the auxiliary loss and the probe\'s R² on validation every epoch, the probe trains with the model and is kept in its checkpoints, not in its model folder', async () => {
    const events: TrainerEvent[] = [];
    const out = await runIcot({ config: config({ weight: 1, l2: 1e-3 }), runDir: path.join(dir, 'heads') }, (e) => events.push(e), new TrainerControl());
    expect(out.status).toBe('completed');
    const probe = events.flatMap((e) => (e.type === 'metric' && 'val_probe_r2' in e.values ? [e.values] : []));
    expect(probe).toHaveLength(3);
    for (const v of probe) {
      expect(Number.isFinite(v.aux_loss) && v.aux_loss > 0).toBe(true);
      expect(Number.isFinite(v.val_aux_loss) && v.val_aux_loss > 0).toBe(true);
      expect(v.val_probe_r2).toBeLessThanOrEqual(1);
      expect(Object.keys(v).filter((k) => k.startsWith('val_probe_r2_c'))).toEqual(['val_probe_r2_c0', 'val_probe_r2_c1', 'val_probe_r2_c2', 'val_probe_r2_c3']);
    }
    // The probe learns: its loss falls from a random probe's (targets standardized: about 1 plus the probe's noise).
    expect(probe[2].aux_loss).toBeLessThan(probe[0].aux_loss);
    // The usual metrics are still there.
    expect(events.some((e) => e.type === 'metric' && 'val_accuracy' in e.values)).toBe(true);
    expect(events.some((e) => e.type === 'log' && e.message.includes('running-sum probe on the 2 heads of layer 2, 4 digits, λ = 1, L2 0.001'))).toBe(true);
    const last = loadCheckpoint(listCheckpoints(path.join(dir, 'heads', 'checkpoints')).at(-1)!.path);
    expect(last.params.get('aux_probe.weight')!.shape).toEqual([4, 2, 16]); // [digits, heads, head width]
    expect(last.m.has('aux_probe.bias')).toBe(true);
    const weights = fs.readFileSync(path.join(dir, 'heads', 'best', 'model.safetensors'));
    expect(weights.includes(Buffer.from('aux_probe'))).toBe(false);
  }, 120_000);

  test('the loss weight changes training: the same run with λ = 10 learns another model', async () => {
    const seen = async (name: string, weight: number) => {
      const events: TrainerEvent[] = [];
      await runIcot({ config: config({ read: 'residual', layer: 1, weight }, 1), runDir: path.join(dir, name) }, (e) => events.push(e), new TrainerControl());
      return events.flatMap((e) => (e.type === 'step' ? [e.loss] : []));
    };
    const one = await seen('w1', 1);
    const ten = await seen('w10', 10);
    expect(one[0]).toBe(ten[0]); // the first step's language-model loss is before any update
    expect(one.at(-1)).not.toBe(ten.at(-1));
  }, 120_000);

  test('is refused outside No CoT, and on a layer the model lacks, in the config\'s words', async () => {
    const base = tinyConfig(data, 1);
    expect(() => parseIcotConfig({ ...base, runningSum: {} })).toThrow(/runningSum.*No-CoT recipe/);
    await expect(runIcot({ config: config({ layer: 3 }, 1), runDir: path.join(dir, 'bad') }, () => {}, new TrainerControl())).rejects.toThrow(/runningSum\.layer: the model has 2 blocks, so the layer is 1 to 2, got 3/);
  });
});

describe('the shipped configs', () => {
  test('icot-4x4-aux-cpu.json and icot-4x4-aux-off-cpu.json differ only in the running-sum loss: No CoT, 2 layers × 96 (the 4×4 ICoT-SI recipe\'s shape), the probe on the heads of layer 2 at the answer digits', () => {
    const read = (name: string) => parseIcotConfig(JSON.parse(fs.readFileSync(new URL(`../../resources/configs/${name}`, import.meta.url), 'utf8')), name);
    const aux = read('icot-4x4-aux-cpu.json');
    const off = read('icot-4x4-aux-off-cpu.json');
    expect(aux).toMatchObject({ recipe: 'nocot', model: { kind: 'fresh', layers: 2, dim: 96, heads: 4 }, runningSum: { read: 'heads', layer: 2, at: 'digit', weight: 1, l2: 0 } });
    expect(aux.data).toMatchObject({ train: 'data/4x4/train.txt', test: 'data/4x4/test.txt' });
    expect(off.runningSum).toBeUndefined();
    expect({ ...aux, runningSum: undefined }).toEqual({ ...off, runningSum: undefined });
  });
});
