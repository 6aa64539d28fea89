/**
 * Bitune's variants and its inference, by consistency on a small random GPT-2
 * with random adapters: θ = 0 (α = 0) gives LoRA's answer logits; 'only-causal'
 * is 'full' with a causal prefill mask; every ablation and mask runs and gives
 * a finite loss; greedy generation from the mixed cache (prefill graph, then
 * cached decoding with the default adapter merged into the base) writes the
 * tokens the full computation ranks first at every answer position.
 */
import { describe, expect, it } from 'vitest';
import { halfBits } from '../../src-main/engine/half.ts';
import { initGPT2, Rng } from '../../src-main/engine/init.ts';
import { loraModules, loraParamShapes, type Adapter, type LoraConfig } from '../../src-main/engine/lora.ts';
import { modelFamily } from '../../src-main/engine/models/family.ts';
import type { GPT2Config } from '../../src-main/engine/models/gpt2.ts';
import { createSession, int64Tensor, ort } from '../../src-main/engine/runtime.ts';
import { argmax } from '../../src-main/engine/sampling.ts';
import type { TensorMap } from '../../src-main/engine/safetensors.ts';
import { compileBitune } from '../../src-main/methods/bitune/graph.ts';
import { BituneModel } from '../../src-main/methods/bitune/infer.ts';
import { layRows } from '../../src-main/methods/bitune/layout.ts';
import { AdapterStep } from '../../src-main/methods/bitune/step.ts';
import { ABLATIONS, DEFAULT_VARIANT, MIX_K, MIX_V, PREFILL_MASKS, type Variant } from '../../src-main/methods/bitune/variant.ts';

const arch: GPT2Config = { vocabSize: 17, nPositions: 32, nEmbd: 16, nLayer: 2, nHead: 2, layerNormEpsilon: 1e-5 };
const family = modelFamily(arch);
const base = initGPT2(arch, 11);
const cfg: LoraConfig = { r: 2, alpha: 4, dropout: 0, targets: ['attn.c_attn', 'mlp.c_fc'] };
const modules = loraModules(family.paramShapes(), cfg, 'in_out');
const adapters: Adapter[] = ['default', 'prefill'].map((name) => ({ name, config: cfg, modules }));
const rng = new Rng(4);
const trained: TensorMap = new Map();
for (const a of adapters) for (const [n, s] of loraParamShapes(a)) trained.set(n, { shape: s, data: Float32Array.from({ length: s[0] * s[1] }, () => rng.normal() * 0.3) });
const theta = (k: number[], v: number[]) => {
  trained.set(MIX_K, { shape: [2], data: Float32Array.from(k) });
  trained.set(MIX_V, { shape: [2], data: Float32Array.from(v) });
};
theta([0.02, -0.005], [0.01, 0.03]);

const prompt = [3, 9, 4, 12, 5, 1];
const answer = [7, 2, 8];

async function forward(variant: Variant, ids: number[], P: number): Promise<{ loss: number; logits: Float32Array }> {
  const c = compileBitune({ family, variant, adapters: adapters.filter((a) => c0(variant).includes(a.name)), batch: 1, prefix: P - 1, rest: ids.length - P + 1, mode: 'forward' });
  const s = await createSession(c.model);
  const feeds: Record<string, ort.Tensor> = {};
  for (const [n, t] of base) feeds[`p.${n}`] = new ort.Tensor('float32', t.data, t.shape);
  for (const e of c.trainable.entries) feeds[`p.${e.name}`] = new ort.Tensor('float32', trained.get(e.name)!.data, e.shape);
  feeds.input_ids = int64Tensor(ids, [1, ids.length]);
  feeds.position_ids = int64Tensor(ids.map((_, i) => i), [1, ids.length]);
  feeds.labels = int64Tensor(ids.map((id, i) => (i < P ? -100 : id)), [1, ids.length]);
  const out = await s.run(feeds);
  await s.release();
  return { loss: (out.loss.data as Float32Array)[0], logits: out.logits.data as Float32Array };
}
const c0 = (v: Variant) => (v.method === 'lora' || v.ablation === 'naive-bidirectional' || v.ablation === 'shared-adapter' ? ['default'] : ['default', 'prefill']);
/** The float a float16 bit pattern stands for. */
const halfValue = (h: number) => {
  const e = (h >> 10) & 31;
  const m = h & 1023;
  const v = e === 0 ? m * 2 ** -24 : e === 31 ? (m ? NaN : Infinity) : (1 + m / 1024) * 2 ** (e - 15);
  return h & 0x8000 ? -v : v;
};
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

