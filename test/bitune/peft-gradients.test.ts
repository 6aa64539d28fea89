/**
 * Gradient checks of DoRA, IA3 and full fine-tuning (LoRA: reference.test.ts), alone
 * (the LoRA variant: one causal pass) and under Bitune's two passes (two
 * adapter sets, or two copies of the model, and the mixing), on the tiny
 * GPT-2 and the tiny Llama of ../shared/reference: the 'grad' graph's
 * gradients of a spread of trainable entries match central differences of
 * the 'forward' graph's loss. DoRA's weight norm, detached in training as in
 * PEFT, is left attached here (doraNormGradient) so the whole computation is
 * what the differences see; peft-reference.test.ts checks the detached
 * gradient against PyTorch.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { initFullCopy } from '../../src-main/engine/full-finetune.ts';
import { loadModelFolder } from '../../src-main/engine/hf/model-folder.ts';
import { adapterParamShapes, loraModules, type Adapter, type PeftType } from '../../src-main/engine/lora.ts';
import { modelFamily, type ModelFamily } from '../../src-main/engine/models/family.ts';
import { createSession, int64Tensor, ort } from '../../src-main/engine/runtime.ts';
import type { TensorMap } from '../../src-main/engine/safetensors.ts';
import { compileBitune } from '../../src-main/methods/bitune/graph.ts';
import { IA3_FEEDFORWARD, IA3_TARGETS, DEFAULT_TARGETS, WEIGHT_LAYOUT } from '../../src-main/methods/bitune/recipe.ts';
import { DEFAULT_VARIANT, MIX_K, MIX_V, passesOf, type Variant } from '../../src-main/methods/bitune/variant.ts';
import { randn } from '../engine/fd.ts';

const REF = path.resolve(__dirname, '../../../shared/reference');

interface Case {
  family: ModelFamily;
  base: TensorMap;
  prompt: number[];
  answer: number[];
}

function load(name: 'gpt2-tiny' | 'llama-tiny'): Case {
  const dir = path.join(REF, name);
  const m = loadModelFolder(dir);
  const ids: number[] = JSON.parse(readFileSync(path.join(dir, 'batch.json'), 'utf8')).input_ids[0];
  return { family: modelFamily(m.config), base: m.params, prompt: ids.slice(0, 6), answer: ids.slice(6, 10) };
}

/** The variant's adapters of `type`, and every trainable parameter away from its initial value (so each term matters). */
function setup(c: Case, type: PeftType, variant: Variant): { adapters: Adapter[]; trained: TensorMap } {
  const fam = c.family.name;
  const config = type === 'ia3'
    ? { r: 1, alpha: 1, dropout: 0, targets: IA3_TARGETS[fam], feedforward: IA3_FEEDFORWARD[fam] }
    : { r: 2, alpha: 4, dropout: 0, targets: DEFAULT_TARGETS[fam] };
  const modules = type === 'full' ? [] : loraModules(c.family.paramShapes(), config, WEIGHT_LAYOUT[fam]);
  const adapters = passesOf(variant).adapters.map((name) => ({ name, type, config, modules }));
  const trained: TensorMap = new Map();
  let seed = 5;
  for (const a of adapters) {
    if (type === 'full') {
      for (const [n, t] of initFullCopy(a.name, c.base)) {
        const noise = randn(t.data.length, seed++);
        trained.set(n, { shape: t.shape, data: t.data.map((x, i) => x + 0.02 * noise[i]) });
      }
      continue;
    }
    for (const [n, shape] of adapterParamShapes(a)) {
      const size = shape.reduce((p, q) => p * q, 1);
      const noise = randn(size, seed++);
      // Magnitudes and IA3 vectors around 1 (norms of these weights are O(1)); A and B around 0.
      const around = n.includes('lora_magnitude_vector') || n.includes('ia3_l') ? 1 : 0;
      trained.set(n, { shape, data: Float32Array.from(noise, (x) => around + 0.2 * x) });
    }
  }
  if (passesOf(variant).mixing) {
    trained.set(MIX_K, { shape: [c.family.nLayer], data: Float32Array.from({ length: c.family.nLayer }, (_, l) => 0.05 + 0.03 * l) });
    trained.set(MIX_V, { shape: [c.family.nLayer], data: Float32Array.from({ length: c.family.nLayer }, (_, l) => 0.06 - 0.11 * l) });
  }
  return { adapters, trained };
}

