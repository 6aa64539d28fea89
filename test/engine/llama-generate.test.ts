/**
 * Llama generation with a key/value cache through the family-generic
 * Generator, on the llama-tiny reference weights (grouped-query attention: the
 * cache holds 2 key/value heads for 4 query heads) and on a Qwen2-style
 * variant with q/k/v biases and tied embeddings: cached decoding reproduces
 * the uncached full forward (and PyTorch's logits), padded batches equal single
 * prompts, greedy tokens are the argmax of the full-sequence logits.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Generator, type KvCache } from '../../src-main/engine/generate.ts';
import { llamaConfigFromHf } from '../../src-main/engine/hf/llama-folder.ts';
import { llamaParamShapes, ropeInvFreq, type LlamaConfig } from '../../src-main/engine/models/llama.ts';
import { halfBits } from '../../src-main/engine/half.ts';
import { argmax } from '../../src-main/engine/sampling.ts';
import { readSafetensors, type TensorMap } from '../../src-main/engine/safetensors.ts';
import { randn } from './fd.ts';
import { relDiff } from '../fixtures/compare.ts';

const REF = path.resolve(__dirname, '../../../shared/reference/llama-tiny');

let arch: LlamaConfig;
let params: TensorMap;
let expected: TensorMap;
let inputIds: number[][]; // [2, 10]
let gen: Generator<LlamaConfig>;

/** Causal mask [B, T, T] for unpadded rows. */
function causal(B: number, T: number): Uint8Array {
  const m = new Uint8Array(B * T * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let s = 0; s <= t; s++) m[(b * T + t) * T + s] = 1;
  return m;
}

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

/** All-position logits [B, T, V] of whole sequences, without a cache. */
async function fullLogits(g: Generator<LlamaConfig>, seqs: number[][]): Promise<Float32Array> {
  const T = seqs[0].length;
  return (await g.step({ ids: seqs, positions: seqs.map(() => range(0, T)), mask: causal(seqs.length, T), past: null }, { allLogits: true })).logits;
}

/** Prefill `prefix` tokens, then one token per step; the logits of every position [B, T, V]. */
async function cachedLogits(g: Generator<LlamaConfig>, seqs: number[][], prefix: number, V: number): Promise<{ logits: Float32Array; cache: KvCache }> {
  const B = seqs.length;
  const T = seqs[0].length;
  const all = new Float32Array(B * T * V);
  let out = await g.step({ ids: seqs.map((r) => r.slice(0, prefix)), positions: seqs.map(() => range(0, prefix)), mask: causal(B, prefix), past: null }, { allLogits: true });
  for (let b = 0; b < B; b++) all.set(out.logits.subarray(b * prefix * V, (b + 1) * prefix * V), b * T * V);
  for (let t = prefix; t < T; t++) {
    out = await g.step({ ids: seqs.map((r) => [r[t]]), positions: seqs.map(() => [t]), mask: new Uint8Array(B * (t + 1)).fill(1), past: out.present });
    for (let b = 0; b < B; b++) all.set(out.logits.subarray(b * V, (b + 1) * V), (b * T + t) * V);
  }
  return { logits: all, cache: out.present };
}

beforeAll(() => {
  arch = llamaConfigFromHf(JSON.parse(readFileSync(path.join(REF, 'config.json'), 'utf8')));
  params = readSafetensors(path.join(REF, 'model.safetensors')).tensors;
  expected = readSafetensors(path.join(REF, 'expected.safetensors')).tensors;
  inputIds = JSON.parse(readFileSync(path.join(REF, 'batch.json'), 'utf8')).input_ids;
  gen = Generator.create(arch, params, { threads: 1 });
});

describe('Llama decoding with a key/value cache', () => {
  it('prefill of 3 tokens then 7 one-token steps reproduce PyTorch logits at every position within 1e-5 relative, with a 2-head cache', async () => {
    const { logits, cache } = await cachedLogits(gen, inputIds, 3, arch.vocabSize);
    expect(cache[0].key.dims).toEqual([2, arch.nKvHead, 10, arch.headDim]); // the last present: 9 cached + 1 new, 2 key/value heads
    expect(relDiff(logits, expected.get('logits')!.data)).toBeLessThanOrEqual(1e-5);
    expect(relDiff(await fullLogits(gen, inputIds), logits)).toBeLessThanOrEqual(1e-5);
  });

  it('greedy tokens are the argmax of the uncached full-sequence logits at the previous position', async () => {
    const prompt = inputIds[1].slice(0, 4);
    const a = await gen.generate([prompt], { maxNewTokens: 12 });
    expect(a.rows[0].tokens).toHaveLength(12);
    const seq = [...prompt, ...a.rows[0].tokens];
    const logits = await fullLogits(gen, [seq]);
    const V = arch.vocabSize;
    for (let i = 0; i < 12; i++) expect(a.rows[0].tokens[i], `token ${i}`).toBe(argmax(logits, (prompt.length - 1 + i) * V, V));
  });

  it('a left-padded batch of prompts of lengths 2, 6 and 10 gives each row the tokens it gets alone (per-row rotary positions)', async () => {
    const prompts = [inputIds[0].slice(0, 2), inputIds[1].slice(0, 6), inputIds[0]];
    const batched = await gen.generate(prompts, { maxNewTokens: 8 });
    for (let r = 0; r < prompts.length; r++) {
      const alone = await gen.generate([prompts[r]], { maxNewTokens: 8 });
      expect(batched.rows[r].tokens, `row ${r}`).toEqual(alone.rows[0].tokens);
    }
  });

  it('probes give the query heads\' attention [H, S, S] and every layer\'s residual stream [S, C]', async () => {
    const out = await gen.generate([inputIds[0].slice(0, 5)], { maxNewTokens: 3, probes: true });
    const S = 8;
    const probe = out.probes![0];
    expect(probe.hidden).toHaveLength(arch.nLayer + 1);
    expect(probe.hidden[0].length).toBe(S * arch.hiddenSize);
    expect(probe.attention[0].length).toBe(arch.nHead * S * S);
    for (let h = 0; h < arch.nHead; h++) {
      for (let j = 0; j < S; j++) {
        let sum = 0;
        for (let k = 0; k < S; k++) sum += probe.attention[1][(h * S + j) * S + k];
        expect(sum).toBeCloseTo(1, 5); // each query's attention is a distribution over the keys so far
      }
    }
  });
});

