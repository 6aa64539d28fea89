/**
 * Bitune against PyTorch: ../shared/reference/bitune-gpt2-tiny holds two LoRA
 * adapters and the mixing parameters on the frozen gpt2-tiny, and the loss,
 * the answer logits, every layer's mixed keys and values, and every gradient
 * of the adapters and mixing parameters (see ../shared/README.md).
 * Tolerances are the README's: 1e-5·max|ref| for loss, logits and caches;
 * 1e-4·max|ref| for gradients.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loraModules, type Adapter, type LoraConfig } from '../../src-main/engine/lora.ts';
import { modelFamily, type ModelFamily } from '../../src-main/engine/models/family.ts';
import type { GPT2Config } from '../../src-main/engine/models/gpt2.ts';
import { createSession, int64Tensor, ort } from '../../src-main/engine/runtime.ts';
import { readSafetensors, type TensorMap } from '../../src-main/engine/safetensors.ts';
import { compileBitune } from '../../src-main/methods/bitune/graph.ts';
import { DEFAULT_VARIANT, type Variant } from '../../src-main/methods/bitune/variant.ts';
import { relDiff } from '../fixtures/compare.ts';
import { PROVIDERS } from '../fixtures/providers.ts';
import type { ProviderName } from '../../src-main/engine/target.ts';

const REF = path.resolve(__dirname, '../../../shared/reference/bitune-gpt2-tiny');
const BASE = path.resolve(REF, '../gpt2-tiny');

let family: ModelFamily;
let base: TensorMap;
let trained: TensorMap;
let expected: TensorMap;
let adapters: Adapter[];
let prompt: number[];
let answer: number[];

beforeAll(() => {
  const cfg = JSON.parse(readFileSync(path.join(BASE, 'config.json'), 'utf8'));
  const arch: GPT2Config = { vocabSize: cfg.vocab_size, nPositions: cfg.n_positions, nEmbd: cfg.n_embd, nLayer: cfg.n_layer, nHead: cfg.n_head, layerNormEpsilon: cfg.layer_norm_epsilon };
  family = modelFamily(arch);
  base = readSafetensors(path.join(BASE, 'model.safetensors')).tensors;
  trained = readSafetensors(path.join(REF, 'adapters.safetensors')).tensors;
  expected = readSafetensors(path.join(REF, 'expected.safetensors')).tensors;
  const c = JSON.parse(readFileSync(path.join(REF, 'case.json'), 'utf8'));
  const lora: LoraConfig = { r: c.lora.r, alpha: c.lora.alpha, dropout: 0, targets: c.lora.targets };
  adapters = c.lora.adapters.map((name: string) => ({ name, config: lora, modules: loraModules(family.paramShapes(), lora, 'in_out') }));
  prompt = c.prompt_ids[0];
  answer = c.answer_ids[0];
});

/** The reference case as one batch row: prompt before its last token | last prompt token, answer. */
function feeds(names: string[]): Record<string, ort.Tensor> {
  const f: Record<string, ort.Tensor> = {};
  for (const [name, t] of base) f[`p.${name}`] = new ort.Tensor('float32', t.data, t.shape);
  for (const name of names) {
    const t = trained.get(name)!;
    f[`p.${name}`] = new ort.Tensor('float32', t.data, t.shape);
  }
  const ids = [...prompt, ...answer];
  f.input_ids = int64Tensor(ids, [1, ids.length]);
  f.position_ids = int64Tensor(ids.map((_, i) => i), [1, ids.length]);
  f.labels = int64Tensor(ids.map((id, i) => (i < prompt.length ? -100 : id)), [1, ids.length]);
  return f;
}

async function run(variant: Variant, mode: 'forward' | 'grad', provider: ProviderName) {
  const P = prompt.length;
  const c = compileBitune({ family, variant, adapters, batch: 1, prefix: P - 1, rest: answer.length + 1, mode, provider });
  const s = await createSession(c.model, { provider });
  try {
    return { c, out: await s.run(feeds(c.trainable.entries.map((e) => e.name))) };
  } finally {
    await s.release();
  }
}

describe.each(PROVIDERS)('Bitune matches PyTorch on the bitune-gpt2-tiny reference (%s)', (provider) => {
  it('forward: loss, answer logits and every mixed key and value cache within 1e-5 relative', async () => {
    const { out } = await run(DEFAULT_VARIANT, 'forward', provider);
    expect(relDiff(out.loss.data as Float32Array, expected.get('loss')!.data)).toBeLessThanOrEqual(1e-5);
    expect(relDiff(out.logits.data as Float32Array, expected.get('logits')!.data)).toBeLessThanOrEqual(1e-5);
    for (let l = 0; l < family.nLayer; l++) {
      expect(relDiff(out[`mixed_k.${l}`].data as Float32Array, expected.get(`mixed_k.${l}`)!.data), `mixed_k.${l}`).toBeLessThanOrEqual(1e-5);
      expect(relDiff(out[`mixed_v.${l}`].data as Float32Array, expected.get(`mixed_v.${l}`)!.data), `mixed_v.${l}`).toBeLessThanOrEqual(1e-5);
    }
    // α = |θ| / (|θ| + 0.01) with θ_k = [0.01, 0.02], θ_v = [0.01, −0.005].
    expect(Array.from(out.alpha_k.data as Float32Array)).toEqual([expect.closeTo(0.5, 6), expect.closeTo(2 / 3, 6)]);
    expect(Array.from(out.alpha_v.data as Float32Array)).toEqual([expect.closeTo(0.5, 6), expect.closeTo(1 / 3, 6)]);
  });

  it('backward: every adapter and mixing gradient within 1e-4 relative (unreached ones exactly zero)', async () => {
    const { c, out } = await run(DEFAULT_VARIANT, 'grad', provider);
    expect(c.trainable.entries.length).toBe(34); // 2 adapters × 4 modules × 2 layers × (A, B) + θ_k + θ_v
    let reached = 0;
    for (const e of c.trainable.entries) {
      const ours = out[`grad.${e.name}`].data as Float32Array;
      const ref = expected.get(`grad.${e.name}`)!.data;
      if (ref.every((x) => x === 0)) expect(ours.every((x) => x === 0), `grad.${e.name} is zero`).toBe(true);
      else {
        reached++;
        expect(relDiff(ours, ref), `grad.${e.name}`).toBeLessThanOrEqual(1e-4);
      }
    }
    expect(reached).toBe(28); // the prefill adapter after layer 1's keys and values reaches nothing
  });

  it('LoRA: the default adapter over the whole sequence gives the reference causal logits', async () => {
    const { out } = await run({ ...DEFAULT_VARIANT, method: 'lora' }, 'forward', provider);
    const ref = expected.get('causal_default_logits')!.data; // [1, 12, 20]: the answer part is positions 6..11
    const V = family.vocabSize;
    expect(relDiff(out.logits.data as Float32Array, ref.subarray((prompt.length - 1) * V))).toBeLessThanOrEqual(1e-5);
  });
});