describe('Bitune variants and inference', () => {
  it('θ = 0 (α = 0 in every layer) gives exactly the LoRA logits', async () => {
    const ids = [...prompt, ...answer];
    theta([0, 0], [0, 0]);
    const bitune = await forward(DEFAULT_VARIANT, ids, prompt.length);
    theta([0.02, -0.005], [0.01, 0.03]);
    const lora = await forward({ ...DEFAULT_VARIANT, method: 'lora' }, ids, prompt.length);
    expect(maxDiff(bitune.logits, lora.logits)).toBeLessThan(1e-5);
    const mixed = await forward(DEFAULT_VARIANT, ids, prompt.length);
    expect(maxDiff(mixed.logits, lora.logits)).toBeGreaterThan(1e-3);
  });

  it("'only-causal' is the full method with a causal prefill mask, and every ablation and mask gives a finite loss", async () => {
    const ids = [...prompt, ...answer];
    const onlyCausal = await forward({ ...DEFAULT_VARIANT, ablation: 'only-causal' }, ids, prompt.length);
    const causalMask = await forward({ ...DEFAULT_VARIANT, prefillMask: 'causal' }, ids, prompt.length);
    expect(maxDiff(onlyCausal.logits, causalMask.logits)).toBe(0);
    const losses = new Set<number>();
    for (const ablation of ABLATIONS) {
      for (const prefillMask of PREFILL_MASKS) {
        const { loss } = await forward({ ...DEFAULT_VARIANT, ablation, prefillMask }, ids, prompt.length);
        expect(Number.isFinite(loss), `${ablation} / ${prefillMask}`).toBe(true);
        losses.add(Math.round(loss * 1e6));
      }
    }
    expect(losses.size).toBeGreaterThanOrEqual(8); // the variants compute different things
  });

  it('greedy generation from the mixed cache writes what the full computation ranks first, for prompts of different lengths', async () => {
    const model = new BituneModel({ family, variant: DEFAULT_VARIANT, adapters, base, trained, layout: 'in_out' }, { threads: 1 });
    const prompts = [prompt, [6, 2, 11], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]];
    const out = await model.generate(prompts, { maxNewTokens: 4, eosId: 0, padId: 0 });
    await model.release();
    for (let b = 0; b < prompts.length; b++) {
      const gen = out[b];
      expect(gen.length).toBeGreaterThan(0);
      const ids = [...prompts[b], ...gen];
      const { logits } = await forward(DEFAULT_VARIANT, ids, prompts[b].length);
      // Answer part position j (the last prompt token, then the generated ones) predicts generated token j.
      gen.forEach((tok, j) => expect(argmax(logits, j * arch.vocabSize, arch.vocabSize), `row ${b} token ${j}`).toBe(tok));
    }
  });

  it('a float16 base (adapters float32) trains and scores exactly as the same weights fed as float32', async () => {
    // Base weights already on the float16 grid, so widening them in the graph is exact.
    const half: TensorMap = new Map([...base].map(([n, t]) => [n, { shape: t.shape, data: Float32Array.from(t.data, (x) => halfValue(halfBits(x))) }]));
    const init: TensorMap = new Map([...trained].map(([n, t]) => [n, { shape: t.shape, data: Float32Array.from(t.data) }]));
    const rows = [{ prompt, answer: [...answer, 0] }, { prompt: prompt.slice(2), answer: [answer[0], 0] }];
    const { ids, labels, positions } = layRows(rows, 8, 8, 0);
    const adamw = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 };
    const results = [];
    for (const baseDtype of ['float32', 'float16'] as const) {
      const step = await AdapterStep.create({ family, variant: DEFAULT_VARIANT, adapters, base: half, init, batch: 2, prefix: 8, seq: 16, adamw, baseDtype, threads: 1 });
      const losses = [(await step.run(ids, labels, 1e-2, 16, positions)).loss, (await step.run(ids, labels, 1e-2, 16, positions)).loss];
      const params = step.snapshot();
      await step.release();
      const model = new BituneModel({ family, variant: DEFAULT_VARIANT, adapters, base: half, trained: params, layout: 'in_out', baseDtype }, { threads: 1 });
      const scored = await model.score(rows, 0);
      const generated = await model.generate([prompt], { maxNewTokens: 3, eosId: 0, padId: 0 });
      await model.release();
      results.push({ losses, params, scored, generated });
    }
    const [f32, f16] = results;
    expect(f16.losses).toEqual(f32.losses);
    expect(f16.losses[1]).toBeLessThan(f16.losses[0]);
    for (const [n, t] of f32.params) expect(Array.from(f16.params.get(n)!.data), n).toEqual(Array.from(t.data));
    expect(f16.scored).toEqual(f32.scored);
    expect(f16.generated).toEqual(f32.generated);
  });
});
