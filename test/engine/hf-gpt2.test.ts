/**
 * Hugging Face GPT-2 folders: loading the PyTorch reference and matching its
 * logits, export → load round trips, the layouts save_pretrained produces
 * (transformer. prefix, attn.bias buffers, tied lm_head, float16/bfloat16,
 * shards), and errors that name the file, the tensor or field and what was expected.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Generator } from '../../src-main/engine/generate.ts';
import { exportGpt2Folder, gpt2ConfigFromHf, gpt2ConfigToHf, loadGpt2Folder, type HfGpt2Model } from '../../src-main/engine/hf/gpt2-folder.ts';
import { readSafetensors, type TensorMap } from '../../src-main/engine/safetensors.ts';
import { writeStored, type StoredDtype } from '../fixtures/safetensors.ts';

const REF = path.resolve(__dirname, '../../../shared/reference/gpt2-tiny');
let tmp: string;
let ref: HfGpt2Model;

// ------------------------------------------------------------ fixtures

/** A new folder holding the reference config.json. */
function folder(name: string, config: Record<string, unknown> = JSON.parse(readFileSync(path.join(REF, 'config.json'), 'utf8'))): string {
  const dir = path.join(tmp, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

/** The reference parameters as [name, dtype, shape, values] entries, renamed by `rename`. */
function entries(dtype: StoredDtype, rename: (n: string) => string = (n) => n): [string, StoredDtype, number[], Float32Array][] {
  return [...ref.params].map(([n, t]) => [rename(n), dtype, t.shape, t.data]);
}

/** max |a − b| / |b| over entries with |b| ≥ 1e-4 and max |a − b| elsewhere. */
function maxRoundingError(a: TensorMap, b: TensorMap): { rel: number; abs: number } {
  let rel = 0;
  let abs = 0;
  for (const [name, t] of b) {
    const o = a.get(name)!.data;
    for (let i = 0; i < t.data.length; i++) {
      const d = Math.abs(o[i] - t.data[i]);
      if (Math.abs(t.data[i]) >= 1e-4) rel = Math.max(rel, d / Math.abs(t.data[i]));
      else abs = Math.max(abs, d);
    }
  }
  return { rel, abs };
}

function expectSameParams(a: TensorMap, b: TensorMap): void {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [name, t] of b) {
    expect(a.get(name)!.shape, name).toEqual(t.shape);
    expect(a.get(name)!.data, name).toEqual(t.data);
  }
}

beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'stepwise-hf-'));
  ref = loadGpt2Folder(REF);
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// ------------------------------------------------------------ tests