const CASES = { gpt2: load('gpt2-tiny'), llama: load('llama-tiny') };
const VARIANTS: Record<string, Variant> = { alone: { ...DEFAULT_VARIANT, method: 'lora' }, bitune: DEFAULT_VARIANT };

describe.each(['dora', 'ia3', 'full'] as const)('%s: gradients match central differences of the loss', (type) => {
  it.each([['gpt2', 'alone'], ['gpt2', 'bitune'], ['llama', 'alone'], ['llama', 'bitune']] as const)('on the tiny %s, %s', async (fam, how) => {
    const c = CASES[fam];
    const variant = VARIANTS[how];
    const { adapters, trained } = setup(c, type, variant);
    const P = c.prompt.length;
    const ids = [...c.prompt, ...c.answer];
    const session = async (mode: 'forward' | 'grad') => {
      const g = compileBitune({ family: c.family, variant, adapters, batch: 1, prefix: P - 1, rest: c.answer.length + 1, mode, doraNormGradient: true });
      return { g, s: await createSession(g.model, { threads: 1 }) };
    };
    const fwd = await session('forward');
    const grad = await session('grad');
    const run = async (s: ort.InferenceSession) => {
      const feeds: Record<string, ort.Tensor> = {
        input_ids: int64Tensor(ids, [1, ids.length]),
        position_ids: int64Tensor(ids.map((_, i) => i), [1, ids.length]),
        labels: int64Tensor(ids.map((id, i) => (i < P ? -100 : id)), [1, ids.length]),
      };
      for (const [n, t] of c.base) feeds[`p.${n}`] = new ort.Tensor('float32', t.data, t.shape);
      for (const [n, t] of trained) feeds[`p.${n}`] = new ort.Tensor('float32', t.data, t.shape);
      return s.run(Object.fromEntries(s.inputNames.map((n) => [n, feeds[n]])));
    };
    try {
      expect(new Set(fwd.g.trainable.entries.map((e) => e.name))).toEqual(new Set(trained.keys()));
      if (type === 'full') expect(fwd.g.baseNames).toEqual([]); // the copies are the model
      const out = await run(grad.s);
      // A spread of entries: every k-th trainable tensor (θ included), one element each.
      const entries = grad.g.trainable.entries;
      const step = Math.max(1, Math.floor(entries.length / 7));
      const picked = entries.filter((_, i) => i % step === 0 || i === entries.length - 1);
      const h = 3e-3;
      let reached = 0;
      for (const [k, e] of picked.entries()) {
        const t = trained.get(e.name)!;
        const at = (7 * k + 3) % t.data.length;
        const keep = t.data[at];
        t.data[at] = keep + h;
        const up = (await run(fwd.s)).loss.data[0] as number;
        t.data[at] = keep - h;
        const down = (await run(fwd.s)).loss.data[0] as number;
        t.data[at] = keep;
        const numeric = (up - down) / (2 * h);
        const analytic = (out[`grad.${e.name}`].data as Float32Array)[at];
        expect(Math.abs(analytic - numeric), `${e.name}[${at}]: ${analytic} vs ${numeric}`).toBeLessThanOrEqual(3e-3 * Math.max(1, Math.abs(numeric)));
        if (Math.abs(analytic) > 1e-4) reached++;
      }
      expect(reached).toBeGreaterThanOrEqual(Math.ceil(picked.length / 2)); // the check compared something
    } finally {
      await fwd.s.release();
      await grad.s.release();
    }
  });
});
