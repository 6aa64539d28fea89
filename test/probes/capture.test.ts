/**
 * Capture against PyTorch: on the gpt2-tiny reference, the residual stream
 * written to the capture files equals Hugging Face's hidden_states (also for a
 * shorter row right-padded in the same batch), the files have the documented
 * sizes, and the logit lens of the last layer is the model's own next-token
 * distribution (top tokens, probabilities, entropy). The same on the
 * llama-tiny reference (rotary positions, grouped-query attention, the final
 * RMSNorm and an untied lm_head), and on a Llama whose output projection is
 * its input embedding (tied).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Generator } from '../../src-main/engine/generate.ts';
import { llamaConfigFromHf } from '../../src-main/engine/hf/llama-folder.ts';
import type { GPT2Config } from '../../src-main/engine/models/gpt2.ts';
import type { LlamaConfig } from '../../src-main/engine/models/llama.ts';
import { capture, CaptureCancelled, captureBytes, logitLens, readAttention, readCaptureMeta, type LensView } from '../../src-main/engine/probes/capture.ts';
import { readSafetensors, type TensorMap } from '../../src-main/engine/safetensors.ts';
import { relDiff } from '../fixtures/compare.ts';

const REF = path.resolve(import.meta.dirname, '../../../shared/reference/gpt2-tiny');
let arch: GPT2Config;
let params: TensorMap;
let expected: TensorMap;
let inputIds: number[][]; // [3, 12]
let dir: string;

beforeAll(() => {
  const cfg = JSON.parse(fs.readFileSync(path.join(REF, 'config.json'), 'utf8'));
  arch = { vocabSize: cfg.vocab_size, nPositions: cfg.n_positions, nEmbd: cfg.n_embd, nLayer: cfg.n_layer, nHead: cfg.n_head, layerNormEpsilon: cfg.layer_norm_epsilon };
  params = readSafetensors(path.join(REF, 'model.safetensors')).tensors;
  expected = readSafetensors(path.join(REF, 'expected.safetensors')).tensors;
  inputIds = JSON.parse(fs.readFileSync(path.join(REF, 'batch.json'), 'utf8')).input_ids;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-capture-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const seq = (ids: number[]) => ({ ids, positions: ids.map((_, i) => i), slots: ids.map((_, i) => `input.${i}`) });

describe('capture', () => {
  test('hidden states equal PyTorch, a right-padded shorter row included; files have the documented sizes; the last layer lens is the model', async () => {
    const out = path.join(dir, 'ref');
    // Rows 0 and 2 whole, row 1 cut to 7 tokens: one batch, right-padded.
    const sequences = [seq(inputIds[0]), seq(inputIds[1].slice(0, 7)), seq(inputIds[2])];
    const progress: number[] = [];
    const meta = await capture({ arch, params, sequences, dir: out, attention: true, tokenText: (id) => `t${id}`, batchSize: 3, lensExamples: 3, onProgress: (done) => progress.push(done), session: { threads: 1 } });
    expect(progress).toEqual([3]);
    expect(readCaptureMeta(out)).toEqual(meta);
    expect(meta.lengths).toEqual([12, 7, 12]);
    const { seqLen: T, dim: C } = meta;
    let total = 0;
    for (const f of [...meta.files.hidden, ...meta.files.attention]) total += fs.statSync(path.join(out, f)).size;
    expect(total).toBe(captureBytes(arch, 3, 12, true));
    for (let l = 0; l <= arch.nLayer; l++) {
      const buf = fs.readFileSync(path.join(out, `hidden.${l}.f32`));
      const mine = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4); // [3, T, C]
      const ref = expected.get(`hidden_states.${l}`)!.data; // [3, 12, C]
      for (const [r, len] of [[0, 12], [1, 7], [2, 12]]) {
        expect(relDiff(mine.subarray(r * T * C, (r * T + len) * C), ref.subarray(r * 12 * C, (r * 12 + len) * C)), `hidden.${l} row ${r}`).toBeLessThanOrEqual(1e-5);
      }
      // Positions past a row's length stay zero.
      expect(mine.subarray((T + 7) * C, 2 * T * C).every((x) => x === 0)).toBe(true);
    }
    // The logit lens at the last layer applies ln_f and the tied unembedding: the model's own logits.
    const lens = JSON.parse(fs.readFileSync(path.join(out, 'lens.json'), 'utf8')) as LensView[];
    const logits = expected.get('logits')!.data; // [3, 12, V]
    const V = arch.vocabSize;
    for (const [r, t] of [[0, 0], [0, 11], [2, 5], [1, 6]]) {
      const z = Array.from(logits.subarray((r * 12 + t) * V, (r * 12 + t + 1) * V));
      const max = Math.max(...z);
      const e = z.map((v) => Math.exp(v - max));
      const sum = e.reduce((a, b) => a + b, 0);
      const p = e.map((v) => v / sum);
      const order = p.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]);
      const top = lens[r].top[arch.nLayer][t];
      expect(top.map((x) => x.token)).toEqual(order.slice(0, 5).map(([, i]) => `t${i}`));
      top.forEach((x, k) => expect(x.p).toBeCloseTo(order[k][0], 5));
      expect(lens[r].entropy[arch.nLayer][t]).toBeCloseTo(-p.reduce((h, v) => h + (v > 0 ? v * Math.log2(v) : 0), 0), 4);
    }
    expect(lens[1].tokens).toHaveLength(7);
  });

  test('an aborted signal stops the capture between batches', async () => {
    const abort = new AbortController();
    abort.abort();
    await expect(capture({ arch, params, sequences: [seq(inputIds[0])], dir: path.join(dir, 'cancelled'), attention: false, tokenText: String, signal: abort.signal })).rejects.toBeInstanceOf(CaptureCancelled);
  });
});

const LLAMA_REF = path.resolve(import.meta.dirname, '../../../shared/reference/llama-tiny');

/** The lens of rows × positions equals softmax(logits) ([rows, T, V]): the same top tokens, probabilities and entropy. */
function expectLensIsModel(lens: LensView[], layer: number, logits: Float32Array, T: number, V: number, at: [number, number][]): void {
  for (const [r, t] of at) {
    const z = Array.from(logits.subarray((r * T + t) * V, (r * T + t + 1) * V));
    const max = Math.max(...z);
    const e = z.map((v) => Math.exp(v - max));
    const sum = e.reduce((a, b) => a + b, 0);
    const p = e.map((v) => v / sum);
    const order = p.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]);
    const top = lens[r].top[layer][t];
    expect(top.map((x) => x.token), `row ${r}, position ${t}`).toEqual(order.slice(0, 5).map(([, i]) => `t${i}`));
    top.forEach((x, k) => expect(x.p).toBeCloseTo(order[k][0], 5));
    expect(lens[r].entropy[layer][t]).toBeCloseTo(-p.reduce((h, v) => h + (v > 0 ? v * Math.log2(v) : 0), 0), 4);
  }
}

