/**
 * DoRA and IA3 against PyTorch: test/fixtures/peft-reference holds, from
 * scripts/peft-reference.py (Debian's python3-torch, PEFT's layer code
 * restated), the loss, outputs and every gradient of
 * - the tiny GPT-2 of ../shared/reference/gpt2-tiny with the adapter on its
 *   Conv1D modules ([in, out] weights), and the tiny Llama of
 *   ../shared/reference/llama-tiny on its nn.Linear ones ([out, in]), the
 *   whole row read causally (the LoRA variant of the Bitune graph);
 * - two nn.Linear layers ([out, in] weights, Llama's layout), one with a bias,
 *   built straight on the LoraGraph transform, with the input's gradient too.
 * Tolerances as ../shared/README.md's: 1e-5·max|ref| for outputs, 1e-4·max|ref| for gradients.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gradients } from '../../src-main/engine/autodiff.ts';
import { loadModelFolder } from '../../src-main/engine/hf/model-folder.ts';
import { adapterParamShapes, LoraGraph, loraModules, type Adapter } from '../../src-main/engine/lora.ts';
import { modelFamily } from '../../src-main/engine/models/family.ts';
import type { Value } from '../../src-main/engine/onnx/graph.ts';
import { createSession, int64Tensor, ort } from '../../src-main/engine/runtime.ts';
import { readSafetensors, type TensorMap } from '../../src-main/engine/safetensors.ts';
import { compileBitune } from '../../src-main/methods/bitune/graph.ts';
import { DEFAULT_VARIANT } from '../../src-main/methods/bitune/variant.ts';
import { relDiff } from '../fixtures/compare.ts';

const FIXTURES = path.resolve(__dirname, '../fixtures/peft-reference');
const CASE = JSON.parse(readFileSync(path.join(FIXTURES, 'case.json'), 'utf8'));

const tensor = (t: { data: Float32Array; shape: number[] }) => new ort.Tensor('float32', t.data, t.shape);
/** The fixture's tensors under `prefix` (e.g. 'gpt2.param.'), by their name after it. */
const under = (m: TensorMap, prefix: string): TensorMap => new Map([...m].filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]));

