import { mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TokenBatches, type TokenExample } from '../../src-main/engine/batches.ts';
import { CheckpointError, listCheckpoints, loadCheckpoint } from '../../src-main/engine/checkpoint.ts';
import { initGPT2 } from '../../src-main/engine/init.ts';
import { flatLayout, isFlatGroup, optimizerGroups, trainLayout } from '../../src-main/engine/compile.ts';
import { gpt2ParamShapes, type GPT2Config } from '../../src-main/engine/models/gpt2.ts';
import { ADAMW_DEFAULTS } from '../../src-main/engine/optim.ts';
import { learningRate } from '../../src-main/engine/schedule.ts';
import { startLmJob } from '../fixtures/lm-worker.ts';
import { TrainStep } from '../../src-main/engine/train-step.ts';
import { latestCheckpoint, train, type TrainerConfig, type TrainerEvent } from '../../src-main/engine/trainer.ts';
import type { ProviderName } from '../../src-main/engine/target.ts';
import { PROVIDERS, WEBGPU } from '../fixtures/providers.ts';

const arch: GPT2Config = { vocabSize: 12, nPositions: 16, nEmbd: 32, nLayer: 2, nHead: 4, layerNormEpsilon: 1e-5 };

/** Counting sequences mod 10 with a start token: learnable in a few dozen steps. */
function examples(n: number): TokenExample[] {
  return Array.from({ length: n }, (_, i) => {
    const len = 8 + (i % 6);
    const ids = [11, ...Array.from({ length: len - 1 }, (_, t) => (i + t) % 10)];
    return { ids, labels: ids.map((x, t) => (t < 2 ? -100 : x)) };
  });
}

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'stepwise-train-'));

function config(dir: string, steps: number, checkpointEvery = 0, provider: ProviderName = 'cpu'): TrainerConfig {
  return {
    arch, batch: 4, seq: 16, steps, adamw: ADAMW_DEFAULTS, checkpointEvery, checkpointDir: dir, threads: 2, provider,
    schedule: { kind: 'cosine', lr: 3e-3, warmupSteps: 2, totalSteps: 10 },
  };
}

const bytesOf = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe.each(PROVIDERS)('trainer on %s', (provider) => {
  it('resuming from a checkpoint continues bit-identically to a run that never stopped', async () => {
    const dirA = tmp();
    const lossesA: number[] = [];
    const a = await train({
      config: config(dirA, 10, 0, provider), data: new TokenBatches(examples(24), { batch: 4, seq: 16, seed: 5 }),
      init: { params: initGPT2(arch, 1) }, emit: (e) => e.type === 'step' && lossesA.push(e.loss),
    });
    expect(a.status).toBe('completed');
    expect(lossesA).toHaveLength(10);

    // The same run, stopped after 7 steps (mid-epoch: 6 batches per epoch) and resumed in a fresh trainer.
    const dirB = tmp();
    const lossesB: number[] = [];
    const first = await train({
      config: config(dirB, 7, 0, provider), data: new TokenBatches(examples(24), { batch: 4, seq: 16, seed: 5 }),
      init: { params: initGPT2(arch, 1) }, emit: (e) => e.type === 'step' && lossesB.push(e.loss),
    });
    expect(first.step).toBe(7);
    const ck = latestCheckpoint(dirB);
    expect(ck).toMatch(/step-0000007\.json$/);
    const b = await train({
      config: config(dirB, 10, 0, provider), data: new TokenBatches(examples(24), { batch: 4, seq: 16, seed: 5 }),
      init: { resumeFrom: ck! }, emit: (e) => e.type === 'step' && lossesB.push(e.loss),
    });
    expect(b.step).toBe(10);
    expect(lossesB).toEqual(lossesA);
    for (const [name, t] of a.params) expect(bytesOf(b.params.get(name)!.data).equals(bytesOf(t.data)), name).toBe(true);
  });

  it('K steps in one run of the training loop equal K single steps bit for bit, however a run is cut into runs', async () => {
    const init = initGPT2(arch, 4);
    const data = new TokenBatches(examples(24), { batch: 4, seq: 16, seed: 3 });
    const batches = Array.from({ length: 7 }, () => data.next());
    const lrs = batches.map((_, i) => learningRate({ kind: 'cosine', lr: 2e-3, warmupSteps: 2, totalSteps: 7 }, i + 1));
    const single = await TrainStep.create({ arch, batch: 4, seq: 16, adamw: ADAMW_DEFAULTS, init, threads: 2, provider });
    const losses: number[] = [];
    for (let i = 0; i < 7; i++) losses.push((await single.run(batches[i].inputIds, batches[i].labels, lrs[i])).loss);
    for (const cuts of [[7], [3, 4], [1, 2, 4], [1, 1, 1, 1, 1, 1, 1]]) {
      const looped = await TrainStep.create({ arch, batch: 4, seq: 16, adamw: ADAMW_DEFAULTS, init, threads: 2, loop: true, provider });
      const got: number[] = [];
      let at = 0;
      for (const k of cuts) {
        got.push(...(await looped.runMany(batches.slice(at, at + k), lrs.slice(at, at + k))).map((r) => r.loss));
        at += k;
      }
      expect(got, `runs of ${cuts.join('+')}`).toEqual(losses);
      expect(looped.optimizerStep).toBe(7);
      const [a, b] = [single.snapshot(), looped.snapshot()];
      const [ma, mb] = [single.optimizerSnapshot(), looped.optimizerSnapshot()];
      for (const name of a.keys()) {
        expect(bytesOf(b.get(name)!.data).equals(bytesOf(a.get(name)!.data)), `${name} after runs of ${cuts.join('+')}`).toBe(true);
        expect(bytesOf(mb.v.get(name)!.data).equals(bytesOf(ma.v.get(name)!.data)), `v ${name}`).toBe(true);
      }
      await looped.release();
    }
    await expect(single.runMany(batches.slice(0, 2), [1e-3])).rejects.toThrow('runMany: 2 batches and 1 learning rates');
    await single.release();
  });

});