describe('loading Hugging Face GPT-2 folders', () => {
  it('loads the gpt2-tiny reference folder, and its logits through the loader match PyTorch within 1e-5 relative', async () => {
    expect(ref.config).toEqual({ vocabSize: 20, nPositions: 32, nEmbd: 32, nLayer: 2, nHead: 4, layerNormEpsilon: 1e-5 });
    expect(ref.tokenizer).toBeNull();
    expect(ref.params.size).toBe(2 + 12 * 2 + 2); // wte, wpe; 12 per block; ln_f
    const ids: number[][] = JSON.parse(readFileSync(path.join(REF, 'batch.json'), 'utf8')).input_ids;
    const gen = Generator.create(ref.config, ref.params, { threads: 1 });
    const T = ids[0].length;
    const mask = new Uint8Array(3 * T * T);
    for (let b = 0; b < 3; b++) for (let t = 0; t < T; t++) for (let s = 0; s <= t; s++) mask[(b * T + t) * T + s] = 1;
    const out = await gen.step({ ids, positions: ids.map(() => [...Array(T).keys()]), mask, past: null }, { allLogits: true });
    const expected = readSafetensors(path.join(REF, 'expected.safetensors')).tensors.get('logits')!.data;
    let d = 0;
    let m = 0;
    expected.forEach((x, i) => {
      d = Math.max(d, Math.abs(out.logits[i] - x));
      m = Math.max(m, Math.abs(x));
    });
    expect(d / m).toBeLessThanOrEqual(1e-5);
  });

  it('accepts transformer.-prefixed names, attn.bias / attn.masked_bias buffers and a tied lm_head.weight', () => {
    const dir = folder('prefixed');
    const buffers: [string, StoredDtype, number[], Float32Array][] = [0, 1].flatMap((i) => [
      [`transformer.h.${i}.attn.bias`, 'F32', [1, 1, 32, 32], new Float32Array(32 * 32).fill(1)],
      [`transformer.h.${i}.attn.masked_bias`, 'F32', [], Float32Array.of(-1e4)],
    ]);
    const wte = ref.params.get('wte.weight')!;
    writeStored(path.join(dir, 'model.safetensors'), [...entries('F32', (n) => `transformer.${n}`), ...buffers, ['lm_head.weight', 'F32', wte.shape, wte.data]]);
    expectSameParams(loadGpt2Folder(dir).params, ref.params);
  });

  it('loads float16 weights within half rounding (2^-11 relative) and bfloat16 within 2^-8', () => {
    for (const [dtype, eps] of [['F16', 2 ** -11], ['BF16', 2 ** -8]] as const) {
      const dir = folder(`half-${dtype}`);
      writeStored(path.join(dir, 'model.safetensors'), entries(dtype));
      const loaded = loadGpt2Folder(dir).params;
      const err = maxRoundingError(loaded, ref.params);
      expect(err.rel, dtype).toBeLessThanOrEqual(eps);
      expect(err.rel, dtype).toBeGreaterThan(0); // really stored at lower precision
      expect(err.abs, dtype).toBeLessThanOrEqual(1e-4 * eps);
    }
  });

  it('loads weights sharded by model.safetensors.index.json', () => {
    const dir = folder('sharded');
    const all = entries('F32');
    const half = Math.ceil(all.length / 2);
    const shards = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    writeStored(path.join(dir, shards[0]), all.slice(0, half));
    writeStored(path.join(dir, shards[1]), all.slice(half));
    const weightMap = Object.fromEntries(all.map(([n], i) => [n, shards[i < half ? 0 : 1]]));
    writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
    expectSameParams(loadGpt2Folder(dir).params, ref.params);
  });

  it('reads generation_config.json: do_sample false is greedy, true keeps temperature, top_p and top_k', () => {
    const dir = folder('generation');
    copyFileSync(path.join(REF, 'model.safetensors'), path.join(dir, 'model.safetensors'));
    writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: 19, max_new_tokens: 7 }));
    expect(loadGpt2Folder(dir).generation).toEqual({ eosTokenId: 19, maxNewTokens: 7, temperature: 0 });
    writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ do_sample: true, temperature: 0.7, top_p: 0.9, bos_token_id: 1 }));
    expect(loadGpt2Folder(dir).generation).toEqual({ bosTokenId: 1, temperature: 0.7, topP: 0.9, topK: 50 });
  });
});

describe('exporting to a Hugging Face GPT-2 folder', () => {
  it('export → load gives back the same config, parameters and generation settings', () => {
    const dir = path.join(tmp, 'exported');
    const generation = { eosTokenId: 19, bosTokenId: 19, temperature: 0.8, topP: 0.95, topK: 0, maxNewTokens: 20 };
    exportGpt2Folder(dir, { config: ref.config, params: ref.params, hfExtra: { bos_token_id: 19, eos_token_id: 19 }, generation });
    const back = loadGpt2Folder(dir);
    expect(back.config).toEqual(ref.config);
    expectSameParams(back.params, ref.params);
    expect(back.generation).toEqual(generation);
    expect(back.hfConfig.eos_token_id).toBe(19);
  });

  it('writes config.json in HF field names and safetensors with format "pt" and no lm_head, as save_pretrained does', () => {
    const dir = path.join(tmp, 'exported-fields');
    exportGpt2Folder(dir, { config: ref.config, params: ref.params });
    const cfg = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({
      model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], activation_function: 'gelu_new',
      vocab_size: 20, n_positions: 32, n_ctx: 32, n_embd: 32, n_layer: 2, n_head: 4, layer_norm_epsilon: 1e-5, tie_word_embeddings: true,
    });
    const st = readSafetensors(path.join(dir, 'model.safetensors'));
    expect(st.metadata).toEqual({ format: 'pt' });
    expect([...st.tensors.keys()].sort()).toEqual([...ref.params.keys()].sort());
  });

  it('converts GPT2Config → config.json → GPT2Config without change, architecture fields overriding extras', () => {
    const hf = gpt2ConfigToHf(ref.config, { n_embd: 999, task_specific_params: { x: 1 } });
    expect(hf.n_embd).toBe(32);
    expect(hf.task_specific_params).toEqual({ x: 1 });
    expect(gpt2ConfigFromHf(hf)).toEqual(ref.config);
  });
});

