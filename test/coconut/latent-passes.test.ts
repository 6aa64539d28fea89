/**
 * The unrolled continuous-thought graph against hand-made references: its
 * loss equals n+1 forward passes of the existing training-forward graph
 * (compile.ts) with each thought fed back by hand (as an extra vocabulary row
 * holding the last hidden state, final norm applied in JavaScript), its
 * gradient equals central differences of that loss, with no thoughts it is
 * the ordinary forward pass, and generation through the cache
 * feeds back the same thoughts.
 */
import { describe, expect, it } from 'vitest';
import { compileModel } from '../../src-main/engine/compile.ts';
import { initGPT2, initLlama } from '../../src-main/engine/init.ts';
import { LatentGenerator } from '../../src-main/engine/latent-generate.ts';
import { compileLatentModel } from '../../src-main/engine/latent-passes.ts';
import { latentPositions } from '../../src-main/engine/latent-step.ts';
import { modelFamily, type ModelArch } from '../../src-main/engine/models/family.ts';
import type { GPT2Config } from '../../src-main/engine/models/gpt2.ts';
import type { LlamaConfig } from '../../src-main/engine/models/llama.ts';
import { createSession, ort } from '../../src-main/engine/runtime.ts';
import type { TensorMap } from '../../src-main/engine/safetensors.ts';
import { randn } from '../engine/fd.ts';

const V = 11;
const LATENT = 10;
const gpt2: GPT2Config = { vocabSize: V, nPositions: 12, nEmbd: 16, nLayer: 2, nHead: 2, layerNormEpsilon: 1e-5 };
const llama: LlamaConfig = {
  family: 'llama', vocabSize: V, hiddenSize: 16, intermediateSize: 24, nLayer: 2, nHead: 4, nKvHead: 2, headDim: 4, maxPositions: 12,
  rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: null, tieWordEmbeddings: true, qkvBias: false, oBias: false, mlpBias: false,
};

const B = 2;
const T = 9;
// Row 0: thoughts at 3, 4; row 1 at 4, 5 (its question is a token longer).
const ids = [
  [2, 3, 4, LATENT, LATENT, 5, 6, 1, 0],
  [2, 3, 4, 7, LATENT, LATENT, 8, 6, 1],
];
const labels = ids.map((row) => row.map((id, t) => (id === LATENT || t < 3 ? -100 : id)));

const long = (rows: number[][]) => new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [rows.length, rows[0].length]);
const positions = long(ids.map(() => [...Array(T).keys()]));

function feedsOf(arch: ModelArch, params: TensorMap): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, shape] of modelFamily(arch).paramShapes()) feeds[`p.${name}`] = new ort.Tensor('float32', params.get(name)!.data, shape);
  return feeds;
}

/** The final norm in float64, as the family defines it (GPT-2's LayerNorm, a Llama's RMSNorm). */
function finalNorm(arch: ModelArch, params: TensorMap, x: Float32Array): Float32Array {
  const C = x.length;
  const isLlama = 'family' in arch;
  const w = params.get(isLlama ? 'model.norm.weight' : 'ln_f.weight')!.data;
  const mean = isLlama ? 0 : x.reduce((a, b) => a + b, 0) / C;
  const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / C;
  const eps = isLlama ? (arch as LlamaConfig).rmsNormEps : (arch as GPT2Config).layerNormEpsilon;
  const bias = isLlama ? null : params.get('ln_f.bias')!.data;
  return Float32Array.from(x, (v, i) => ((v - mean) / Math.sqrt(variance + eps)) * w[i] + (bias ? bias[i] : 0));
}

/** Mean shifted cross-entropy over labels ≠ −100, in float64, from logits [B, T, Vx] read on the first V columns. */
function lossOf(logits: Float32Array, Vx: number): number {
  let total = 0;
  let count = 0;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t + 1 < T; t++) {
      const y = labels[b][t + 1];
      if (y === -100) continue;
      const row = logits.subarray((b * T + t) * Vx, (b * T + t) * Vx + V);
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0));
      total += lse - row[y];
      count++;
    }
  }
  return total / count;
}

