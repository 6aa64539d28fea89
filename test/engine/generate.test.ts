/**
 * Generation with a key/value cache on the gpt2-tiny reference weights, run
 * through real ONNX Runtime sessions: the cache reproduces PyTorch's logits,
 * padded batches equal single prompts, greedy and sampled decoding, stops, and
 * the probe variant's hidden states and attention.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Generator, type KvCache } from '../../src-main/engine/generate.ts';
import type { GPT2Config } from '../../src-main/engine/models/gpt2.ts';
import { argmax } from '../../src-main/engine/sampling.ts';
import { readSafetensors, type TensorMap } from '../../src-main/engine/safetensors.ts';
import { relDiff } from '../fixtures/compare.ts';

const REF = path.resolve(__dirname, '../../../shared/reference/gpt2-tiny');

let arch: GPT2Config;
let expected: TensorMap;
let inputIds: number[][]; // [3, 12]
let gen: Generator;

/** Causal mask [B, T, T] for unpadded rows. */
function causal(B: number, T: number): Uint8Array {
  const m = new Uint8Array(B * T * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let s = 0; s <= t; s++) m[(b * T + t) * T + s] = 1;
  return m;
}

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

/** All-position logits [B, T, V] of whole sequences, without a cache. */
async function fullLogits(seqs: number[][]): Promise<Float32Array> {
  const T = seqs[0].length;
  const out = await gen.step({ ids: seqs, positions: seqs.map(() => range(0, T)), mask: causal(seqs.length, T), past: null }, { allLogits: true });
  return out.logits;
}

/** A decoder for stop strings: token i is the letter 'a' + i. */
const letters = (ids: number[]) => ids.map((i) => String.fromCharCode(97 + i)).join('');

beforeAll(() => {
  const cfg = JSON.parse(readFileSync(path.join(REF, 'config.json'), 'utf8'));
  arch = { vocabSize: cfg.vocab_size, nPositions: cfg.n_positions, nEmbd: cfg.n_embd, nLayer: cfg.n_layer, nHead: cfg.n_head, layerNormEpsilon: cfg.layer_norm_epsilon };
  expected = readSafetensors(path.join(REF, 'expected.safetensors')).tensors;
  inputIds = JSON.parse(readFileSync(path.join(REF, 'batch.json'), 'utf8')).input_ids;
  gen = Generator.create(arch, readSafetensors(path.join(REF, 'model.safetensors')).tensors, { threads: 1 });
});

describe('decoding with a key/value cache', () => {
  it('prefill of 4 tokens then 8 one-token steps reproduce PyTorch logits at every position within 1e-5 relative', async () => {
    const V = arch.vocabSize;
    const B = 3;
    const T = 12;
    const ref = expected.get('logits')!.data; // [3, 12, 20]
    const refAt = (t: number) => Float32Array.from({ length: B * V }, (_, i) => ref[(Math.floor(i / V) * T + t) * V + (i % V)]); // [B, V]

    let out = await gen.step({ ids: inputIds.map((r) => r.slice(0, 4)), positions: inputIds.map(() => range(0, 4)), mask: causal(B, 4), past: null });
    expect(relDiff(out.logits, refAt(3))).toBeLessThanOrEqual(1e-5);
    let past: KvCache = out.present;
    for (let t = 4; t < T; t++) {
      expect(past[0].key.dims).toEqual([B, arch.nHead, t, arch.nEmbd / arch.nHead]);
      out = await gen.step({ ids: inputIds.map((r) => [r[t]]), positions: inputIds.map(() => [t]), mask: new Uint8Array(B * (t + 1)).fill(1), past });
      expect(relDiff(out.logits, refAt(t)), `position ${t}`).toBeLessThanOrEqual(1e-5);
      past = out.present;
    }
  });

  it('the full forward without a cache gives the same logits as PyTorch within 1e-5 relative', async () => {
    expect(relDiff(await fullLogits(inputIds), expected.get('logits')!.data)).toBeLessThanOrEqual(1e-5);
  });
});