describe('folder errors name the file, the tensor or field, and what was expected', () => {
  const withWeights = (name: string, tensors: [string, StoredDtype, number[], ArrayLike<number>][], config?: Record<string, unknown>) => {
    const dir = folder(name, config);
    writeStored(path.join(dir, 'model.safetensors'), tensors);
    return dir;
  };

  it('a truncated model.safetensors names the file and the tensor cut off', () => {
    const dir = folder('truncated');
    const bytes = readFileSync(path.join(REF, 'model.safetensors'));
    writeFileSync(path.join(dir, 'model.safetensors'), bytes.subarray(0, bytes.length - 100));
    expect(() => loadGpt2Folder(dir)).toThrow(new RegExp(`${dir}/model\\.safetensors: tensor 'ln_f\\.bias' has data offsets .* outside the file .*truncated`));
  });

  it('a corrupt header names the file', () => {
    const dir = folder('corrupt');
    const bytes = new Uint8Array(readFileSync(path.join(REF, 'model.safetensors')));
    bytes[8] = 0x7b; // '{' → '{{'
    bytes[9] = 0x7b;
    writeFileSync(path.join(dir, 'model.safetensors'), bytes);
    expect(() => loadGpt2Folder(dir)).toThrow(new RegExp(`${dir}/model\\.safetensors: header is not valid JSON`));
  });

  it('a missing tensor names the folder, the tensor and its expected shape', () => {
    const dir = withWeights('missing', entries('F32').filter(([n]) => n !== 'h.1.mlp.c_fc.bias'));
    expect(() => loadGpt2Folder(dir)).toThrow(`${dir}: the weights lack 1 tensor(s): 'h.1.mlp.c_fc.bias' [128]`);
  });

  it('a wrongly shaped tensor names the file, the tensor, its shape and the expected one', () => {
    const tensors = entries('F32').map(([n, d, s, v]) => (n === 'h.0.attn.c_attn.weight' ? ([n, d, [96, 32], v] as typeof tensors[number]) : [n, d, s, v])) as ReturnType<typeof entries>;
    const dir = withWeights('wrong-shape', tensors);
    expect(() => loadGpt2Folder(dir)).toThrow(`${dir}/model.safetensors: tensor 'h.0.attn.c_attn.weight' has shape [96, 32], expected [32, 96]`);
  });

  it('an lm_head.weight different from wte.weight is refused as untied', () => {
    const wte = ref.params.get('wte.weight')!;
    const dir = withWeights('untied', [...entries('F32'), ['lm_head.weight', 'F32', wte.shape, wte.data.map((x) => x + 1)]]);
    expect(() => loadGpt2Folder(dir)).toThrow(`${dir}/model.safetensors: tensor 'lm_head.weight' differs from wte.weight`);
  });

  it('an unknown tensor and a non-float dtype are refused by name', () => {
    let dir = withWeights('extra', [...entries('F32'), ['h.2.ln_1.weight', 'F32', [32], new Float32Array(32)]]);
    expect(() => loadGpt2Folder(dir)).toThrow(`${dir}/model.safetensors: unexpected tensor 'h.2.ln_1.weight'; not a parameter of GPT-2 with n_layer=2`);
    dir = withWeights('int', entries('F32').map(([n, d, s, v]) => [n, n === 'wpe.weight' ? 'I64' : d, s, v]));
    expect(() => loadGpt2Folder(dir)).toThrow(`${dir}/model.safetensors: tensor 'wpe.weight' is stored as I64, expected F32, F16 or BF16`);
  });

  it('config.json: another model_type, a non-tanh activation or an untied head is refused naming the field', () => {
    const base = JSON.parse(readFileSync(path.join(REF, 'config.json'), 'utf8'));
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base, model_type: 'llama' }, 'model_type is "llama", expected "gpt2"'],
      [{ ...base, activation_function: 'relu' }, 'activation_function is "relu", expected "gelu_new"'],
      [{ ...base, tie_word_embeddings: false }, 'tie_word_embeddings is false, expected true'],
      [{ ...base, n_head: 5 }, 'n_embd (32) is not divisible by n_head (5)'],
      [{ ...base, n_layer: 'two' }, 'n_layer is "two", expected a positive whole number'],
    ];
    cases.forEach(([cfg, msg], i) => {
      const dir = folder(`config-${i}`, cfg);
      expect(() => loadGpt2Folder(dir)).toThrow(`${dir}/config.json: ${msg}`);
    });
  });

  it('a folder without weights, or with only pytorch_model.bin, says what to provide', () => {
    const dir = folder('no-weights');
    expect(() => loadGpt2Folder(dir)).toThrow(`${dir}: no model.safetensors or model.safetensors.index.json`);
    writeFileSync(path.join(dir, 'pytorch_model.bin'), 'x');
    expect(() => loadGpt2Folder(dir)).toThrow(/has only pytorch_model\.bin; Stepwise reads safetensors/);
    expect(() => loadGpt2Folder(path.join(tmp, 'nowhere'))).toThrow(/nowhere: no config\.json/);
  });
});