describe('Llama variants', () => {
  it('a Qwen2-style model (q/k/v biases, tied embeddings, one key/value head) decodes with a cache exactly as it runs uncached', async () => {
    const qwen: LlamaConfig = { ...arch, nKvHead: 1, qkvBias: true, tieWordEmbeddings: true, ropeTheta: 1e6 };
    const p: TensorMap = new Map();
    let seed = 1;
    for (const [name, shape] of llamaParamShapes(qwen)) {
      const n = shape.reduce((a, b) => a * b, 1);
      p.set(name, { shape, data: Float32Array.from(randn(n, seed++), (x) => (name.endsWith('norm.weight') ? 1 + 0.1 * x : 0.3 * x)) });
    }
    expect(p.has('lm_head.weight')).toBe(false);
    expect(p.get('model.layers.0.self_attn.k_proj.bias')!.shape).toEqual([arch.headDim]);
    const g = Generator.create(qwen, p, { threads: 1 });
    const { logits } = await cachedLogits(g, inputIds, 4, qwen.vocabSize);
    expect(relDiff(logits, await fullLogits(g, inputIds))).toBeLessThanOrEqual(1e-5);
    await g.release();
  });

  it('llama3 rope scaling keeps high frequencies, divides low ones by the factor and blends those between', () => {
    const base = { ...arch, headDim: 64, ropeTheta: 500000, ropeScaling: null };
    const scaled = ropeInvFreq({ ...base, ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 } });
    const plain = ropeInvFreq(base);
    const wavelen = (f: number) => (2 * Math.PI) / f;
    let kept = 0;
    let divided = 0;
    let blended = 0;
    plain.forEach((f, i) => {
      if (wavelen(f) < 8192 / 4) {
        expect(scaled[i]).toBe(f);
        kept++;
      } else if (wavelen(f) > 8192) {
        expect(scaled[i]).toBeCloseTo(f / 8, 12);
        divided++;
      } else {
        expect(scaled[i]).toBeLessThan(f);
        expect(scaled[i]).toBeGreaterThan(f / 8);
        blended++;
      }
    });
    expect([kept > 0, divided > 0, blended > 0]).toEqual([true, true, true]);
    expect(ropeInvFreq({ ...base, ropeScaling: { type: 'linear', factor: 2 } })[5]).toBeCloseTo(plain[5] / 2, 12);
  });
});

describe('float16 base weights', () => {
  it('halfBits rounds to nearest even, saturates to ∞ and underflows to subnormals and zero as torch.half does', () => {
    expect([1, -2, 0.1, 65504, 65519, 65520, 2 ** -24, 2 ** -26, 1 + 2 ** -11, 1 + 3 * 2 ** -11].map(halfBits)).toEqual([0x3c00, 0xc000, 0x2e66, 0x7bff, 0x7bff, 0x7c00, 0x0001, 0x0000, 0x3c00, 0x3c02]);
    expect(halfBits(-0)).toBe(0x8000);
    expect(halfBits(NaN) & 0x7c00).toBe(0x7c00);
  });

  it('weights held as float16 and widened in the graph give the float32 logits, to float16 rounding', async () => {
    // Weights that float16 holds exactly: the same logits up to float32 rounding.
    const exact: TensorMap = new Map([...params].map(([n, t]) => [n, { shape: t.shape, data: Float32Array.from(t.data, (x) => Math.round(x * 1024) / 1024) }]));
    const g32 = Generator.create(arch, exact, { threads: 1 });
    const g16 = Generator.create(arch, exact, { threads: 1, weightDtype: 'float16' });
    expect(g16.weightDtype).toBe('float16');
    const { logits: l32 } = await cachedLogits(g32, inputIds, 3, arch.vocabSize);
    const { logits: l16 } = await cachedLogits(g16, inputIds, 3, arch.vocabSize);
    expect(relDiff(l16, l32)).toBeLessThanOrEqual(1e-6);
    // The reference weights, rounded to float16 on the way in: within float16's precision of PyTorch's logits.
    const half = Generator.create(arch, params, { threads: 1, weightDtype: 'float16' });
    const d = relDiff(await fullLogits(half, inputIds), expected.get('logits')!.data);
    expect(d).toBeGreaterThan(0);
    expect(d).toBeLessThanOrEqual(5e-3);
    for (const g of [g32, g16, half]) await g.release();
  });
});
