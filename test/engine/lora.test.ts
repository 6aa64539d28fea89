/**
 * LoRA as a graph transform: the adapted forward equals the base with the
 * adapter merged in, for GPT-2's [in, out] weights and nn.Linear's [out, in];
 * only the adapters are trained (the base gets no gradient and no optimizer
 * state); adapters round-trip through PEFT's file layout.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initGPT2 } from '../../src-main/engine/init.ts';
import { initLora, loadAdapterPeft, LoraGraph, loraModules, loraParamShapes, matchesTarget, mergeLora, PEFT_WEIGHTS_FILE, saveAdapterPeft, type Adapter, type LoraConfig } from '../../src-main/engine/lora.ts';
import { modelFamily } from '../../src-main/engine/models/family.ts';
import type { GPT2Config } from '../../src-main/engine/models/gpt2.ts';
import { createSession, int64Tensor, ort } from '../../src-main/engine/runtime.ts';
import { readSafetensors, type TensorMap } from '../../src-main/engine/safetensors.ts';
import { compileBitune } from '../../src-main/methods/bitune/graph.ts';
import { AdapterStep } from '../../src-main/methods/bitune/step.ts';
import { DEFAULT_VARIANT } from '../../src-main/methods/bitune/variant.ts';
import { Rng } from '../../src-main/engine/init.ts';

const arch: GPT2Config = { vocabSize: 23, nPositions: 32, nEmbd: 16, nLayer: 2, nHead: 2, layerNormEpsilon: 1e-5 };
const family = modelFamily(arch);
const base = initGPT2(arch, 3);
const cfg: LoraConfig = { r: 4, alpha: 8, dropout: 0, targets: ['attn.c_attn', 'mlp.c_proj'] };
const tmp = mkdtempSync(path.join(os.tmpdir(), 'stepwise-lora-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** An adapter with random (non-zero) A and B, so merging changes the model. */
function randomAdapter(name: string, seed: number): { adapter: Adapter; weights: TensorMap } {
  const adapter: Adapter = { name, config: cfg, modules: loraModules(family.paramShapes(), cfg, 'in_out') };
  const rng = new Rng(seed);
  const weights: TensorMap = new Map();
  for (const [n, shape] of loraParamShapes(adapter)) weights.set(n, { shape, data: Float32Array.from({ length: shape[0] * shape[1] }, () => rng.normal() * 0.2) });
  return { adapter, weights };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

async function logits(params: TensorMap, adapter: { adapter: Adapter; weights: TensorMap } | null, ids: number[]): Promise<Float32Array> {
  const lora = adapter ? { ...DEFAULT_VARIANT, method: 'lora' as const } : null;
  const { adapter: a, weights } = adapter ?? randomAdapter('default', 0);
  // The LoRA variant's graph; with zero B it is the bare base.
  const w = lora ? weights : new Map([...weights].map(([n, t]) => [n, { shape: t.shape, data: n.includes('lora_B') ? new Float32Array(t.data.length) : t.data }]));
  const c = compileBitune({ family, variant: { ...DEFAULT_VARIANT, method: 'lora' }, adapters: [a], batch: 1, prefix: 4, rest: ids.length - 4, mode: 'forward' });
  const s = await createSession(c.model);
  const feeds: Record<string, ort.Tensor> = {};
  for (const [n, t] of params) feeds[`p.${n}`] = new ort.Tensor('float32', t.data, t.shape);
  for (const [n, t] of w) feeds[`p.${n}`] = new ort.Tensor('float32', t.data, t.shape);
  feeds.input_ids = int64Tensor(ids, [1, ids.length]);
  feeds.position_ids = int64Tensor(ids.map((_, i) => i), [1, ids.length]);
  feeds.labels = int64Tensor(ids, [1, ids.length]);
  const out = await s.run(feeds);
  await s.release();
  return out.logits.data as Float32Array;
}

describe('LoRA', () => {
  it('targets match whole dotted suffixes or * globs, and a target matching nothing is an error', () => {
    expect(matchesTarget('h.0.attn.c_attn', 'attn.c_attn')).toBe(true);
    expect(matchesTarget('h.0.attn.c_attn', 'c_attn')).toBe(true);
    expect(matchesTarget('h.0.attn.c_attn', 'n.c_attn')).toBe(false);
    expect(matchesTarget('h.1.mlp.c_fc', 'h.1.*')).toBe(true);
    expect(matchesTarget('h.0.mlp.c_fc', 'h.1.*')).toBe(false);
    expect(loraModules(family.paramShapes(), cfg, 'in_out').map((m) => `${m.module} ${m.in}→${m.out}`)).toEqual([
      'h.0.attn.c_attn 16→48', 'h.0.mlp.c_proj 64→16', 'h.1.attn.c_attn 16→48', 'h.1.mlp.c_proj 64→16',
    ]);
    expect(() => loraModules(family.paramShapes(), { ...cfg, targets: ['q_proj'] }, 'in_out')).toThrow("LoRA target 'q_proj' matches no 2-D weight of the model");
  });

  it('the adapted forward equals the base with the adapter merged in (and differs from the bare base)', async () => {
    const ad = randomAdapter('default', 1);
    const ids = [3, 5, 7, 1, 2, 9, 4, 4, 8, 0];
    const adapted = await logits(base, ad, ids);
    const merged = await logits(mergeLora(base, ad.adapter, ad.weights, 'in_out'), null, ids);
    const bare = await logits(base, null, ids);
    expect(maxDiff(adapted, merged)).toBeLessThan(1e-4);
    expect(maxDiff(adapted, bare)).toBeGreaterThan(1e-2);
  });

  it('adapts nn.Linear [out, in] weights read through a Transpose the same way', async () => {
    const W = { shape: [3, 5], data: Float32Array.from({ length: 15 }, (_, i) => (i % 7) / 7 - 0.4) }; // [out, in]
    const adapter: Adapter = { name: 'default', config: { r: 2, alpha: 4, dropout: 0, targets: ['proj'] }, modules: loraModules(new Map([['proj.weight', [3, 5]]]), { r: 2, alpha: 4, dropout: 0, targets: ['proj'] }, 'out_in') };
    expect(adapter.modules).toEqual([{ module: 'proj', in: 5, out: 3 }]);
    const weights: TensorMap = new Map([
      ['proj.lora_A.default.weight', { shape: [2, 5], data: Float32Array.from({ length: 10 }, (_, i) => 0.1 * i - 0.3) }],
      ['proj.lora_B.default.weight', { shape: [3, 2], data: Float32Array.from([0.5, -1, 0.25, 2, -0.75, 1]) }],
    ]);
    const p: Record<string, import('../../src-main/engine/onnx/graph.ts').Value> = {};
    const g = new LoraGraph({ adapters: [adapter], param: (n) => p[n] });
    p['proj.weight'] = g.input('p.proj.weight', 'float32', [3, 5]);
    for (const [n, t] of weights) p[n] = g.input(`p.${n}`, 'float32', t.shape);
    const x = g.input('x', 'float32', [2, 5]);
    const y = g.withAdapter('default', () => g.matmul(x, g.transpose(p['proj.weight'], [1, 0])));
    const s = await createSession(g.toModel([g.named(y, 'y')]));
    const xs = Float32Array.from({ length: 10 }, (_, i) => Math.sin(i));
    const out = await s.run({ x: new ort.Tensor('float32', xs, [2, 5]), 'p.proj.weight': new ort.Tensor('float32', W.data, W.shape), ...Object.fromEntries([...weights].map(([n, t]) => [`p.${n}`, new ort.Tensor('float32', t.data, t.shape)])) });
    const merged = mergeLora(new Map([['proj.weight', W]]), adapter, weights, 'out_in').get('proj.weight')!.data;
    const expected = new Float32Array(6);
    for (let b = 0; b < 2; b++) for (let o = 0; o < 3; o++) for (let i = 0; i < 5; i++) expected[b * 3 + o] += xs[b * 5 + i] * merged[o * 5 + i];
    expect(maxDiff(out.y.data as Float32Array, expected)).toBeLessThan(1e-5);
    await s.release();
  });

  it('dropout masks are a function of the step: kept with probability 1 − p, the same at the same step, new at another step and at another site', async () => {
    const n = 64;
    const config = { r: n, alpha: n, dropout: 0.25, targets: ['a', 'b'] };
    const shapes = new Map([['a.weight', [n, n]], ['b.weight', [n, n]]]);
    const adapter: Adapter = { name: 'default', config, modules: loraModules(shapes, config, 'in_out') };
    const p: Record<string, import('../../src-main/engine/onnx/graph.ts').Value> = {};
    let step: import('../../src-main/engine/onnx/graph.ts').Value;
    const g = new LoraGraph({ adapters: [adapter], param: (name) => p[name], training: { step: () => step } });
    step = g.input('step', 'float32', []);
    for (const [name, shape] of [...shapes, ...loraParamShapes(adapter)]) p[name] = g.input(`p.${name}`, 'float32', shape);
    const x = g.input('x', 'float32', [2, n]);
    // W = 0, A = B = I, scale 1: each output is the dropped-out input, 0 or 1 / (1 − p).
    const [ya, yb] = g.withAdapter('default', () => [g.matmul(x, p['a.weight']), g.matmul(x, p['b.weight'])]);
    const s = await createSession(g.toModel([g.named(ya, 'ya'), g.named(yb, 'yb')]));
    const eye = new Float32Array(n * n).map((_, i) => (i % (n + 1) === 0 ? 1 : 0));
    const feeds = (t: number) => ({
      step: new ort.Tensor('float32', Float32Array.of(t), []), x: new ort.Tensor('float32', new Float32Array(2 * n).fill(1), [2, n]),
      ...Object.fromEntries([...shapes, ...loraParamShapes(adapter)].map(([name, shape]) => [`p.${name}`, new ort.Tensor('float32', name.includes('lora') ? eye : new Float32Array(n * n), shape)])),
    });
    const masks = async (t: number) => {
      const out = await s.run(feeds(t));
      return [out.ya.data as Float32Array, out.yb.data as Float32Array].map((y) => Array.from(y, (v) => (v === 0 ? 0 : v === Math.fround(1 / 0.75) ? 1 : NaN)));
    };
    const [a1, b1] = await masks(1);
    const [a1again] = await masks(1);
    const [a2] = await masks(2);
    const all: number[] = [];
    for (let t = 1; t <= 40; t++) all.push(...(await masks(t)).flat());
    expect(all.every((v) => v === 0 || v === 1)).toBe(true);
    expect(all.reduce((a, b) => a + b, 0) / all.length).toBeCloseTo(0.75, 1.7); // 10,240 draws: ±0.0043 (1σ)
    expect(a1again).toEqual(a1);
    const differ = (u: number[], v: number[]) => u.filter((x, i) => x !== v[i]).length / u.length;
    expect(differ(a1, a2)).toBeGreaterThan(0.2); // two independent masks differ in 2·p·(1 − p) = 37.5% of places
    expect(differ(a1, b1)).toBeGreaterThan(0.2);
    await s.release();
  });

  it('trains only the adapters: the step graph takes the base as inputs and its optimizer state holds adapter parameters only', async () => {
    const adapter: Adapter = { name: 'default', config: cfg, modules: loraModules(family.paramShapes(), cfg, 'in_out') };
    const variant = { ...DEFAULT_VARIANT, method: 'lora' as const };
    const grad = compileBitune({ family, variant, adapters: [adapter], batch: 2, prefix: 8, rest: 8, mode: 'grad' });
    expect(grad.outputs.filter((o) => o.startsWith('grad.'))).toEqual([...loraParamShapes(adapter).keys()].map((n) => `grad.${n}`));
    const init = initLora(adapter, 5);
    const step = await AdapterStep.create({ family, variant, adapters: [adapter], base, init, batch: 2, prefix: 8, seq: 16, adamw: { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 1 }, threads: 1 });
    expect(step.layout.total).toBe(2 * 4 * (16 + 48) + 2 * 4 * (64 + 16)); // (A: r·in + B: out·r) per module
    const baseBefore = Float32Array.from(base.get('h.0.attn.c_attn.weight')!.data);
    const ids = BigInt64Array.from({ length: 32 }, (_, i) => BigInt((i * 5) % 23));
    const positions = BigInt64Array.from({ length: 32 }, (_, i) => BigInt(i % 16));
    const labels = ids.map((v, i) => (i % 16 >= 9 ? v : -100n));
    const losses: number[] = [];
    for (let i = 0; i < 30; i++) losses.push((await step.run(ids, labels, 1e-2, 16, positions)).loss);
    expect(losses[29]).toBeLessThan(losses[0] - 0.1);
    expect(maxDiff(base.get('h.0.attn.c_attn.weight')!.data, baseBefore)).toBe(0);
    expect([...step.snapshot().keys()].every((n) => n.includes('.lora_'))).toBe(true);
    await step.release();
  });

  it("saves an adapter alone in PEFT's layout and loads it back", () => {
    const ad = randomAdapter('default', 2);
    const dir = path.join(tmp, 'peft');
    saveAdapterPeft(dir, ad.adapter, ad.weights, { modulePrefix: 'transformer.', layout: 'in_out', baseModel: 'gpt2-tiny' });
    const config = JSON.parse(readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 4, lora_alpha: 8, target_modules: ['attn.c_attn', 'mlp.c_proj'], fan_in_fan_out: true, base_model_name_or_path: 'gpt2-tiny' });
    const file = readSafetensors(path.join(dir, PEFT_WEIGHTS_FILE)).tensors;
    expect(file.get('base_model.model.transformer.h.0.attn.c_attn.lora_A.weight')!.shape).toEqual([4, 16]);
    expect(file.get('base_model.model.transformer.h.1.mlp.c_proj.lora_B.weight')!.shape).toEqual([16, 4]);
    const back = loadAdapterPeft(dir, 'prefill', family.paramShapes(), { modulePrefix: 'transformer.', layout: 'in_out' });
    expect(back.adapter.modules).toEqual(ad.adapter.modules);
    expect(back.adapter.config).toEqual({ r: 4, alpha: 8, dropout: 0, targets: ['attn.c_attn', 'mlp.c_proj'] });
    for (const [n, t] of ad.weights) expect(back.weights.get(n.replace('.default.', '.prefill.'))!.data).toEqual(t.data);
    expect(() => loadAdapterPeft(dir, 'x', new Map([['wte.weight', [23, 16]]]), { modulePrefix: 'transformer.', layout: 'in_out' })).toThrow(/adapts 'h.0.attn.c_attn', which the model has no 2-D weight for/);
  });
});
