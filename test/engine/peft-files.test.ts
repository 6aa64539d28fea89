/**
 * DoRA and IA3 adapters on disk in PEFT's layout, and their initialisation:
 * DoRA is written as PEFT writes it (peft_type LORA, use_dora, one
 * `lora_magnitude_vector` [out] per module), IA3 with `ia3_l` in PEFT's
 * shapes and its feedforward_modules; both read back, also under PEFT's
 * in-memory names (with the adapter name); a wrong file is refused with the
 * file, the tensor and what was expected; a fresh adapter merges to the base.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initGPT2, initLlama } from '../../src-main/engine/init.ts';
import { adapterParamShapes, initAdapter, loadAdapterPeft, loraModules, mergeAdapter, PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE, saveAdapterPeft, type Adapter, type LoraConfig } from '../../src-main/engine/lora.ts';
import { modelFamily } from '../../src-main/engine/models/family.ts';
import type { GPT2Config } from '../../src-main/engine/models/gpt2.ts';
import type { LlamaConfig } from '../../src-main/engine/models/llama.ts';
import { readSafetensors, writeSafetensors, type TensorMap } from '../../src-main/engine/safetensors.ts';
import { randn } from './fd.ts';

const gpt2: GPT2Config = { vocabSize: 23, nPositions: 32, nEmbd: 16, nLayer: 2, nHead: 2, layerNormEpsilon: 1e-5 };
const gpt2Shapes = modelFamily(gpt2).paramShapes();
const gpt2Base = initGPT2(gpt2, 3);
const llama: LlamaConfig = {
  family: 'llama', vocabSize: 23, hiddenSize: 16, intermediateSize: 24, nLayer: 1, nHead: 2, nKvHead: 1, headDim: 8, maxPositions: 32,
  rmsNormEps: 1e-6, ropeTheta: 10000, ropeScaling: null, tieWordEmbeddings: false, qkvBias: true, oBias: false, mlpBias: false,
};
const llamaShapes = modelFamily(llama).paramShapes();
const llamaBase = initLlama(llama, 4);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'stepwise-peft-files-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const DORA: LoraConfig = { r: 2, alpha: 4, dropout: 0, targets: ['attn.c_attn', 'mlp.c_fc'] };
const IA3: LoraConfig = { r: 1, alpha: 1, dropout: 0, targets: ['attn.c_attn', 'mlp.c_proj'], feedforward: ['mlp.c_proj'] };

/** An adapter of the type with every parameter random. */
function randomAdapter(type: 'dora' | 'ia3', config: LoraConfig): { adapter: Adapter; weights: TensorMap } {
  const adapter: Adapter = { name: 'default', type, config, modules: loraModules(gpt2Shapes, config, 'in_out') };
  let seed = 1;
  const weights: TensorMap = new Map([...adapterParamShapes(adapter)].map(([n, shape]) => [n, { shape, data: Float32Array.from(randn(shape.reduce((a, b) => a * b, 1), seed++)) }]));
  return { adapter, weights };
}