describe('greedy and sampled generation', () => {
  it('greedy is deterministic and each token is the argmax of the full-sequence logits at the previous position', async () => {
    const prompt = inputIds[0].slice(0, 5);
    const a = await gen.generate([prompt], { maxNewTokens: 12 });
    const b = await gen.generate([prompt], { maxNewTokens: 12 });
    expect(a.rows[0].tokens).toEqual(b.rows[0].tokens);
    expect(a.rows[0].tokens).toHaveLength(12);
    expect(a.rows[0].finish).toBe('length');

    const seq = [...prompt, ...a.rows[0].tokens];
    const logits = await fullLogits([seq]);
    const V = arch.vocabSize;
    for (let i = 0; i < 12; i++) expect(a.rows[0].tokens[i], `token ${i}`).toBe(argmax(logits, (prompt.length - 1 + i) * V, V));
  });

  it('a left-padded batch of prompts of lengths 2, 7 and 12 gives each row the tokens it gets alone', async () => {
    const prompts = [inputIds[0].slice(0, 2), inputIds[1].slice(0, 7), inputIds[2]];
    const batched = await gen.generate(prompts, { maxNewTokens: 10 });
    for (let r = 0; r < prompts.length; r++) {
      const alone = await gen.generate([prompts[r]], { maxNewTokens: 10 });
      expect(batched.rows[r].tokens, `row ${r}`).toEqual(alone.rows[0].tokens);
    }
  });

  it('a position skip places the prompt\'s last token and every generated one that many positions on (kept positions)', async () => {
    const prompt = inputIds[0].slice(0, 5);
    const skip = 7;
    const out = await gen.generate([prompt, inputIds[1].slice(0, 3)], { maxNewTokens: 6, positionSkip: [skip, 0] });
    const tokens = out.rows[0].tokens;
    const seq = [...prompt, ...tokens];
    const positions = seq.map((_, j) => (j >= prompt.length - 1 ? j + skip : j));
    const T = seq.length;
    const full = await gen.step({ ids: [seq], positions: [positions], mask: causal(1, T), past: null }, { allLogits: true });
    const V = arch.vocabSize;
    for (let i = 0; i < tokens.length; i++) expect(tokens[i], `token ${i}`).toBe(argmax(full.logits, (prompt.length - 1 + i) * V, V));
    // The skip changes what the model sees: the prompt's last logits differ from those at plain positions.
    const plain = await gen.step({ ids: [prompt], positions: [range(0, prompt.length)], mask: causal(1, prompt.length), past: null }, { allLogits: true });
    const lastPlain = Array.from(plain.logits.slice((prompt.length - 1) * V, prompt.length * V));
    const lastSkipped = Array.from(full.logits.slice((prompt.length - 1) * V, prompt.length * V));
    expect(Math.max(...lastPlain.map((x, k) => Math.abs(x - lastSkipped[k])))).toBeGreaterThan(1e-3);
    const unskipped = await gen.generate([inputIds[1].slice(0, 3)], { maxNewTokens: 6 });
    expect(out.rows[1].tokens).toEqual(unskipped.rows[0].tokens); // rows skip independently
  });

  it('positionSkipAfter starts the jump that many generated tokens past the prompt (removal from the right)', async () => {
    const prompt = inputIds[0].slice(0, 4);
    const skip = 5;
    const after = 3;
    const out = await gen.generate([prompt], { maxNewTokens: 7, positionSkip: [skip], positionSkipAfter: [after] });
    const tokens = out.rows[0].tokens;
    expect(tokens).toHaveLength(7);
    const seq = [...prompt, ...tokens];
    // The prompt and the first `after` − 1 generated tokens at their own positions; from the
    // token `after` past the prompt's last one on, `skip` further.
    const positions = seq.map((_, j) => (j >= prompt.length - 1 + after ? j + skip : j));
    expect(positions.slice(prompt.length - 1, prompt.length + 4)).toEqual([3, 4, 5, 11, 12]);
    const full = await gen.step({ ids: [seq], positions: [positions], mask: causal(1, seq.length), past: null }, { allLogits: true });
    const V = arch.vocabSize;
    for (let i = 0; i < tokens.length; i++) expect(tokens[i], `token ${i}`).toBe(argmax(full.logits, (prompt.length - 1 + i) * V, V));
    // It differs from the jump at the prompt's last token.
    const atPrompt = await gen.generate([prompt], { maxNewTokens: 7, positionSkip: [skip] });
    const early = await gen.step({ ids: [[...prompt, ...atPrompt.rows[0].tokens]], positions: [seq.map((_, j) => (j >= prompt.length - 1 ? j + skip : j))], mask: causal(1, seq.length), past: null }, { allLogits: true });
    expect(Array.from(early.logits.slice((prompt.length - 1) * V, prompt.length * V))).not.toEqual(Array.from(full.logits.slice((prompt.length - 1) * V, prompt.length * V)));
    await expect(gen.generate([prompt], { maxNewTokens: 2, positionSkip: [1], positionSkipAfter: [-1] })).rejects.toThrow(/positionSkipAfter must hold non-negative integers/);
  });

  it('sampling with the same seed reproduces the tokens; another seed gives other tokens', async () => {
    const prompts = [inputIds[0].slice(0, 3), inputIds[1].slice(0, 3)];
    const opts = { maxNewTokens: 16, temperature: 1.5, seed: 1234 };
    const a = await gen.generate(prompts, opts);
    const b = await gen.generate(prompts, opts);
    const c = await gen.generate(prompts, { ...opts, seed: 99 });
    expect(b.rows.map((r) => r.tokens)).toEqual(a.rows.map((r) => r.tokens));
    expect(c.rows[0].tokens).not.toEqual(a.rows[0].tokens);
    expect(c.rows[1].tokens).not.toEqual(a.rows[1].tokens);
    // The two rows draw from different streams even with one seed.
    const same = await gen.generate([prompts[0], prompts[0]], opts);
    expect(same.rows[0].tokens).not.toEqual(same.rows[1].tokens);
  });

  it('top-p of 1e-6 keeps only the most likely token, so sampling equals greedy', async () => {
    const prompts = [inputIds[1].slice(0, 4), inputIds[2].slice(0, 6)];
    const greedy = await gen.generate(prompts, { maxNewTokens: 12 });
    const nucleus = await gen.generate(prompts, { maxNewTokens: 12, temperature: 1, topP: 1e-6, seed: 7 });
    expect(nucleus.rows.map((r) => r.tokens)).toEqual(greedy.rows.map((r) => r.tokens));
  });

  it('reports one timing per decode step and a positive tokens/s', async () => {
    const g = await gen.generate([inputIds[0].slice(0, 3), inputIds[1].slice(0, 3)], { maxNewTokens: 6 });
    expect(g.timings.stepMs).toHaveLength(5); // the first token comes from the prefill
    expect(g.timings.prefillMs).toBeGreaterThan(0);
    expect(g.timings.tokensPerSecond).toBeCloseTo((12 / g.timings.totalMs) * 1000, 6);
  });
});