/**
 * The same run on WebGPU and on the CPU. The two differ in the last bits of every reduction
 * (another summation order, WebGPU's exp and log), which the reference tests bound at 1e-5 of
 * the logits and 1e-4 of the gradients. Over 8 AdamW steps at lr 3e-3 such differences stay of
 * the same order: each step moves a parameter by at most lr (AdamW's update is about lr·sign),
 * and a sign that flips where a gradient is within its tolerance of zero moves it by at most 2·lr
 * once. So losses agree to 1e-4 relative, and every parameter to 16·lr (8 steps of 2·lr) at worst
 * and to 1e-3 of the largest parameter of its tensor for all but that handful of entries.
 */
describe.skipIf(!WEBGPU)('trainer on webgpu against cpu', () => {
  it('8 steps on webgpu give the cpu run\'s losses within 1e-4 relative and its parameters within the bound above', async () => {
    const runs = [];
    for (const provider of ['cpu', 'webgpu'] as const) {
      const losses: number[] = [];
      const r = await train({
        config: config(tmp(), 8, 0, provider), data: new TokenBatches(examples(24), { batch: 4, seq: 16, seed: 5 }),
        init: { params: initGPT2(arch, 1) }, emit: (e) => e.type === 'step' && losses.push(e.loss),
      });
      expect(r.status).toBe('completed');
      runs.push({ losses, params: r.params });
    }
    const [cpu, gpu] = runs;
    expect(gpu.losses).toHaveLength(8);
    gpu.losses.forEach((l, i) => expect(Math.abs(l - cpu.losses[i]), `step ${i + 1}`).toBeLessThanOrEqual(1e-4 * cpu.losses[i]));
    let far = 0;
    let total = 0;
    for (const [name, t] of cpu.params) {
      const ours = gpu.params.get(name)!.data;
      let scale = 0;
      for (const x of t.data) scale = Math.max(scale, Math.abs(x));
      for (let i = 0; i < t.data.length; i++) {
        const d = Math.abs(ours[i] - t.data[i]);
        expect(d, `${name}[${i}]`).toBeLessThanOrEqual(16 * 3e-3);
        if (d > 1e-3 * scale) far++;
        total++;
      }
    }
    expect(far / total).toBeLessThan(1e-3);
  });
});

