/**
 * Bitune on a Llama (there is no Llama Bitune reference): the graph of
 * methods/bitune over the llama-tiny base (grouped-query attention: the mixed
 * cache has 2 key/value heads), with LoRA on every q/k/v/o and MLP projection
 * (nn.Linear weights, [out, in]), checked by consistency with the engine's
 * own Llama forward on merged adapters:
 * - α = 0 (θ = 0): the mixed cache is the causal pass's, and the answer
 *   logits equal the whole sequence run causally with the `default` adapter;
 * - any α: every layer's mixed keys and values are (1 − α)·causal + α·bidirectional,
 *   the two caches computed by the generator (causal with `default` merged,
 *   unmasked with `prefill` merged);
 * - the gradients of θ and of an adapter entry match finite differences;
 * - AdapterStep trains: the loss falls, θ moves, the base stays as it was.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Generator } from '../../src-main/engine/generate.ts';
import { loadLlamaFolder } from '../../src-main/engine/hf/llama-folder.ts';
import { initLora, loraModules, loraParamShapes, mergeLora, type Adapter, type LoraConfig } from '../../src-main/engine/lora.ts';
import { modelFamily, type ModelFamily } from '../../src-main/engine/models/family.ts';
import type { LlamaConfig } from '../../src-main/engine/models/llama.ts';
import { createSession, int64Tensor, ort } from '../../src-main/engine/runtime.ts';
import type { TensorMap } from '../../src-main/engine/safetensors.ts';
import { compileBitune, type BituneGraph } from '../../src-main/methods/bitune/graph.ts';
import { layRows } from '../../src-main/methods/bitune/layout.ts';
import { DEFAULT_TARGETS } from '../../src-main/methods/bitune/recipe.ts';
import { AdapterStep } from '../../src-main/methods/bitune/step.ts';
import { DEFAULT_VARIANT, MIX_K, MIX_V, mixingAlpha } from '../../src-main/methods/bitune/variant.ts';
import { randn } from './fd.ts';
import { relDiff } from '../fixtures/compare.ts';

const REF = path.resolve(__dirname, '../../../shared/reference/llama-tiny');

let arch: LlamaConfig;
let family: ModelFamily;
let base: TensorMap;
let adapters: Adapter[];
/** Both adapters with non-zero A and B, so each pass differs from the base and from the other. */
let weights: TensorMap;
let prompt: number[];
let answer: number[];

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

beforeAll(() => {
  const m = loadLlamaFolder(REF);
  arch = m.config;
  base = m.params;
  family = modelFamily(arch);
  const lora: LoraConfig = { r: 4, alpha: 8, dropout: 0, targets: DEFAULT_TARGETS.llama };
  adapters = ['default', 'prefill'].map((name) => ({ name, config: lora, modules: loraModules(family.paramShapes(), lora, 'out_in') }));
  weights = new Map();
  let seed = 11;
  for (const a of adapters) for (const [name, shape] of loraParamShapes(a)) weights.set(name, { shape, data: Float32Array.from(randn(shape[0] * shape[1], seed++), (x) => 0.1 * x) });
  const ids: number[][] = JSON.parse(readFileSync(path.join(REF, 'batch.json'), 'utf8')).input_ids;
  prompt = ids[0].slice(0, 6);
  answer = ids[0].slice(6);
});

/** The Bitune 'forward' or 'grad' graph run on the one-row case with mixing parameters θ_k, θ_v. */
async function bitune(mode: 'forward' | 'grad', thetaK: number[], thetaV: number[]) {
  const P = prompt.length;
  let compiled = sessions.get(mode);
  if (!compiled) {
    const graph = compileBitune({ family, variant: DEFAULT_VARIANT, adapters, batch: 1, prefix: P - 1, rest: answer.length + 1, mode });
    compiled = { c: graph, s: await createSession(graph.model, { threads: 1 }) };
    sessions.set(mode, compiled);
  }
  const { c, s } = compiled;
  const f: Record<string, ort.Tensor> = {};
  for (const [name, t] of base) f[`p.${name}`] = new ort.Tensor('float32', t.data, t.shape);
  for (const e of c.trainable.entries) {
    const data = e.name === MIX_K ? Float32Array.from(thetaK) : e.name === MIX_V ? Float32Array.from(thetaV) : weights.get(e.name)!.data;
    f[`p.${e.name}`] = new ort.Tensor('float32', data, e.shape);
  }
  const ids = [...prompt, ...answer];
  f.input_ids = int64Tensor(ids, [1, ids.length]);
  f.position_ids = int64Tensor(range(ids.length), [1, ids.length]);
  f.labels = int64Tensor(ids.map((id, i) => (i < P ? -100 : id)), [1, ids.length]);
  return { c, out: await s.run(f) };
}
const sessions = new Map<string, { c: BituneGraph; s: ort.InferenceSession }>();
afterAll(async () => {
  for (const { s } of sessions.values()) await s.release();
});