describe('capture of a Llama-family model', () => {
  let llama: LlamaConfig;
  let llamaParams: TensorMap;
  let llamaExpected: TensorMap;
  let ids: number[][]; // [2, 10]
  beforeAll(() => {
    llama = llamaConfigFromHf(JSON.parse(fs.readFileSync(path.join(LLAMA_REF, 'config.json'), 'utf8')));
    llamaParams = readSafetensors(path.join(LLAMA_REF, 'model.safetensors')).tensors;
    llamaExpected = readSafetensors(path.join(LLAMA_REF, 'expected.safetensors')).tensors;
    ids = JSON.parse(fs.readFileSync(path.join(LLAMA_REF, 'batch.json'), 'utf8')).input_ids;
  });

  test('llama-tiny (rotary positions, 4 query / 2 key-value heads, untied lm_head): hidden states equal PyTorch; the last layer lens reads the final RMSNorm and lm_head', async () => {
    const out = path.join(dir, 'llama');
    const sequences = [seq(ids[0]), seq(ids[1].slice(0, 6))];
    const meta = await capture({ arch: llama, params: llamaParams, sequences, dir: out, attention: true, tokenText: (id) => `t${id}`, batchSize: 2, lensExamples: 2, session: { threads: 1 } });
    expect(meta).toMatchObject({ layers: 3, heads: 4, dim: 32, seqLen: 10, lengths: [10, 6] });
    let total = 0;
    for (const f of [...meta.files.hidden, ...meta.files.attention]) total += fs.statSync(path.join(out, f)).size;
    expect(total).toBe(captureBytes(llama, 2, 10, true));
    const C = 32;
    for (let l = 0; l <= llama.nLayer; l++) {
      const buf = fs.readFileSync(path.join(out, `hidden.${l}.f32`));
      const mine = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4); // [2, 10, C]
      const ref = llamaExpected.get(`hidden_states.${l}`)!.data; // [2, 10, C]
      for (const [r, len] of [[0, 10], [1, 6]]) {
        expect(relDiff(mine.subarray(r * 10 * C, (r * 10 + len) * C), ref.subarray(r * 10 * C, (r * 10 + len) * C)), `hidden.${l} row ${r}`).toBeLessThanOrEqual(1e-5);
      }
    }
    // Each query head's attention over the keys it may see sums to 1.
    const attn = readAttention(out, meta, 1, 0); // [H, 10, 10]
    for (let h = 0; h < 4; h++) for (let t = 0; t < 10; t++) {
      const row = attn.subarray((h * 10 + t) * 10, (h * 10 + t + 1) * 10);
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(row.subarray(t + 1).every((x) => x === 0)).toBe(true);
    }
    const lens = JSON.parse(fs.readFileSync(path.join(out, 'lens.json'), 'utf8')) as LensView[];
    expectLensIsModel(lens, llama.nLayer, llamaExpected.get('logits')!.data, 10, llama.vocabSize, [[0, 0], [0, 9], [1, 3], [1, 5]]);
  });

  test('a tied Llama (no lm_head: the input embedding projects out) gets its lens from the embedding: the last layer is the model', async () => {
    const tied: LlamaConfig = { ...llama, tieWordEmbeddings: true };
    const params: TensorMap = new Map([...llamaParams].filter(([name]) => name !== 'lm_head.weight'));
    const out = path.join(dir, 'llama-tied');
    await capture({ arch: tied, params, sequences: [seq(ids[0])], dir: out, attention: false, tokenText: (id) => `t${id}`, lensExamples: 1, session: { threads: 1 } });
    const gen = Generator.create(tied, params, { threads: 1 });
    try {
      const mask = new Uint8Array(10 * 10).map((_, i) => (i % 10 <= Math.floor(i / 10) ? 1 : 0));
      const { logits } = await gen.step({ ids: [ids[0]], positions: [ids[0].map((_, i) => i)], mask, past: null }, { allLogits: true }); // [1, 10, V]
      const lens = JSON.parse(fs.readFileSync(path.join(out, 'lens.json'), 'utf8')) as LensView[];
      expectLensIsModel(lens, tied.nLayer, logits, 10, tied.vocabSize, [[0, 0], [0, 4], [0, 9]]);
    } finally {
      await gen.release();
    }
  });

  test('a lens over parameters that lack the output projection names the weight and the family', async () => {
    const params: TensorMap = new Map([...llamaParams].filter(([name]) => name !== 'lm_head.weight'));
    await expect(logitLens(llama, params, [[new Float32Array(32)]], 3)).rejects.toThrow("logit lens: the Llama-family model's parameters lack 'lm_head.weight' [24, 32], which its final norm and output projection read");
  });
});