/**
 * The reference: the existing forward graph of a model whose vocabulary has one extra row per
 * thought; pass k reads row b's last hidden state before its k-th latent, normalizes it by hand
 * and writes it into that row, which the latent position then looks up.
 */
async function handFedLoss(arch: ModelArch, params: TensorMap): Promise<{ loss: number; thoughts: Float32Array[][] }> {
  const family = modelFamily(arch);
  const C = family.hiddenSize;
  const n = 2;
  const Vx = V + B * n;
  const wide: ModelArch = { ...arch, vocabSize: Vx };
  const embedName = family.embedParam;
  const table = new Float32Array(Vx * C);
  table.set(params.get(embedName)!.data);
  const wideParams: TensorMap = new Map(params);
  wideParams.set(embedName, { shape: [Vx, C], data: table });
  const compiled = compileModel({ arch: wide, batch: B, seq: T, mode: 'forward' });
  const session = await createSession(compiled.model, { threads: 1 });
  const at = ids.map((row) => row.flatMap((id, t) => (id === LATENT ? [t] : [])));
  const fed = ids.map((row) => row.slice());
  const thoughts: Float32Array[][] = [[], []];
  let out = await session.run({ ...feedsOf(wide, wideParams), input_ids: long(fed), labels: long(labels) });
  for (let k = 0; k < n; k++) {
    const hidden = out[`hidden.${family.nLayer}`].data as Float32Array; // [B, T, C], before the final norm
    for (let b = 0; b < B; b++) {
      const t = at[b][k];
      const thought = finalNorm(arch, params, hidden.slice((b * T + t - 1) * C, (b * T + t) * C));
      thoughts[b].push(thought);
      const row = V + b * n + k;
      table.set(thought, row * C);
      fed[b][t] = row;
    }
    out = await session.run({ ...feedsOf(wide, wideParams), input_ids: long(fed), labels: long(labels) });
  }
  await session.release();
  return { loss: lossOf(out.logits.data as Float32Array, Vx), thoughts };
}

async function unrolled(arch: ModelArch, params: TensorMap, mode: 'forward' | 'grad', latents = 2) {
  const compiled = compileLatentModel({ arch, batch: B, seq: T, latents, mode });
  const session = await createSession(compiled.model, { threads: 1 });
  const { index, n } = latentPositions(BigInt64Array.from(ids.flat(), BigInt), B, T, latents ? LATENT : -1);
  const out = await session.run({
    ...feedsOf(arch, params), input_ids: long(ids), labels: long(labels), position_ids: positions,
    latent_index: new ort.Tensor('int64', index, [B, n]),
  });
  await session.release();
  return out;
}