/** The base with one adapter merged, as a generator. */
function merged(adapter: string): Generator<LlamaConfig> {
  const a = adapters.find((x) => x.name === adapter)!;
  return Generator.create(arch, mergeLora(base, a, weights, 'out_in'), { threads: 1 });
}

describe('Bitune on a Llama, by consistency with the Llama forward', () => {
  it('α = 0: the answer logits equal the whole sequence run causally with the default adapter', async () => {
    const zeros = new Array(arch.nLayer).fill(0);
    const { out } = await bitune('forward', zeros, zeros);
    expect(Array.from(out.alpha_k.data as Float32Array)).toEqual(zeros);
    const seq = [...prompt, ...answer];
    const T = seq.length;
    const mask = new Uint8Array(T * T);
    for (let t = 0; t < T; t++) for (let s = 0; s <= t; s++) mask[t * T + s] = 1;
    const gen = merged('default');
    const full = await gen.step({ ids: [seq], positions: [range(T)], mask, past: null }, { allLogits: true });
    await gen.release();
    const V = arch.vocabSize;
    const ours = out.logits.data as Float32Array; // [1, S, V]: the last prompt token, then the answer
    expect(ours.length).toBe((answer.length + 1) * V);
    expect(relDiff(ours, full.logits.subarray((prompt.length - 1) * V))).toBeLessThanOrEqual(1e-5);
  });

  it('every layer\'s mixed keys and values are (1 − α)·causal + α·bidirectional, with 2 key/value heads', async () => {
    const thetaK = [0.01, -0.03];
    const thetaV = [0.002, 1e6]; // α = 0.5, 0.75 for keys; 1/6 and 1 for values
    const { out } = await bitune('forward', thetaK, thetaV);
    const L = prompt.length - 1;
    const ids = [prompt.slice(0, L)];
    const causalMask = new Uint8Array(L * L);
    for (let t = 0; t < L; t++) for (let s = 0; s <= t; s++) causalMask[t * L + s] = 1;
    const gd = merged('default');
    const gp = merged('prefill');
    const causal = (await gd.step({ ids, positions: [range(L)], mask: causalMask, past: null })).present;
    const bidir = (await gp.step({ ids, positions: [range(L)], mask: new Uint8Array(L * L).fill(1), past: null })).present;
    await gd.release();
    await gp.release();
    for (let l = 0; l < arch.nLayer; l++) {
      for (const [kind, theta] of [['key', thetaK], ['value', thetaV]] as const) {
        const a = mixingAlpha(theta[l], DEFAULT_VARIANT.sInit);
        const c = causal[l][kind];
        expect(c.dims).toEqual([1, arch.nKvHead, L, arch.headDim]);
        const b = bidir[l][kind].data as Float32Array;
        const want = Float32Array.from(c.data as Float32Array, (x, i) => (1 - a) * x + a * b[i]);
        const name = `${kind === 'key' ? 'mixed_k' : 'mixed_v'}.${l}`;
        expect(relDiff(out[name].data as Float32Array, want), name).toBeLessThanOrEqual(1e-5);
      }
    }
  });

  it('gradients of θ_k, θ_v and an adapter entry match central differences of the loss', async () => {
    // θ well away from 0, where α = |θ|/(|θ| + 0.01) bends sharply, so float32 central differences are accurate.
    const thetaK = [0.05, 0.08];
    const thetaV = [0.06, -0.05];
    const { out } = await bitune('grad', thetaK, thetaV);
    const loss = async (k: number[], v: number[]) => (await bitune('forward', k, v)).out.loss.data[0] as number;
    const h = 3e-3;
    const checks: [string, number, number][] = [];
    for (let l = 0; l < arch.nLayer; l++) {
      const kp = [...thetaK];
      const km = [...thetaK];
      kp[l] += h;
      km[l] -= h;
      checks.push([MIX_K, l, ((await loss(kp, thetaV)) - (await loss(km, thetaV))) / (2 * h)]);
      const vp = [...thetaV];
      const vm = [...thetaV];
      vp[l] += h;
      vm[l] -= h;
      checks.push([MIX_V, l, ((await loss(thetaK, vp)) - (await loss(thetaK, vm))) / (2 * h)]);
    }
    for (const [name, l, numeric] of checks) {
      const analytic = (out[`grad.${name}`].data as Float32Array)[l];
      expect(Math.abs(analytic - numeric), `${name}[${l}]: ${analytic} vs ${numeric}`).toBeLessThanOrEqual(2e-3 * Math.max(1, Math.abs(numeric)));
    }
    const maxGrad = Math.max(...checks.map(([name, l]) => Math.abs((out[`grad.${name}`].data as Float32Array)[l])));
    expect(maxGrad).toBeGreaterThan(1e-3); // the check compared something
    // One entry of the prefill adapter's lora_B on layer 0's k_proj: it reaches the loss only through the mixed keys.
    const name = 'model.layers.0.self_attn.k_proj.lora_B.prefill.weight';
    const t = weights.get(name)!;
    const keep = t.data[3];
    const at = async (x: number) => {
      t.data[3] = x;
      return loss(thetaK, thetaV);
    };
    const numeric = ((await at(keep + h)) - (await at(keep - h))) / (2 * h);
    t.data[3] = keep;
    const analytic = (out[`grad.${name}`].data as Float32Array)[3];
    expect(Math.abs(analytic)).toBeGreaterThan(1e-4);
    expect(Math.abs(analytic - numeric)).toBeLessThanOrEqual(2e-3 * Math.max(1, Math.abs(numeric)));
  });

  it('an AdapterStep trains both adapters and the mixing on a padded batch while the base stays frozen', async () => {
    const pairs = [{ prompt, answer }, { prompt: prompt.slice(2), answer: answer.slice(0, 3) }];
    const prefix = prompt.length - 1;
    const rest = answer.length + 1;
    const { ids, labels, positions } = layRows(pairs, prefix, rest, 0);
    const init: TensorMap = new Map();
    for (const a of adapters) for (const [n, t] of initLora(a, 7)) init.set(n, t);
    for (const n of [MIX_K, MIX_V]) init.set(n, { shape: [arch.nLayer], data: new Float32Array(arch.nLayer).fill(DEFAULT_VARIANT.sInit) });
    const baseCopy = new Map([...base].map(([n, t]) => [n, Float32Array.from(t.data)]));
    const step = await AdapterStep.create({
      family, variant: DEFAULT_VARIANT, adapters, base, init, batch: 2, prefix, seq: prefix + rest,
      adamw: { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 1 }, threads: 1,
    });
    const losses: number[] = [];
    for (let i = 0; i < 40; i++) losses.push((await step.run(ids, labels, 1e-2, prefix + rest, positions)).loss);
    const after = step.snapshot();
    await step.release();
    expect(losses[0]).toBeGreaterThan(2);
    expect(losses[39]).toBeLessThan(0.5 * losses[0]);
    for (const n of [MIX_K, MIX_V]) for (const x of after.get(n)!.data) expect(Math.abs(x - DEFAULT_VARIANT.sInit), n).toBeGreaterThan(1e-3);
    // The prefill adapter learned too (its B starts at zero).
    expect(Math.max(...Array.from(after.get('model.layers.0.self_attn.v_proj.lora_B.prefill.weight')!.data, Math.abs))).toBeGreaterThan(1e-3);
    for (const [n, t] of base) expect(t.data, n).toEqual(baseCopy.get(n));
  });
});
