/**
 * A float16 base with float32 LoRA adapters: the llama-tiny base fed as
 * float16 graph inputs (paramInputs widens each where the forward reads it),
 * adapters on every q/k/v/o and MLP projection through the LoRA transform,
 * gradients for the adapters only. With base weights that float16 holds
 * exactly, loss and adapter gradients equal those over a float32 base; no
 * gradient node touches the base.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { gradients } from '../../src-main/engine/autodiff.ts';
import { float16Tensor, toHalf } from '../../src-main/engine/half.ts';
import { loadLlamaFolder } from '../../src-main/engine/hf/llama-folder.ts';
import { LoraGraph, loraModules, loraParamShapes, type Adapter } from '../../src-main/engine/lora.ts';
import { modelFamily, paramInputs, type WeightDtype } from '../../src-main/engine/models/family.ts';
import { causalLmLoss, causalMask } from '../../src-main/engine/models/causal-lm.ts';
import type { LlamaConfig } from '../../src-main/engine/models/llama.ts';
import type { Value } from '../../src-main/engine/onnx/graph.ts';
import { createSession, int64Tensor, ort } from '../../src-main/engine/runtime.ts';
import type { TensorMap } from '../../src-main/engine/safetensors.ts';
import { randn } from './fd.ts';

const REF = path.resolve(__dirname, '../../../shared/reference/llama-tiny');

let arch: LlamaConfig;
let base: TensorMap;
let adapter: Adapter;
let weights: TensorMap;
let batch: { input_ids: number[][]; labels: number[][] };

beforeAll(() => {
  const m = loadLlamaFolder(REF);
  arch = m.config;
  // The reference weights rounded to float16-exact values, so both bases are the same numbers.
  base = new Map([...m.params].map(([n, t]) => [n, { shape: t.shape, data: Float32Array.from(t.data, (x) => Math.round(x * 1024) / 1024) }]));
  const lora = { r: 2, alpha: 4, dropout: 0, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] };
  adapter = { name: 'default', config: lora, modules: loraModules(modelFamily(arch).paramShapes(), lora, 'out_in') };
  weights = new Map();
  let seed = 3;
  for (const [n, shape] of loraParamShapes(adapter)) weights.set(n, { shape, data: Float32Array.from(randn(shape[0] * shape[1], seed++), (x) => 0.1 * x) });
  batch = JSON.parse(readFileSync(path.join(REF, 'batch.json'), 'utf8'));
});

/** Loss and adapter gradients over a base fed as `dtype`; also how many graph nodes read a base input. */
async function run(dtype: WeightDtype): Promise<{ loss: number; grads: Map<string, Float32Array>; baseCasts: number }> {
  const family = modelFamily(arch);
  const adapterParams: Record<string, Value> = {};
  const g = new LoraGraph({ adapters: [adapter], param: (n) => adapterParams[n] });
  const p = paramInputs(g, family.paramShapes(), dtype);
  for (const [n, shape] of loraParamShapes(adapter)) adapterParams[n] = g.input(`a.${n}`, 'float32', shape);
  const ids = g.input('input_ids', 'int64', [2, 10]);
  const labels = g.input('labels', 'int64', [2, 10]);
  const positions = g.constant(BigInt64Array.from({ length: 10 }, (_, i) => BigInt(i)), 'int64', [10], 'positions');
  const out = g.withAdapter('default', () => family.forward(g, p, { inputIds: ids, positions, mask: causalMask(g, 10) }));
  const loss = causalLmLoss(g, out.logits, labels, arch.vocabSize);
  const names = Object.keys(adapterParams);
  const grads = gradients(g, loss, names.map((n) => adapterParams[n]));
  const outs = [g.named(loss, 'loss'), ...grads.map((d, i) => g.named(d, `grad.${names[i]}`))];
  const inputs = new Set(g.inputs.filter((v) => v.name.startsWith('p.')).map((v) => v.name));
  const baseCasts = g.liveNodes(outs).filter((n) => n.inputs.some((v) => v && inputs.has(v.name))).length;
  const s = await createSession(g.toModel(outs), { threads: 1 });
  const feeds: Record<string, ort.Tensor> = {
    input_ids: int64Tensor(batch.input_ids.flat(), [2, 10]),
    labels: int64Tensor(batch.labels.flat(), [2, 10]),
  };
  for (const [n, t] of base) feeds[`p.${n}`] = dtype === 'float16' ? float16Tensor(toHalf(t.data), t.shape) : new ort.Tensor('float32', t.data, t.shape);
  for (const [n, t] of weights) feeds[`a.${n}`] = new ort.Tensor('float32', t.data, t.shape);
  const r = await s.run(feeds);
  await s.release();
  return { loss: (r.loss.data as Float32Array)[0], grads: new Map(names.map((n) => [n, r[`grad.${n}`].data as Float32Array])), baseCasts };
}

describe('a float16 base under float32 LoRA adapters', () => {
  it('gives the float32 base\'s loss and adapter gradients, reading each base weight once through a Cast', async () => {
    const f32 = await run('float32');
    const f16 = await run('float16');
    expect(Math.abs(f16.loss - f32.loss)).toBeLessThanOrEqual(1e-6 * f32.loss);
    expect(f16.grads.size).toBe(2 * 7 * arch.nLayer); // A and B of 7 projections per layer
    for (const [n, d] of f32.grads) {
      const h = f16.grads.get(n)!;
      let diff = 0;
      let max = 0;
      d.forEach((x, i) => {
        diff = Math.max(diff, Math.abs(h[i] - x));
        max = Math.max(max, Math.abs(x));
      });
      expect(max, n).toBeGreaterThan(0);
      expect(diff / max, n).toBeLessThanOrEqual(1e-5);
    }
    // Every float16 input feeds exactly one node, its Cast: nothing else (no gradient) reads the base.
    expect(f16.baseCasts).toBe(base.size);
  });
});
