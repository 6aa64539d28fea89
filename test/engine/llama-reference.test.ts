/**
 * Exactness against PyTorch: ../shared/reference/llama-tiny holds a 2-layer
 * Llama's (RMSNorm, rotate-half RoPE, 4 query / 2 key-value heads, SwiGLU,
 * untied lm_head) logits, loss, hidden states and gradients, computed with
 * PyTorch autograd in float32. Tolerances are the reference README's:
 * max|ours − ref| ≤ 1e-5·max|ref| for loss, logits and hidden states;
 * ≤ 1e-4·max|ref| for gradients. The AdamW step is checked against the same
 * update computed here in float64 from the reference gradients.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileModel } from '../../src-main/engine/compile.ts';
import { llamaConfigFromHf } from '../../src-main/engine/hf/llama-folder.ts';
import { paramCount } from '../../src-main/engine/models/family.ts';
import type { LlamaConfig } from '../../src-main/engine/models/llama.ts';
import { createSession, int64Tensor, ort } from '../../src-main/engine/runtime.ts';
import { readSafetensors, type TensorMap } from '../../src-main/engine/safetensors.ts';
import { TrainStep } from '../../src-main/engine/train-step.ts';
import { relDiff } from '../fixtures/compare.ts';
import { PROVIDERS } from '../fixtures/providers.ts';

const REF = path.resolve(__dirname, '../../../shared/reference/llama-tiny');

let arch: LlamaConfig;
let params: TensorMap;
let expected: TensorMap;
let batch: { input_ids: number[][]; labels: number[][] };

/** max |ours − ref| / max |ref|. */

function feeds(): Record<string, ort.Tensor> {
  const f: Record<string, ort.Tensor> = {};
  for (const [name, t] of params) f[`p.${name}`] = new ort.Tensor('float32', Float32Array.from(t.data), t.shape);
  f.input_ids = int64Tensor(batch.input_ids.flat(), [2, 10]);
  f.labels = int64Tensor(batch.labels.flat(), [2, 10]);
  return f;
}

beforeAll(() => {
  arch = llamaConfigFromHf(JSON.parse(readFileSync(path.join(REF, 'config.json'), 'utf8')));
  params = readSafetensors(path.join(REF, 'model.safetensors')).tensors;
  expected = readSafetensors(path.join(REF, 'expected.safetensors')).tensors;
  batch = JSON.parse(readFileSync(path.join(REF, 'batch.json'), 'utf8'));
});

describe.each(PROVIDERS)('Llama matches PyTorch on the llama-tiny reference (%s)', (provider) => {
  it('reads the reference config as grouped-query attention with untied output and no biases', () => {
    expect(arch).toMatchObject({ vocabSize: 24, hiddenSize: 32, intermediateSize: 64, nLayer: 2, nHead: 4, nKvHead: 2, headDim: 8, rmsNormEps: 1e-6, ropeTheta: 10000, tieWordEmbeddings: false, qkvBias: false, oBias: false, mlpBias: false });
    let n = 0;
    for (const t of params.values()) n += t.data.length;
    expect(paramCount(arch)).toBe(n);
  });

  it('forward: loss, logits and every hidden state within 1e-5 relative', async () => {
    const c = compileModel({ arch, batch: 2, seq: 10, mode: 'forward', provider });
    const out = await (await createSession(c.model, { threads: 1, provider })).run(feeds());
    const loss = (out.loss.data as Float32Array)[0];
    const refLoss = expected.get('loss')!.data[0];
    expect(Math.abs(loss - refLoss)).toBeLessThanOrEqual(1e-5 * Math.abs(refLoss));
    expect(relDiff(out.logits.data as Float32Array, expected.get('logits')!.data)).toBeLessThanOrEqual(1e-5);
    for (let i = 0; i <= arch.nLayer; i++) {
      expect(relDiff(out[`hidden.${i}`].data as Float32Array, expected.get(`hidden_states.${i}`)!.data), `hidden_states.${i}`).toBeLessThanOrEqual(1e-5);
    }
  });

  it('backward: every parameter gradient within 1e-4 relative', async () => {
    const c = compileModel({ arch, batch: 2, seq: 10, mode: 'grad', provider });
    const out = await (await createSession(c.model, { threads: 1, provider })).run(feeds());
    expect(c.paramNames.length).toBe(params.size);
    for (const name of c.paramNames) {
      const ref = expected.get(`grad.${name}`)!.data;
      expect(relDiff(out[`grad.${name}`].data as Float32Array, ref), `grad.${name}`).toBeLessThanOrEqual(1e-4);
    }
  });

  it('a TrainStep on the Llama takes the clipped AdamW step the reference gradients give', async () => {
    const adamw = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, maxGradNorm: 0.5 };
    const lr = 1e-2;
    const ts = await TrainStep.create({ arch, batch: 2, seq: 10, adamw, init: params, threads: 1, provider });
    const r = await ts.run(BigInt64Array.from(batch.input_ids.flat().map(BigInt)), BigInt64Array.from(batch.labels.flat().map(BigInt)), lr);
    await ts.release();
    expect(Math.abs(r.loss - expected.get('loss')!.data[0])).toBeLessThanOrEqual(1e-5 * expected.get('loss')!.data[0]);
    // The same step in float64 from the reference gradients (torch.optim.AdamW, step 1: m̂ = g, v̂ = g²).
    let sq = 0;
    for (const name of ts.paramNames) for (const x of expected.get(`grad.${name}`)!.data) sq += x * x;
    const norm = Math.sqrt(sq);
    expect(Math.abs(r.gradNorm - norm)).toBeLessThanOrEqual(1e-4 * norm);
    const coef = Math.min(1, adamw.maxGradNorm / (norm + 1e-6));
    expect(coef).toBeLessThan(1); // clipping is exercised
    const after = ts.snapshot();
    for (const name of ts.paramNames) {
      const p0 = params.get(name)!.data;
      const grad = expected.get(`grad.${name}`)!.data;
      const want = Float64Array.from(p0, (p, i) => {
        const gi = grad[i] * coef;
        return p * (1 - lr * adamw.weightDecay) - (lr * gi) / (Math.abs(gi) + adamw.eps);
      });
      // AdamW's first step moves each entry by about lr·sign(g). Where the reference gradient is
      // within the gradient tolerance of zero (1e-4·max|g| of its tensor), its sign is not
      // determined by that tolerance, so neither is the direction of the step: there the check is
      // that the step is at most lr; everywhere else it is the 1e-4 relative check.
      let gmax = 0;
      for (const x of grad) gmax = Math.max(gmax, Math.abs(x));
      const undetermined = (i: number) => Math.abs(grad[i]) <= 1e-4 * gmax;
      const ours = after.get(name)!.data;
      expect(relDiff(ours, want, undetermined), `after_adamw.${name}`).toBeLessThanOrEqual(1e-4);
      for (let i = 0; i < p0.length; i++) {
        if (undetermined(i)) expect(Math.abs(ours[i] - p0[i] * (1 - lr * adamw.weightDecay)), `after_adamw.${name}[${i}]`).toBeLessThanOrEqual(lr * (1 + 1e-5));
      }
    }
  });
});
