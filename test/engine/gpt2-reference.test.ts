/**
 * Exactness against PyTorch: ../shared/reference/gpt2-tiny holds a 2-layer
 * GPT-2's logits, loss, hidden states, gradients and parameters after three
 * AdamW steps, computed with PyTorch 1.13 autograd in float32.
 * Tolerances are the reference README's: max|ours − ref| ≤ 1e-5·max|ref| for
 * loss, logits and hidden states; ≤ 1e-4·max|ref| for gradients and AdamW.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileModel, compileTrainLoop, isFlatGroup, type FlatLayout } from '../../src-main/engine/compile.ts';
import type { GPT2Config } from '../../src-main/engine/models/gpt2.ts';
import { createSession, int64Tensor, ort } from '../../src-main/engine/runtime.ts';

const scalarTensor = (x: number) => new ort.Tensor('float32', Float32Array.of(x), []);
import { readSafetensors, type TensorMap } from '../../src-main/engine/safetensors.ts';
import { relDiff } from '../fixtures/compare.ts';
import { PROVIDERS } from '../fixtures/providers.ts';

const REF = path.resolve(__dirname, '../../../shared/reference/gpt2-tiny');

interface Batch {
  input_ids: number[][];
  labels: number[][];
  adamw: { lr: number; betas: [number, number]; eps: number; weight_decay: number; max_grad_norm: number; steps: number };
  adamw_losses: number[];
  adamw_grad_norms_before_clip: number[];
}

let arch: GPT2Config;
let params: TensorMap;
let expected: TensorMap;
let batch: Batch;

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** The key third of c_attn.bias (entries C..2C) has a zero true gradient; the README says compare it absolutely. */
const keyBias = (name: string, C: number) => (name.endsWith('attn.c_attn.bias') ? (i: number) => i >= C && i < 2 * C : undefined);

function feeds(extra: Record<string, ort.Tensor> = {}): Record<string, ort.Tensor> {
  const f: Record<string, ort.Tensor> = {};
  for (const [name, t] of params) f[`p.${name}`] = new ort.Tensor('float32', Float32Array.from(t.data), t.shape);
  const B = batch.input_ids.length;
  const T = batch.input_ids[0].length;
  f.input_ids = int64Tensor(batch.input_ids.flat(), [B, T]);
  f.labels = int64Tensor(batch.labels.flat(), [B, T]);
  return { ...f, ...extra };
}

/** The optimizer state as the training graphs take it, by groups (compile.ts trainLayout); a single step takes a large parameter's from its p.<name> input. */
function groupFeeds(layout: FlatLayout, st: { p: Float32Array; m: Float32Array; v: Float32Array }, loop: boolean): Record<string, ort.Tensor> {
  const f: Record<string, ort.Tensor> = {};
  for (const grp of layout.groups!) {
    const view = (a: Float32Array) => new ort.Tensor('float32', a.subarray(grp.offset, grp.offset + grp.size), grp.shape);
    if (loop || isFlatGroup(grp.key)) f[`params.${grp.key}`] = view(st.p);
    f[`adam_m.${grp.key}`] = view(st.m);
    f[`adam_v.${grp.key}`] = view(st.v);
  }
  return f;
}

/** The new state, flat again. */
function groupOutputs(layout: FlatLayout, out: Record<string, ort.Tensor>) {
  const st = { p: new Float32Array(layout.total), m: new Float32Array(layout.total), v: new Float32Array(layout.total) };
  for (const grp of layout.groups!) {
    st.p.set(out[`new_params.${grp.key}`].data as Float32Array, grp.offset);
    st.m.set(out[`new_adam_m.${grp.key}`].data as Float32Array, grp.offset);
    st.v.set(out[`new_adam_v.${grp.key}`].data as Float32Array, grp.offset);
  }
  return st;
}

beforeAll(() => {
  const cfg = JSON.parse(readFileSync(path.join(REF, 'config.json'), 'utf8'));
  arch = { vocabSize: cfg.vocab_size, nPositions: cfg.n_positions, nEmbd: cfg.n_embd, nLayer: cfg.n_layer, nHead: cfg.n_head, layerNormEpsilon: cfg.layer_norm_epsilon };
  params = readSafetensors(path.join(REF, 'model.safetensors')).tensors;
  expected = readSafetensors(path.join(REF, 'expected.safetensors')).tensors;
  batch = JSON.parse(readFileSync(path.join(REF, 'batch.json'), 'utf8'));
});