describe('flat optimizer groups', () => {
  it('are chunked at the limit, in layout order, each parameter whole, covering the state once', () => {
    const shapes = gpt2ParamShapes(arch);
    for (const layout of [trainLayout(shapes, 1000), flatLayout(shapes)]) {
      const groups = layout.groups ?? optimizerGroups(layout, 1000);
      const flat = groups.filter((g) => isFlatGroup(g.key));
      expect(flat.length).toBeGreaterThan(3);
      expect(flat.map((g) => g.key).slice(0, 3)).toEqual(layout.groups ? ['rest', 'rest.1', 'rest.2'] : ['', 'flat.1', 'flat.2']);
      let at = 0;
      for (const g of groups) {
        expect(g.offset).toBe(at);
        const sizes = g.names.map((n) => layout.entries.find((e) => e.name === n)!.size);
        expect(sizes.reduce((p, q) => p + q, 0)).toBe(g.size);
        if (isFlatGroup(g.key)) expect(g.size <= 1000 || g.names.length === 1).toBe(true);
        at += g.size;
      }
      expect(at).toBe(layout.total);
    }
    // Under the limit (every model so far): the one flat group it always had.
    expect(optimizerGroups(flatLayout(shapes)).map((g) => g.key)).toEqual(['']);
    expect(trainLayout(shapes).groups!.map((g) => g.key)).toEqual(['rest']);
  });
});

