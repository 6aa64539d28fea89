/**
 * Training a Llama through the engine's unchanged training path: a fresh
 * model (Hugging Face's Llama initialisation) in the trainer learns a
 * counting task, and a worker job started from a fresh seed trains it and
 * keeps a checkpoint in Llama naming.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TokenBatches, type TokenExample } from '../../src-main/engine/batches.ts';
import { loadCheckpoint } from '../../src-main/engine/checkpoint.ts';
import { initModel } from '../../src-main/engine/init.ts';
import { llamaParamShapes, type LlamaConfig } from '../../src-main/engine/models/llama.ts';
import { ADAMW_DEFAULTS } from '../../src-main/engine/optim.ts';
import { startLmJob } from '../fixtures/lm-worker.ts';
import { train, type TrainerConfig } from '../../src-main/engine/trainer.ts';

const arch: LlamaConfig = {
  family: 'llama', vocabSize: 12, hiddenSize: 32, intermediateSize: 64, nLayer: 2, nHead: 4, nKvHead: 2, headDim: 8, maxPositions: 16,
  rmsNormEps: 1e-6, ropeTheta: 10000, ropeScaling: null, tieWordEmbeddings: true, qkvBias: false, oBias: false, mlpBias: false,
};

/** Counting sequences mod 10 with a start token: learnable in a few dozen steps. */
function examples(n: number): TokenExample[] {
  return Array.from({ length: n }, (_, i) => {
    const len = 8 + (i % 6);
    const ids = [11, ...Array.from({ length: len - 1 }, (_, t) => (i + t) % 10)];
    return { ids, labels: ids.map((x, t) => (t < 2 ? -100 : x)) };
  });
}

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'stepwise-llama-train-'));

function config(dir: string, steps: number): TrainerConfig {
  return {
    arch, batch: 4, seq: 16, steps, adamw: ADAMW_DEFAULTS, checkpointEvery: 0, checkpointDir: dir, threads: 1,
    schedule: { kind: 'constant', lr: 3e-3, warmupSteps: 0, totalSteps: steps },
  };
}

describe('training a Llama', () => {
  it('fresh parameters follow Hugging Face\'s Llama initialisation', () => {
    const p = initModel(arch, 1);
    expect([...p.keys()]).toEqual([...llamaParamShapes(arch).keys()]);
    expect(Array.from(p.get('model.norm.weight')!.data)).toEqual(new Array(32).fill(1));
    const w = p.get('model.layers.1.mlp.down_proj.weight')!.data;
    const std = Math.sqrt(w.reduce((s, x) => s + x * x, 0) / w.length);
    expect(std).toBeGreaterThan(0.018);
    expect(std).toBeLessThan(0.022);
    expect(initModel(arch, 1).get('model.embed_tokens.weight')!.data).toEqual(p.get('model.embed_tokens.weight')!.data); // seeded
  });

  it('the loss falls on a learnable task in the trainer', async () => {
    const losses: number[] = [];
    await train({ config: config(tmp(), 40), data: new TokenBatches(examples(32), { batch: 4, seq: 16, seed: 1 }), init: { params: initModel(arch, 2) }, emit: (e) => e.type === 'step' && losses.push(e.loss) });
    expect(losses[0]).toBeGreaterThan(2.0); // ≈ ln 12 at initialisation
    expect(losses.at(-1)!).toBeLessThan(losses[0] * 0.6);
  });

  it('a worker job trains a fresh Llama from its seed and checkpoints it in Llama naming', async () => {
    const dir = tmp();
    const job = startLmJob({ config: config(dir, 6), examples: examples(16), dataSeed: 3, init: { kind: 'fresh', seed: 4 } }, () => {});
    const result = await job.done;
    expect(result.status).toBe('completed');
    expect(result.step).toBe(6);
    const ck = loadCheckpoint(result.lastCheckpoint!);
    expect([...ck.params.keys()].sort()).toEqual([...llamaParamShapes(arch).keys()].sort());
    expect((ck.record.config as TrainerConfig).arch).toEqual(arch);
    const fresh = initModel(arch, 4).get('model.layers.0.self_attn.q_proj.weight')!.data;
    expect(ck.params.get('model.layers.0.self_attn.q_proj.weight')!.data).not.toEqual(fresh); // it trained
  });
});