describe.each(PROVIDERS)('GPT-2 matches PyTorch on the gpt2-tiny reference (%s)', (provider) => {
  it('forward: loss, logits and every hidden state within 1e-5 relative', async () => {
    const c = compileModel({ provider, arch, batch: 3, seq: 12, mode: 'forward' });
    const s = await createSession(c.model, { provider });
    const out = await s.run(feeds());
    const loss = out.loss.data as Float32Array;
    expect(relDiff(loss, expected.get('loss')!.data)).toBeLessThanOrEqual(1e-5);
    expect(loss[0]).toBeCloseTo(expected.get('loss')!.data[0], 5);
    expect(relDiff(out.logits.data as Float32Array, expected.get('logits')!.data)).toBeLessThanOrEqual(1e-5);
    for (let i = 0; i <= arch.nLayer; i++) {
      expect(relDiff(out[`hidden.${i}`].data as Float32Array, expected.get(`hidden_states.${i}`)!.data), `hidden_states.${i}`).toBeLessThanOrEqual(1e-5);
    }
  });

  it('backward: every parameter gradient within 1e-4 relative (key bias within 1e-6 absolute)', async () => {
    const c = compileModel({ provider, arch, batch: 3, seq: 12, mode: 'grad' });
    const s = await createSession(c.model, { provider });
    const out = await s.run(feeds());
    expect(c.paramNames.length).toBe(params.size);
    for (const name of c.paramNames) {
      const ours = out[`grad.${name}`].data as Float32Array;
      const ref = expected.get(`grad.${name}`)!.data;
      const skip = keyBias(name, arch.nEmbd);
      expect(relDiff(ours, ref, skip), `grad.${name}`).toBeLessThanOrEqual(1e-4);
      if (skip) for (let i = arch.nEmbd; i < 2 * arch.nEmbd; i++) expect(Math.abs(ours[i] - ref[i])).toBeLessThanOrEqual(1e-6);
    }
  });

  it.each([undefined, 1000])('three clipped AdamW steps: losses, pre-clip norms and parameters match (flat groups of at most %s elements)', async (flatLimit) => {
    const a = batch.adamw;
    const c = compileModel({
      provider, arch, batch: 3, seq: 12, mode: 'step', flatLimit,
      adamw: { beta1: a.betas[0], beta2: a.betas[1], eps: a.eps, weightDecay: a.weight_decay, maxGradNorm: a.max_grad_norm },
    });
    if (flatLimit) expect(c.layout.groups!.filter((grp) => isFlatGroup(grp.key)).length).toBeGreaterThan(2); // chunked
    const s = await createSession(c.model, { provider });
    const N = c.layout.total;
    let p: Float32Array = new Float32Array(N);
    let m: Float32Array = new Float32Array(N);
    let v: Float32Array = new Float32Array(N);
    for (const e of c.layout.entries) p.set(params.get(e.name)!.data, e.offset);
    for (let step = 1; step <= a.steps; step++) {
      const f = feeds({ step: scalarTensor(step), lr: scalarTensor(a.lr), position_ids: int64Tensor(Array.from({ length: 36 }, (_, i) => i % 12), [3, 12]) });
      for (const e of c.layout.entries) f[`p.${e.name}`] = new ort.Tensor('float32', p.subarray(e.offset, e.offset + e.size), e.shape);
      Object.assign(f, groupFeeds(c.layout, { p, m, v }, false));
      const out = await s.run(f);
      expect((out.loss.data as Float32Array)[0]).toBeCloseTo(batch.adamw_losses[step - 1], 4);
      expect(Math.abs((out.grad_norm.data as Float32Array)[0] - batch.adamw_grad_norms_before_clip[step - 1])).toBeLessThanOrEqual(1e-4 * batch.adamw_grad_norms_before_clip[step - 1]);
      ({ p, m, v } = groupOutputs(c.layout, out));
    }
    const state = new Map(c.layout.entries.map((e) => [e.name, { p: p.subarray(e.offset, e.offset + e.size) }]));
    for (const [name, st] of state) {
      const ref = expected.get(`after_adamw.${name}`)!.data;
      expect(relDiff(st.p, ref, keyBias(name, arch.nEmbd)), `after_adamw.${name}`).toBeLessThanOrEqual(1e-4);
    }
  });

  it.each([undefined, 1000])('the same three steps in one run of the compiled training loop: the per-step losses and norms, and the parameters after them, match (flat groups of at most %s elements)', async (flatLimit) => {
    const a = batch.adamw;
    const adamw = { beta1: a.betas[0], beta2: a.betas[1], eps: a.eps, weightDecay: a.weight_decay, maxGradNorm: a.max_grad_norm };
    const c = compileTrainLoop({ provider, arch, batch: 3, seq: 12, adamw, flatLimit });
    const s = await createSession(c.model, { provider });
    const N = c.layout.total;
    const p = new Float32Array(N);
    for (const e of c.layout.entries) p.set(params.get(e.name)!.data, e.offset);
    const K = a.steps;
    const repeat = (xs: number[]) => Array.from({ length: K }, () => xs).flat();
    const out = await s.run({
      ...groupFeeds(c.layout, { p, m: new Float32Array(N), v: new Float32Array(N) }, true),
      step: scalarTensor(0),
      lr: new ort.Tensor('float32', new Float32Array(K).fill(a.lr), [K]),
      input_ids: int64Tensor(repeat(batch.input_ids.flat()), [K, 3, 12]),
      labels: int64Tensor(repeat(batch.labels.flat()), [K, 3, 12]),
      position_ids: int64Tensor(repeat(Array.from({ length: 36 }, (_, i) => i % 12)), [K, 3, 12]),
    });
    const losses = out.loss.data as Float32Array;
    const norms = out.grad_norm.data as Float32Array;
    expect(losses.length).toBe(K);
    for (let k = 0; k < K; k++) {
      expect(losses[k]).toBeCloseTo(batch.adamw_losses[k], 4);
      expect(Math.abs(norms[k] - batch.adamw_grad_norms_before_clip[k])).toBeLessThanOrEqual(1e-4 * batch.adamw_grad_norms_before_clip[k]);
    }
    const after = groupOutputs(c.layout, out).p;
    for (const e of c.layout.entries) {
      const ref = expected.get(`after_adamw.${e.name}`)!.data;
      expect(relDiff(after.subarray(e.offset, e.offset + e.size), ref, keyBias(e.name, arch.nEmbd)), `after_adamw.${e.name}`).toBeLessThanOrEqual(1e-4);
    }
    await s.release();
  });
});