describe('trainer', () => {
  it('parameters exempt from weight decay (noDecay) are updated as with no decay, the others as with it', async () => {
    // Wide enough that the MLP weights (128×512) get optimizer groups of their own (compile.ts trainLayout).
    const wide: GPT2Config = { ...arch, nEmbd: 128, nLayer: 1 };
    const init = initGPT2(wide, 4);
    const data = new TokenBatches(examples(24), { batch: 4, seq: 16, seed: 3 });
    const batches = Array.from({ length: 3 }, () => data.next());
    // Exempt: the small parameters of the flat group but one, and one of the large ones.
    const exempt = (name: string) => name.endsWith('.bias') || name.includes('ln_') || name === 'h.0.mlp.c_proj.weight';
    expect(trainLayout(gpt2ParamShapes(wide)).groups!.map((g) => g.key)).toEqual(['h.0.mlp.c_fc.weight', 'h.0.mlp.c_proj.weight', 'rest']);
    const after = async (weightDecay: number, noDecay?: (name: string) => boolean, steps = 1) => {
      const s = await TrainStep.create({ arch: wide, batch: 4, seq: 16, adamw: { ...ADAMW_DEFAULTS, weightDecay, noDecay }, init, threads: 2, loop: true });
      await s.runMany(batches.slice(0, steps), new Array(steps).fill(0.05));
      const p = s.snapshot();
      await s.release();
      return p;
    };
    const [none, all, some, everyExempt] = [await after(0, undefined, 3), await after(0.5), await after(0.5, exempt), await after(0.5, () => true, 3)];
    const noneAt1 = await after(0);
    for (const name of init.keys()) {
      expect(bytesOf(everyExempt.get(name)!.data).equals(bytesOf(none.get(name)!.data)), `${name}: all exempt = no decay`).toBe(true);
      const expected = exempt(name) ? noneAt1 : all;
      expect(bytesOf(some.get(name)!.data).equals(bytesOf(expected.get(name)!.data)), `${name}: ${exempt(name) ? 'exempt' : 'decayed'}`).toBe(true);
    }
    // The decay was real: a decayed parameter differs between the two.
    expect(bytesOf(all.get('h.0.mlp.c_fc.weight')!.data).equals(bytesOf(noneAt1.get('h.0.mlp.c_fc.weight')!.data))).toBe(false);
  });

  it('the loss falls on a learnable task', async () => {
    const losses: number[] = [];
    const cfg = { ...config(tmp(), 40), schedule: { kind: 'constant' as const, lr: 3e-3, warmupSteps: 0, totalSteps: 40 } };
    await train({ config: cfg, data: new TokenBatches(examples(32), { batch: 4, seq: 16, seed: 1 }), init: { params: initGPT2(arch, 2) }, emit: (e) => e.type === 'step' && losses.push(e.loss) });
    expect(losses[0]).toBeGreaterThan(2.0); // ≈ ln 12 at initialisation
    expect(losses.at(-1)!).toBeLessThan(losses[0] * 0.6);
  });

  it('resetting the optimizer equals starting a fresh AdamW from the same parameters', async () => {
    const init = initGPT2(arch, 3);
    const data = new TokenBatches(examples(8), { batch: 4, seq: 16, seed: 2 });
    const b1 = data.next();
    const b2 = data.next();
    const s = await TrainStep.create({ arch, batch: 4, seq: 16, adamw: ADAMW_DEFAULTS, init, threads: 2 });
    await s.run(b1.inputIds, b1.labels, 1e-3);
    const mid = s.snapshot();
    s.resetOptimizer();
    expect(s.optimizerStep).toBe(0);
    expect([...s.optimizerSnapshot().m.values()].every((m) => m.data.every((x) => x === 0))).toBe(true);
    const afterReset = await s.run(b2.inputIds, b2.labels, 1e-3);
    const fresh = await TrainStep.create({ arch, batch: 4, seq: 16, adamw: ADAMW_DEFAULTS, init: mid, threads: 2 });
    const fromFresh = await fresh.run(b2.inputIds, b2.labels, 1e-3);
    expect(afterReset.loss).toBe(fromFresh.loss);
    const [mine, theirs] = [s.snapshot(), fresh.snapshot()];
    for (const name of s.paramNames) expect(bytesOf(mine.get(name)!.data).equals(bytesOf(theirs.get(name)!.data))).toBe(true);
    await s.release();
    await fresh.release();
  });

  it('a step at learning rate 0 (the end of a cosine schedule) changes nothing, even where no gradient ever reached', async () => {
    const init = initGPT2(arch, 4);
    const data = new TokenBatches(examples(8), { batch: 4, seq: 16, seed: 3 });
    const b = data.next();
    const s = await TrainStep.create({ arch, batch: 4, seq: 16, adamw: ADAMW_DEFAULTS, init, threads: 2 });
    // Token 10 never occurs in the data: its embedding row has m = v = 0 throughout.
    await s.run(b.inputIds, b.labels, 0);
    const after = s.snapshot();
    for (const [name, t] of init) {
      expect(after.get(name)!.data.every(Number.isFinite), name).toBe(true);
      expect(bytesOf(after.get(name)!.data).equals(bytesOf(t.data)), name).toBe(true);
    }
    await s.release();
  });

  it('a worker job streams steps and obeys pause, resume and cancel', async () => {
    const dir = tmp();
    const events: TrainerEvent[] = [];
    let job: ReturnType<typeof startLmJob> | null = null;
    let paused = false;
    let resumed = false;
    // Several steps may run in one session run: pause and cancel act at the end of the current run.
    job = startLmJob(
      { config: { ...config(dir, 400), checkpointEvery: 0 }, examples: examples(24), dataSeed: 3, init: { kind: 'fresh', seed: 4 } },
      (e) => {
        events.push(e);
        if (e.type === 'step' && e.step >= 3 && !paused) {
          paused = true;
          job!.pause();
        }
        if (e.type === 'status' && e.status === 'paused') {
          setTimeout(() => {
            resumed = true;
            job!.resume();
          }, 50);
        }
        if (e.type === 'step' && resumed) job!.cancel();
      },
    );
    const result = await job.done;
    expect(result.status).toBe('cancelled');
    expect(result.step).toBeGreaterThanOrEqual(4);
    expect(result.step).toBeLessThan(400);
    const statuses = events.filter((e) => e.type === 'status').map((e) => (e as { status: string }).status);
    expect(statuses).toEqual(['starting', 'running', 'paused', 'running', 'cancelled']);
    const steps = events.filter((e) => e.type === 'step') as Extract<TrainerEvent, { type: 'step' }>[];
    expect(steps.map((s) => s.step)).toEqual(steps.map((_, i) => i + 1));
    expect(steps[0].tokensPerS).toBeGreaterThan(0);
    expect(steps[0].lr).toBeCloseTo(1.5e-3, 10); // warm-up step 1 of 2
    // Cancelling keeps a checkpoint of where it stopped.
    expect(listCheckpoints(dir).map((c) => c.step)).toEqual([result.step]);
    expect(result.lastCheckpoint).toBe(listCheckpoints(dir)[0].path);
  });

  it('a corrupt or incomplete checkpoint is refused with the file and the problem named', async () => {
    const dir = tmp();
    await train({ config: config(dir, 2), data: new TokenBatches(examples(8), { batch: 4, seq: 16, seed: 1 }), init: { params: initGPT2(arch, 1) }, emit: () => {} });
    const ck = latestCheckpoint(dir)!;
    const tensors = ck.replace(/\.json$/, '.safetensors');
    const record = JSON.parse(readFileSync(ck, 'utf8'));
    expect(loadCheckpoint(ck).record.step).toBe(2);

    truncateSync(tensors, 100);
    expect(() => loadCheckpoint(ck)).toThrow(CheckpointError);
    expect(() => loadCheckpoint(ck)).toThrow(/step-0000002\.json.*(header|bytes|outside)/);

    writeFileSync(ck, JSON.stringify({ ...record, optimizerStep: -1 }));
    expect(() => loadCheckpoint(ck)).toThrow(/'optimizerStep' must be a non-negative integer/);
    writeFileSync(ck, '{ not json');
    expect(() => loadCheckpoint(ck)).toThrow(/cannot read the record/);
  });

  it('learning-rate schedules: linear warm-up, then cosine or linear decay', () => {
    const s = { kind: 'cosine' as const, lr: 1, warmupSteps: 10, totalSteps: 110, minLr: 0.1 };
    expect(learningRate(s, 5)).toBeCloseTo(0.5, 12);
    expect(learningRate(s, 10)).toBeCloseTo(1, 12);
    expect(learningRate(s, 60)).toBeCloseTo(0.55, 12);
    expect(learningRate(s, 110)).toBeCloseTo(0.1, 12);
    expect(learningRate({ ...s, kind: 'linear' }, 60)).toBeCloseTo(0.55, 12);
    expect(learningRate({ ...s, kind: 'constant' }, 200)).toBe(1);
  });

  it('a cool-down decays the last steps linearly to 0 from where the schedule is (warmup, stable, decay)', () => {
    const wsd = { kind: 'constant' as const, lr: 1, warmupSteps: 10, totalSteps: 110, cooldownSteps: 20 };
    expect(learningRate(wsd, 5)).toBeCloseTo(0.5, 12);
    expect(learningRate(wsd, 90)).toBe(1);
    expect(learningRate(wsd, 91)).toBeCloseTo(19 / 20, 12);
    expect(learningRate(wsd, 100)).toBeCloseTo(0.5, 12);
    expect(learningRate(wsd, 110)).toBe(0);
    // A decaying schedule spans the steps before the cool-down, which starts from its end.
    const cosine = { ...wsd, kind: 'cosine' as const, minLr: 0.1 };
    expect(learningRate(cosine, 90)).toBeCloseTo(0.1, 12);
    expect(learningRate(cosine, 50)).toBeCloseTo(0.55, 12);
    expect(learningRate(cosine, 100)).toBeCloseTo(0.05, 12);
    // A cool-down as long as the run decays from the peak rate.
    expect(learningRate({ ...wsd, warmupSteps: 0, cooldownSteps: 500 }, 55)).toBeCloseTo(0.5, 12);
  });

  it('batches: seeded shuffles, right padding with ignored labels, and seeking reproduces the stream', () => {
    const ex = examples(10);
    const a = new TokenBatches(ex, { batch: 3, seq: 16, seed: 9 });
    expect(a.batchesPerEpoch).toBe(3);
    const first = a.next();
    expect(first.inputIds.length).toBe(48);
    const row0 = Array.from(first.labels.slice(0, 16), Number);
    expect(row0.slice(-3)).toEqual([-100, -100, -100]); // no example fills 16 tokens
    for (let i = 0; i < 4; i++) a.next();
    const pos = a.position();
    expect(pos).toEqual({ epoch: 1, index: 6 });
    const next = a.next();
    const b = new TokenBatches(ex, { batch: 3, seq: 16, seed: 9 });
    b.seek(pos);
    expect(Array.from(b.next().inputIds)).toEqual(Array.from(next.inputIds));
    expect(() => new TokenBatches([{ ids: Array(20).fill(1) }, ...ex], { batch: 3, seq: 16, seed: 1 })).toThrow(/example 0 has 20 tokens, more than the sequence length 16/);
  });
});