describe('DoRA and IA3 in PEFT\'s files', () => {
  it('DoRA is saved as PEFT saves it (LORA with use_dora, lora_magnitude_vector [out]) and reads back as DoRA', () => {
    const { adapter, weights } = randomAdapter('dora', DORA);
    const dir = path.join(tmp, 'dora');
    saveAdapterPeft(dir, adapter, weights, { modulePrefix: 'transformer.', layout: 'in_out', baseModel: 'gpt2' });
    const cfg = JSON.parse(readFileSync(path.join(dir, PEFT_CONFIG_FILE), 'utf8'));
    expect(cfg).toMatchObject({ peft_type: 'LORA', use_dora: true, r: 2, lora_alpha: 4, fan_in_fan_out: true, target_modules: ['attn.c_attn', 'mlp.c_fc'] });
    const tensors = readSafetensors(path.join(dir, PEFT_WEIGHTS_FILE)).tensors;
    expect(tensors.get('base_model.model.transformer.h.1.attn.c_attn.lora_magnitude_vector')!.shape).toEqual([48]);
    expect(tensors.get('base_model.model.transformer.h.1.mlp.c_fc.lora_A.weight')!.shape).toEqual([2, 16]);
    expect(tensors.size).toBe(2 * 2 * 3);
    const back = loadAdapterPeft(dir, 'default', gpt2Shapes, { modulePrefix: 'transformer.', layout: 'in_out' });
    expect(back.adapter.type).toBe('dora');
    expect(back.adapter.modules).toEqual(adapter.modules);
    for (const [n, t] of weights) expect(Array.from(back.weights.get(n)!.data), n).toEqual(Array.from(t.data));
  });

  it('IA3 is saved with ia3_l in PEFT\'s shapes ([1, in] feed-forward, [out, 1] otherwise) and feedforward_modules, and reads back', () => {
    const { adapter, weights } = randomAdapter('ia3', IA3);
    const dir = path.join(tmp, 'ia3');
    saveAdapterPeft(dir, adapter, weights, { modulePrefix: 'transformer.', layout: 'in_out' });
    const cfg = JSON.parse(readFileSync(path.join(dir, PEFT_CONFIG_FILE), 'utf8'));
    expect(cfg).toMatchObject({ peft_type: 'IA3', target_modules: ['attn.c_attn', 'mlp.c_proj'], feedforward_modules: ['mlp.c_proj'], fan_in_fan_out: true, init_ia3_weights: true });
    const tensors = readSafetensors(path.join(dir, PEFT_WEIGHTS_FILE)).tensors;
    expect(tensors.get('base_model.model.transformer.h.0.attn.c_attn.ia3_l')!.shape).toEqual([48, 1]);
    expect(tensors.get('base_model.model.transformer.h.0.mlp.c_proj.ia3_l')!.shape).toEqual([1, 64]);
    const back = loadAdapterPeft(dir, 'default', gpt2Shapes, { modulePrefix: 'transformer.', layout: 'in_out' });
    expect(back.adapter.type).toBe('ia3');
    expect(back.adapter.modules.map((m) => [m.module, m.feedforward])).toEqual(adapter.modules.map((m) => [m.module, m.feedforward]));
    expect(back.adapter.config.feedforward).toEqual(['mlp.c_proj']);
    for (const [n, t] of weights) expect(Array.from(back.weights.get(n)!.data), n).toEqual(Array.from(t.data));
  });

  it("reads PEFT's in-memory names too (lora_magnitude_vector.default.weight, ia3_l.default) on a Llama", () => {
    const dir = path.join(tmp, 'llama-ia3');
    const cfgs = { peft_type: 'IA3', target_modules: ['k_proj', 'down_proj'], feedforward_modules: ['down_proj'] };
    const tensors: TensorMap = new Map([
      ['base_model.model.model.layers.0.self_attn.k_proj.ia3_l.default', { shape: [8, 1], data: new Float32Array(8).fill(2) }],
      ['base_model.model.model.layers.0.mlp.down_proj.ia3_l.default', { shape: [1, 24], data: new Float32Array(24).fill(0.5) }],
    ]);
    mkdirSync(dir);
    writeSafetensors(path.join(dir, PEFT_WEIGHTS_FILE), tensors, { format: 'pt' });
    writeFileSync(path.join(dir, PEFT_CONFIG_FILE), JSON.stringify(cfgs));
    const back = loadAdapterPeft(dir, 'default', llamaShapes, { modulePrefix: '', layout: 'out_in' });
    expect([...back.adapter.modules].sort((a, b) => a.module.localeCompare(b.module))).toEqual([
      { module: 'model.layers.0.mlp.down_proj', in: 24, out: 16, feedforward: true },
      { module: 'model.layers.0.self_attn.k_proj', in: 16, out: 8, feedforward: false },
    ]);
    // Merged as PEFT merges: k_proj's rows and bias doubled, down_proj's input columns halved.
    const merged = mergeAdapter(llamaBase, back.adapter, back.weights, 'out_in');
    const k = 'model.layers.0.self_attn.k_proj';
    expect(Array.from(merged.get(`${k}.weight`)!.data)).toEqual(Array.from(llamaBase.get(`${k}.weight`)!.data, (x) => 2 * x));
    expect(Array.from(merged.get(`${k}.bias`)!.data)).toEqual(Array.from(llamaBase.get(`${k}.bias`)!.data, (x) => 2 * x));
    const d = 'model.layers.0.mlp.down_proj.weight';
    expect(Array.from(merged.get(d)!.data)).toEqual(Array.from(llamaBase.get(d)!.data, (x) => 0.5 * x));

    // DoRA under PEFT's in-memory names: lora_A.default.weight, lora_magnitude_vector.default.weight.
    const { adapter, weights } = randomAdapter('dora', DORA);
    const ddir = path.join(tmp, 'dora-named');
    saveAdapterPeft(ddir, adapter, weights, { modulePrefix: 'transformer.', layout: 'in_out' });
    const file = path.join(ddir, PEFT_WEIGHTS_FILE);
    const renamed = new Map([...readSafetensors(file).tensors].map(([k, t]) => [k.replace(/\.(lora_A|lora_B)\.weight$/, '.$1.default.weight').replace(/lora_magnitude_vector$/, 'lora_magnitude_vector.default.weight'), t]));
    writeSafetensors(file, renamed, { format: 'pt' });
    const dback = loadAdapterPeft(ddir, 'default', gpt2Shapes, { modulePrefix: 'transformer.', layout: 'in_out' });
    for (const [n, t] of weights) expect(Array.from(dback.weights.get(n)!.data), n).toEqual(Array.from(t.data));
  });

  it('refuses a wrong file naming the file, the tensor and what was expected', () => {
    const { adapter, weights } = randomAdapter('ia3', IA3);
    const dir = path.join(tmp, 'bad-ia3');
    saveAdapterPeft(dir, adapter, weights, { modulePrefix: 'transformer.', layout: 'in_out' });
    const file = path.join(dir, PEFT_WEIGHTS_FILE);
    const tensors = readSafetensors(file).tensors;
    tensors.set('base_model.model.transformer.h.0.attn.c_attn.ia3_l', { shape: [1, 48], data: new Float32Array(48) });
    writeSafetensors(file, tensors, { format: 'pt' });
    expect(() => loadAdapterPeft(dir, 'default', gpt2Shapes, { modulePrefix: 'transformer.', layout: 'in_out' })).toThrow(
      `${file}: 'base_model.model.transformer.h.0.attn.c_attn.ia3_l' has shape [1, 48], expected [48, 1] ([1, 16] on a feed-forward input, [48, 1] on an output)`,
    );

    const dora = randomAdapter('dora', DORA);
    const ddir = path.join(tmp, 'bad-dora');
    saveAdapterPeft(ddir, dora.adapter, dora.weights, { modulePrefix: 'transformer.', layout: 'in_out' });
    const dfile = path.join(ddir, PEFT_WEIGHTS_FILE);
    const dt = readSafetensors(dfile).tensors;
    dt.delete('base_model.model.transformer.h.0.mlp.c_fc.lora_magnitude_vector');
    writeSafetensors(dfile, dt, { format: 'pt' });
    expect(() => loadAdapterPeft(ddir, 'default', gpt2Shapes, { modulePrefix: 'transformer.', layout: 'in_out' })).toThrow(`${dfile}: 'h.0.mlp.c_fc' has no lora_magnitude_vector`);

    writeFileSync(path.join(ddir, PEFT_CONFIG_FILE), JSON.stringify({ peft_type: 'PREFIX_TUNING' }));
    expect(() => loadAdapterPeft(ddir, 'default', gpt2Shapes, { modulePrefix: 'transformer.', layout: 'in_out' })).toThrow('peft_type is "PREFIX_TUNING"; "LORA" (with or without use_dora) and "IA3" are supported');
  });

  it('a fresh DoRA adapter (magnitude ‖W‖ per output feature, B = 0) and a fresh IA3 one (ones) merge to the base', () => {
    for (const [type, config] of [['dora', DORA], ['ia3', IA3]] as const) {
      const adapter: Adapter = { name: 'default', type, config, modules: loraModules(gpt2Shapes, config, 'in_out') };
      const init = initAdapter(adapter, 0, gpt2Base, 'in_out');
      if (type === 'dora') {
        // c_attn is [in 16, out 48]: the magnitude of output o is the norm of column o.
        const w = gpt2Base.get('h.0.attn.c_attn.weight')!.data;
        const col = Math.hypot(...Array.from({ length: 16 }, (_, i) => w[i * 48 + 5]));
        expect(init.get('h.0.attn.c_attn.lora_magnitude_vector.default.weight')!.data[5]).toBeCloseTo(col, 5);
      }
      const merged = mergeAdapter(gpt2Base, adapter, init, 'in_out');
      for (const m of adapter.modules) {
        const a = merged.get(`${m.module}.weight`)!.data;
        const b = gpt2Base.get(`${m.module}.weight`)!.data;
        expect(Math.max(...a.map((x, i) => Math.abs(x - b[i]))), `${type} ${m.module}`).toBeLessThan(1e-6);
      }
    }
  });
});