describe('stopping', () => {
  const prompt = [6, 10]; // greedy: 12 18 15 16 15 16 15 15 14 14 …
  let free: number[]; // 20 greedy tokens without any stop

  beforeAll(async () => {
    free = (await gen.generate([prompt], { maxNewTokens: 20 })).rows[0].tokens;
  });

  /** Index just past the first place where `seq` occurs in `free`. */
  const endOfFirst = (seq: number[]) => {
    for (let i = seq.length; i <= free.length; i++) if (seq.every((x, j) => free[i - seq.length + j] === x)) return i;
    throw new Error('sequence not in the free generation');
  };

  it('stops after the EOS token, which is kept', async () => {
    const eos = free[4];
    const g = await gen.generate([prompt], { maxNewTokens: 20, eosTokenId: eos });
    expect(g.rows[0]).toEqual({ tokens: free.slice(0, endOfFirst([eos])), finish: 'eos' });
  });

  it('stops after a token-id stop sequence completes', async () => {
    const seq = free.slice(5, 7);
    const g = await gen.generate([prompt], { maxNewTokens: 20, stopTokens: [[19, 19, 19], seq] });
    expect(g.rows[0]).toEqual({ tokens: free.slice(0, endOfFirst(seq)), finish: 'stop', stop: seq });
  });

  it('stops once the decoded text contains a stop string spanning tokens', async () => {
    const seq = free.slice(6, 9);
    const g = await gen.generate([prompt], { maxNewTokens: 20, stopStrings: [letters(seq)], decode: letters });
    expect(g.rows[0]).toEqual({ tokens: free.slice(0, endOfFirst(seq)), finish: 'stop', stop: letters(seq) });
  });

  it('stops at maxNewTokens, and at the context length of 32 positions', async () => {
    expect((await gen.generate([prompt], { maxNewTokens: 3 })).rows[0]).toEqual({ tokens: free.slice(0, 3), finish: 'length' });
    const long = [...inputIds[0], ...inputIds[1], ...inputIds[2].slice(0, 6)]; // 30 tokens
    const g = await gen.generate([long, prompt], { maxNewTokens: 10 });
    expect(g.rows[0].tokens).toHaveLength(2);
    expect(g.rows[0].finish).toBe('context');
    expect(g.rows[1]).toEqual({ tokens: free.slice(0, 10), finish: 'length' });
  });

  it('in a batch, a row that stops early leaves the other rows unchanged', async () => {
    const eos = free[2];
    const other = inputIds[2].slice(0, 5);
    const alone = await gen.generate([other], { maxNewTokens: 10 });
    const g = await gen.generate([prompt, other], { maxNewTokens: 10, eosTokenId: eos });
    expect(g.rows[0]).toEqual({ tokens: free.slice(0, endOfFirst([eos])), finish: 'eos' });
    const cut = alone.rows[0].tokens.indexOf(eos);
    expect(g.rows[1].tokens).toEqual(cut >= 0 ? alone.rows[0].tokens.slice(0, cut + 1) : alone.rows[0].tokens);
  });

  it('an abort between steps ends the unfinished rows as aborted, keeping their tokens', async () => {
    const ctl = new AbortController();
    const g = await gen.generate([prompt, prompt], { maxNewTokens: 20, onStep: (step) => step === 2 && ctl.abort(), signal: ctl.signal });
    for (const row of g.rows) expect(row).toEqual({ tokens: free.slice(0, 3), finish: 'aborted' });
  });

  it('rejects prompts the model cannot run, saying why', async () => {
    await expect(gen.generate([[]], { maxNewTokens: 1 })).rejects.toThrow(/prompt 0 is empty/);
    await expect(gen.generate([[1, 20]], { maxNewTokens: 1 })).rejects.toThrow(/token id 20, outside the vocabulary \[0, 20\)/);
    await expect(gen.generate([range(0, 33).map((i) => i % 20)], { maxNewTokens: 1 })).rejects.toThrow(/33 tokens, more than the model's context of 32/);
    await expect(gen.generate([[1]], { maxNewTokens: 1, stopStrings: ['x'] })).rejects.toThrow(/need a decode function/);
  });
});

describe('probes: residual stream and attention for every position', () => {
  it('returns nLayer+1 hidden states equal to PyTorch hidden_states for the prompt, and probes every generated token', async () => {
    const C = arch.nEmbd;
    const g = await gen.generate(inputIds, { maxNewTokens: 3, probes: true });
    const ref = (l: number) => expected.get(`hidden_states.${l}`)!.data; // [3, 12, C]
    for (let r = 0; r < 3; r++) {
      const probe = g.probes![r];
      expect(probe.hidden).toHaveLength(arch.nLayer + 1);
      expect(probe.attention).toHaveLength(arch.nLayer);
      const S = 12 + 3;
      for (let l = 0; l <= arch.nLayer; l++) {
        expect(probe.hidden[l]).toHaveLength(S * C);
        expect(relDiff(probe.hidden[l].subarray(0, 12 * C), ref(l).subarray(r * 12 * C, (r + 1) * 12 * C)), `row ${r} hidden.${l}`).toBeLessThanOrEqual(1e-5);
      }
    }
  });

  it('a padded row probes the same values as the prompt alone, and attention rows are causal and sum to 1', async () => {
    const short = inputIds[1].slice(0, 5);
    const batched = await gen.generate([inputIds[0], short], { maxNewTokens: 4, probes: true });
    const alone = await gen.generate([short], { maxNewTokens: 4, probes: true });
    const H = arch.nHead;
    const S = 5 + 4;
    for (let l = 0; l <= arch.nLayer; l++) expect(relDiff(batched.probes![1].hidden[l], alone.probes![0].hidden[l]), `hidden.${l}`).toBeLessThanOrEqual(1e-5);
    for (let l = 0; l < arch.nLayer; l++) {
      const a = batched.probes![1].attention[l]; // [H, S, S]
      expect(a).toHaveLength(H * S * S);
      expect(relDiff(a, alone.probes![0].attention[l]), `attn.${l}`).toBeLessThanOrEqual(1e-5);
      for (let h = 0; h < H; h++) {
        for (let j = 0; j < S; j++) {
          let sum = 0;
          for (let k = 0; k < S; k++) {
            const p = a[(h * S + j) * S + k];
            if (k > j) expect(p).toBe(0);
            sum += p;
          }
          expect(sum).toBeCloseTo(1, 5);
        }
      }
    }
  });
});