describe.each([
  ['GPT-2', gpt2 as ModelArch, (seed: number) => initGPT2(gpt2, seed, 0.3)],
  ['Llama', llama as ModelArch, (seed: number) => initLlama(llama, seed, 0.3)],
] as const)('the unrolled continuous-thought graph (%s)', (_name, arch, init) => {
  const params = init(3);

  it('its loss equals 3 forward passes of the existing graph with the 2 thoughts fed back by hand', async () => {
    const ref = await handFedLoss(arch, params);
    const out = await unrolled(arch, params, 'forward');
    const loss = (out.loss.data as Float32Array)[0];
    expect(loss).toBeGreaterThan(0.5);
    expect(Math.abs(loss - ref.loss)).toBeLessThan(2e-5 * ref.loss);
    // The thoughts themselves, row by row.
    const C = modelFamily(arch).hiddenSize;
    for (let k = 0; k < 2; k++) {
      const got = out[`thought.${k}`].data as Float32Array; // [B, C]
      for (let b = 0; b < B; b++) {
        const want = ref.thoughts[b][k];
        for (let c = 0; c < C; c++) expect(Math.abs(got[b * C + c] - want[c])).toBeLessThan(1e-4);
      }
    }
  });

  it('its gradient equals central differences of its loss along a random direction (through every pass)', async () => {
    const grads = await unrolled(arch, params, 'grad');
    const names = [...modelFamily(arch).paramShapes().keys()];
    const direction = new Map(names.map((name, i) => [name, Float32Array.from(randn(params.get(name)!.data.length, 100 + i))]));
    let analytic = 0;
    for (const name of names) {
      const g = grads[`grad.${name}`].data as Float32Array;
      const d = direction.get(name)!;
      for (let i = 0; i < g.length; i++) analytic += g[i] * d[i];
    }
    const shifted = (sign: number, h: number): TensorMap => new Map(names.map((name) => {
      const p = params.get(name)!;
      const d = direction.get(name)!;
      return [name, { shape: p.shape, data: Float32Array.from(p.data, (v, i) => v + sign * h * d[i]) }];
    }));
    const central = async (h: number) => {
      const up = (await unrolled(arch, shifted(1, h), 'forward')).loss.data as Float32Array;
      const down = (await unrolled(arch, shifted(-1, h), 'forward')).loss.data as Float32Array;
      return (up[0] - down[0]) / (2 * h);
    };
    // Richardson's extrapolation of two steps cancels the h² term (the fed-back thoughts make the loss strongly curved).
    const numeric = (4 * (await central(5e-4)) - (await central(1e-3))) / 3;
    expect(Math.abs(analytic)).toBeGreaterThan(0.1);
    expect(Math.abs(analytic - numeric)).toBeLessThan(1e-2 * Math.abs(numeric));
  });

  it('with no thoughts it is the ordinary forward pass', async () => {
    const out = await unrolled(arch, params, 'forward', 0);
    const compiled = compileModel({ arch, batch: B, seq: T, mode: 'forward' });
    const session = await createSession(compiled.model, { threads: 1 });
    const plain = await session.run({ ...feedsOf(arch, params), input_ids: long(ids), labels: long(labels) });
    await session.release();
    // The same graph but for per-row position ids ([B, T] against [T]), which ONNX Runtime may fuse differently: equal to float32 rounding.
    expect(Math.abs((out.loss.data as Float32Array)[0] - (plain.loss.data as Float32Array)[0])).toBeLessThan(1e-6);
    const a = out.logits.data as Float32Array;
    const b = plain.logits.data as Float32Array;
    expect(a.length).toBe(b.length);
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-5);
  });

  it('generation through the cache feeds back the thoughts the training graph computes', async () => {
    const ref = await handFedLoss(arch, params);
    const gen = new LatentGenerator(arch, params, { threads: 1 });
    // Each row's prompt: its question up to the first latent position; two thoughts; then the token after them.
    const prompts = ids.map((row) => row.slice(0, row.indexOf(LATENT)));
    const out = await gen.generate(prompts, { thoughts: 2, suffix: [5], maxNewTokens: 3, eosTokenId: 1, padTokenId: 0, keepThoughts: true });
    await gen.release();
    const C = modelFamily(arch).hiddenSize;
    for (let b = 0; b < B; b++) {
      expect(out.rows[b].tokens.length).toBeGreaterThan(0);
      for (let k = 0; k < 2; k++) for (let c = 0; c < C; c++) expect(Math.abs(out.rows[b].thoughts![k][c] - ref.thoughts[b][k][c])).toBeLessThan(1e-4);
    }
  });
});

describe('latent positions of a batch', () => {
  it('are read from the latent token per row, and rows with different counts are refused', () => {
    const { index, n } = latentPositions(BigInt64Array.from(ids.flat(), BigInt), B, T, LATENT);
    expect(n).toBe(2);
    expect(Array.from(index, Number)).toEqual([3, 4, 4, 5]);
    const uneven = [ids[0], ids[1].map((id, t) => (t === 5 ? 9 : id))];
    expect(() => latentPositions(BigInt64Array.from(uneven.flat(), BigInt), B, T, LATENT)).toThrow(/row 0 has 2, row 1 has 1/);
  });
});