describe.each(['dora', 'ia3'] as const)('%s matches PyTorch (PEFT\'s computation)', (type) => {
  const ref = readSafetensors(path.join(FIXTURES, `${type}.safetensors`)).tensors;

  it.each(['gpt2', 'llama'] as const)('on the tiny %s: loss and logits within 1e-5, every adapter gradient within 1e-4 relative', async (fam) => {
    const c = fam === 'gpt2' ? CASE : CASE.llama;
    const dir = path.resolve(FIXTURES, c.base);
    const m = loadModelFolder(dir);
    const family = modelFamily(m.config);
    const config = type === 'ia3'
      ? { r: 1, alpha: 1, dropout: 0, targets: c.ia3_targets, feedforward: c.ia3_feedforward }
      : { r: CASE.r, alpha: CASE.alpha, dropout: 0, targets: c.dora_targets };
    const adapter: Adapter = { name: 'default', type, config, modules: loraModules(family.paramShapes(), config, fam === 'gpt2' ? 'in_out' : 'out_in') };
    const params = under(ref, `${fam}.param.`);
    expect([...adapterParamShapes(adapter).keys()].sort()).toEqual([...params.keys()].sort());
    const prompt: number[] = c.prompt_ids;
    const ids = [...prompt, ...(c.answer_ids as number[])];
    const run = async (mode: 'forward' | 'grad') => {
      const g = compileBitune({ family, variant: { ...DEFAULT_VARIANT, method: 'lora' }, adapters: [adapter], batch: 1, prefix: prompt.length - 1, rest: ids.length - prompt.length + 1, mode });
      const s = await createSession(g.model, { threads: 1 });
      const feeds: Record<string, ort.Tensor> = {};
      for (const [n, t] of m.params) feeds[`p.${n}`] = tensor(t);
      for (const [n, t] of params) feeds[`p.${n}`] = tensor(t);
      feeds.input_ids = int64Tensor(ids, [1, ids.length]);
      feeds.position_ids = int64Tensor(ids.map((_, i) => i), [1, ids.length]);
      feeds.labels = int64Tensor(ids.map((id, i) => (i < prompt.length ? -100 : id)), [1, ids.length]);
      try {
        return await s.run(feeds);
      } finally {
        await s.release();
      }
    };
    const fwd = await run('forward');
    expect(relDiff(fwd.loss.data as Float32Array, ref.get(`${fam}.loss`)!.data)).toBeLessThanOrEqual(1e-5);
    // The graph's logits are the answer part: positions P−1 … of the whole row.
    expect(relDiff(fwd.logits.data as Float32Array, ref.get(`${fam}.logits`)!.data.subarray((prompt.length - 1) * family.vocabSize))).toBeLessThanOrEqual(1e-5);
    const grad = await run('grad');
    for (const name of params.keys()) expect(relDiff(grad[`grad.${name}`].data as Float32Array, ref.get(`${fam}.grad.${name}`)!.data), name).toBeLessThanOrEqual(1e-4);
    // DoRA: 2 layers × modules × (A, B, magnitude); IA3: 2 layers × its modules.
    expect(params.size).toBe(2 * (type === 'dora' ? 3 * c.dora_targets.length : c.ia3_targets.length));
  });

  it("on two nn.Linear layers ([out, in], one with a bias): output within 1e-5, gradients of the adapter and the input within 1e-4", async () => {
    const L = CASE.linear;
    const shapes = new Map<string, number[]>([['l1.weight', L.l1], ['l2.weight', L.l2]]);
    const config = type === 'ia3' ? { r: 1, alpha: 1, dropout: 0, targets: ['l1', 'l2'], feedforward: ['l2'] } : { r: L.r, alpha: L.alpha, dropout: 0, targets: ['l1', 'l2'] };
    const adapter: Adapter = { name: 'default', type, config, modules: loraModules(shapes, config, 'out_in') };
    const params = under(ref, 'linear.param.');
    const inputs: Record<string, Value> = {};
    const g = new LoraGraph({ adapters: [adapter], param: (n) => inputs[n] });
    const x = g.input('x', 'float32', L.x);
    for (const [n, t] of params) inputs[n] = g.input(`p.${n}`, 'float32', t.shape);
    const W1 = g.input('p.l1.weight', 'float32', L.l1);
    const b1 = g.input('p.l1.bias', 'float32', [L.l1[0]]);
    const W2 = g.input('p.l2.weight', 'float32', L.l2);
    const R = g.input('R', 'float32', [L.x[0], L.x[1], L.l2[0]]);
    const y = g.withAdapter('default', () => {
      const h = g.tanh(g.add(g.matmul(x, g.transpose(W1, [1, 0])), b1)); // [2, 3, 6]
      return g.matmul(h, g.transpose(W2, [1, 0])); // [2, 3, 5]
    });
    const loss = g.reduceSum(g.mul(y, R), [0, 1, 2], false);
    const names = [...params.keys()];
    const grads = gradients(g, loss, [x, ...names.map((n) => inputs[n])]);
    const outs = [g.named(y, 'y'), g.named(grads[0], 'grad.x'), ...names.map((n, i) => g.named(grads[i + 1], `grad.${n}`))];
    const s = await createSession(g.toModel(outs), { threads: 1 });
    const feeds: Record<string, ort.Tensor> = { x: tensor(ref.get('linear.x')!), R: tensor(ref.get('linear.R')!) };
    for (const n of ['l1.weight', 'l1.bias', 'l2.weight']) feeds[`p.${n}`] = tensor(ref.get(`linear.${n}`)!);
    for (const [n, t] of params) feeds[`p.${n}`] = tensor(t);
    const out = await s.run(feeds);
    await s.release();
    expect(relDiff(out.y.data as Float32Array, ref.get('linear.y')!.data)).toBeLessThanOrEqual(1e-5);
    expect(relDiff(out['grad.x'].data as Float32Array, ref.get('linear.grad.x')!.data)).toBeLessThanOrEqual(1e-4);
    for (const n of names) expect(relDiff(out[`grad.${n}`].data as Float32Array, ref.get(`linear.grad.${n}`)!.data), n).toBeLessThanOrEqual(1e-4);
    expect(names.length).toBe(type === 'dora' ? 6 : 2);
  });
});
