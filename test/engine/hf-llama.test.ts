/**
 * Hugging Face Llama-family folders: the llama-tiny reference folder, folders
 * the test writes itself (shards with their index, float16 and bfloat16,
 * tied and untied, Qwen2 biases, a bare LlamaModel's names), export → load
 * round trips, the tokenizer and its chat template, and errors that name the
 * file, the field or tensor and what was expected.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Generator } from '../../src-main/engine/generate.ts';
import { ChatTemplate, loadChatTemplate } from '../../src-main/engine/hf/chat-template.ts';
import { exportLlamaFolder, llamaConfigFromHf, llamaConfigToHf, loadLlamaFolder } from '../../src-main/engine/hf/llama-folder.ts';
import { llamaParamShapes, type LlamaConfig } from '../../src-main/engine/models/llama.ts';
import { readSafetensors, type TensorMap } from '../../src-main/engine/safetensors.ts';
import { byteBpeJson } from '../fixtures/byte-bpe.ts';
import { writeStored, type StoredDtype } from '../fixtures/safetensors.ts';
import { randn } from './fd.ts';

const REF = path.resolve(__dirname, '../../../shared/reference/llama-tiny');
let tmp: string;

// ------------------------------------------------------------ fixtures

/** A small Llama config.json (HF field names); vocab 300 leaves room for the byte-level tokenizer below. */
const HF_CONFIG = {
  model_type: 'llama', vocab_size: 300, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 4,
  num_key_value_heads: 2, max_position_embeddings: 64, rms_norm_eps: 1e-5, rope_theta: 10000, hidden_act: 'silu', tie_word_embeddings: false,
  bos_token_id: 256, eos_token_id: 258,
};

/**
 * Parameters with at most 7 significant bits (multiples of 1/256 below 0.5, norms
 * 1 + k/128): exactly representable in float16 and bfloat16, so a folder stored
 * in either loads back bit-exact.
 */
function params(cfg: LlamaConfig, seed = 1): TensorMap {
  const out: TensorMap = new Map();
  let s = seed;
  for (const [name, shape] of llamaParamShapes(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const norm = name.endsWith('norm.weight'); // 1 + k/128: 7 mantissa bits, bfloat16's precision
    out.set(name, { shape, data: Float32Array.from(randn(n, s++), (x) => (norm ? 1 + Math.max(-31, Math.min(31, Math.round(x * 4))) / 128 : Math.max(-127, Math.min(127, Math.round(x * 32))) / 256 + 0)) }); // + 0: no −0
  }
  return out;
}

type Stored = Exclude<StoredDtype, 'I64'>;

function folder(name: string, config: Record<string, unknown>, files: Record<string, string> = {}): string {
  const dir = path.join(tmp, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  for (const [f, text] of Object.entries(files)) writeFileSync(path.join(dir, f), text);
  return dir;
}

function expectSameParams(a: TensorMap, b: TensorMap): void {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [name, t] of b) {
    expect(a.get(name)!.shape, name).toEqual(t.shape);
    expect(Array.from(a.get(name)!.data), name).toEqual(Array.from(t.data));
  }
}

// A byte-level BPE tokenizer with ChatML's special tokens (SmolLM2 / Qwen2 style): bytes 0..255, then the specials.
const tokenizerJson = () => byteBpeJson();
const CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'stepwise-hf-llama-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// ------------------------------------------------------------ tests

describe('loading Llama-family folders', () => {
  it('loads the llama-tiny reference folder and reproduces PyTorch\'s logits through the generator', async () => {
    const m = loadLlamaFolder(REF);
    expect(m.config.nKvHead).toBe(2);
    expect(m.tokenizer).toBeNull();
    expect(m.chatTemplate).toBeNull();
    const raw = readSafetensors(path.join(REF, 'model.safetensors')).tensors;
    expect(m.params.size).toBe(raw.size);
    for (const [name, t] of m.params) expect(t.data).toEqual(raw.get(name)!.data);
    const ids: number[][] = JSON.parse(readFileSync(path.join(REF, 'batch.json'), 'utf8')).input_ids;
    const gen = Generator.create(m.config, m.params, { threads: 1 });
    const T = ids[0].length;
    const mask = new Uint8Array(2 * T * T);
    for (let b = 0; b < 2; b++) for (let t = 0; t < T; t++) for (let s = 0; s <= t; s++) mask[(b * T + t) * T + s] = 1;
    const out = await gen.step({ ids, positions: ids.map(() => [...Array(T).keys()]), mask, past: null }, { allLogits: true });
    const ref = readSafetensors(path.join(REF, 'expected.safetensors')).tensors.get('logits')!.data;
    let d = 0;
    ref.forEach((x, i) => (d = Math.max(d, Math.abs(out.logits[i] - x))));
    expect(d).toBeLessThanOrEqual(1e-5 * Math.max(...Array.from(ref, Math.abs)));
    await gen.release();
  });

  it('reads float16 shards listed by model.safetensors.index.json, and bfloat16, exactly', () => {
    const cfg = llamaConfigFromHf(HF_CONFIG);
    const p = params(cfg);
    const names = [...p.keys()];
    const half = Math.floor(names.length / 2);
    for (const [dtype, dir] of [['F16', folder('f16-shards', HF_CONFIG)], ['BF16', folder('bf16-shards', HF_CONFIG)]] as const) {
      const shard = (i: number) => `model-0000${i}-of-00002.safetensors`;
      writeStored(path.join(dir, shard(1)), names.slice(0, half).map((n) => [n, dtype, p.get(n)!.shape, p.get(n)!.data]));
      writeStored(path.join(dir, shard(2)), names.slice(half).map((n) => [n, dtype, p.get(n)!.shape, p.get(n)!.data]));
      const weightMap = Object.fromEntries(names.map((n, i) => [n, shard(i < half ? 1 : 2)]));
      writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
      expectSameParams(loadLlamaFolder(dir).params, p);
    }
  });

  it('accepts a bare LlamaModel\'s names (no model. prefix) and ignores rotary inv_freq buffers', () => {
    const cfg = llamaConfigFromHf(HF_CONFIG);
    const p = params(cfg, 5);
    const dir = folder('bare-names', HF_CONFIG);
    const stored: [string, Stored, number[], Float32Array][] = [...p].map(([n, t]) => [n.replace(/^model\./, ''), 'F32', t.shape, t.data]);
    stored.push(['layers.0.self_attn.rotary_emb.inv_freq', 'F32', [4], Float32Array.of(1, 0.1, 0.01, 0.001)]);
    writeStored(path.join(dir, 'model.safetensors'), stored);
    expectSameParams(loadLlamaFolder(dir).params, p);
  });

  it('a tied Qwen2 folder has q/k/v biases and no lm_head; a stored lm_head must equal the embedding', () => {
    const hf = { ...HF_CONFIG, model_type: 'qwen2', tie_word_embeddings: true, use_sliding_window: false, sliding_window: 32 };
    const cfg = llamaConfigFromHf(hf);
    expect(cfg).toMatchObject({ qkvBias: true, oBias: false, mlpBias: false, tieWordEmbeddings: true, maxPositions: 64 });
    const p = params(cfg, 9);
    expect(p.has('model.layers.1.self_attn.v_proj.bias')).toBe(true);
    expect(p.has('lm_head.weight')).toBe(false);
    const dir = folder('qwen2-tied', hf);
    const stored: [string, Stored, number[], Float32Array][] = [...p].map(([n, t]) => [n, 'F32', t.shape, t.data]);
    writeStored(path.join(dir, 'model.safetensors'), [...stored, ['lm_head.weight', 'F32', [300, 16], p.get('model.embed_tokens.weight')!.data]]);
    expectSameParams(loadLlamaFolder(dir).params, p);
    const other = Float32Array.from(p.get('model.embed_tokens.weight')!.data, (x) => -x);
    writeStored(path.join(dir, 'model.safetensors'), [...stored, ['lm_head.weight', 'F32', [300, 16], other]]);
    expect(() => loadLlamaFolder(dir)).toThrow(`${dir}/model.safetensors: tensor 'lm_head.weight' differs from model.embed_tokens.weight, but config.json has tie_word_embeddings true`);
  });

  it('Mistral\'s sliding window caps the context, so attention stays exact', () => {
    expect(llamaConfigFromHf({ ...HF_CONFIG, model_type: 'mistral', sliding_window: 16 }).maxPositions).toBe(16);
    expect(llamaConfigFromHf({ ...HF_CONFIG, model_type: 'mistral', sliding_window: null }).maxPositions).toBe(64);
  });
});

describe('exporting Llama-family folders', () => {
  it('export → load round-trips parameters, config and generation defaults, in shards with their index', () => {
    const cfg = llamaConfigFromHf(HF_CONFIG);
    const p = params(cfg, 3);
    const dir = path.join(tmp, 'export-shards');
    exportLlamaFolder(dir, { config: cfg, params: p, hfExtra: HF_CONFIG, generation: { eosTokenId: 258, maxNewTokens: 20, temperature: 0 }, maxShardBytes: 8000 });
    const index = JSON.parse(readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8'));
    const shards = new Set(Object.values(index.weight_map));
    expect(shards.size).toBeGreaterThan(2);
    for (const s of shards) expect(existsSync(path.join(dir, s as string))).toBe(true);
    expect(existsSync(path.join(dir, 'model.safetensors'))).toBe(false);
    const back = loadLlamaFolder(dir);
    expectSameParams(back.params, p);
    expect(back.config).toEqual(cfg);
    expect(back.hfConfig).toMatchObject({ model_type: 'llama', architectures: ['LlamaForCausalLM'], bos_token_id: 256, eos_token_id: 258, num_key_value_heads: 2, head_dim: 4 });
    expect(back.generation).toMatchObject({ eosTokenId: 258, maxNewTokens: 20, temperature: 0 });
  });

  it('a shard size that is not a positive whole number is refused before anything is written', () => {
    const cfg = llamaConfigFromHf(HF_CONFIG);
    const dir = path.join(tmp, 'export-bad-shards');
    for (const maxShardBytes of [0, -5, 1.5]) {
      expect(() => exportLlamaFolder(dir, { config: cfg, params: params(cfg, 3), maxShardBytes })).toThrow(`export to ${dir}: maxShardBytes must be a positive whole number, got ${maxShardBytes}`);
      expect(existsSync(dir)).toBe(false);
    }
  });

  it('config.json keeps a Qwen2 or Mistral model_type, and converts back to the same LlamaConfig', () => {
    for (const hf of [
      { ...HF_CONFIG, model_type: 'qwen2', tie_word_embeddings: true },
      { ...HF_CONFIG, model_type: 'mistral', sliding_window: null },
      { ...HF_CONFIG, attention_bias: true, mlp_bias: true, head_dim: 8, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 32 } },
    ]) {
      const cfg = llamaConfigFromHf(hf);
      const written = llamaConfigToHf(cfg, hf);
      expect(written.model_type).toBe(hf.model_type);
      expect(llamaConfigFromHf(written)).toEqual(cfg);
    }
  });

  it('a tied model is exported without lm_head, as save_pretrained does', () => {
    const cfg = llamaConfigFromHf({ ...HF_CONFIG, tie_word_embeddings: true });
    const dir = path.join(tmp, 'export-tied');
    exportLlamaFolder(dir, { config: cfg, params: params(cfg, 4) });
    const stored = readSafetensors(path.join(dir, 'model.safetensors')).tensors;
    expect(stored.has('lm_head.weight')).toBe(false);
    expect(stored.size).toBe(llamaParamShapes(cfg).size);
    expectSameParams(loadLlamaFolder(dir).params, params(cfg, 4));
  });
});

describe('tokenizer and chat template', () => {
  it('renders the folder\'s ChatML template with @huggingface/jinja and tokenizes its special tokens as single ids', () => {
    const cfg = llamaConfigFromHf(HF_CONFIG);
    const dir = folder('chatml', HF_CONFIG, {
      'tokenizer.json': JSON.stringify(tokenizerJson()),
      'tokenizer_config.json': JSON.stringify({ eos_token: '<|im_end|>', bos_token: null, chat_template: CHATML }),
    });
    exportLlamaFolder(path.join(tmp, 'chatml-src'), { config: cfg, params: params(cfg) });
    writeFileSync(path.join(dir, 'model.safetensors'), readFileSync(path.join(tmp, 'chatml-src', 'model.safetensors')));
    const m = loadLlamaFolder(dir);
    expect(m.tokenizer!.eosTokenId).toBe(258);
    const text = m.chatTemplate!.render([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }]);
    expect(text).toBe('<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    expect(m.chatTemplate!.render([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: false })).toBe('<|im_start|>user\nHi<|im_end|>\n');
    const ids = m.tokenizer!.encode('<|im_start|>user\nHi<|im_end|>');
    expect(ids).toEqual([257, ...new TextEncoder().encode('user\nHi'), 258]);
    // Export carries the tokenizer and its template along.
    const out = path.join(tmp, 'chatml-export');
    exportLlamaFolder(out, { config: m.config, params: m.params, tokenizerFrom: dir });
    expect(loadLlamaFolder(out).chatTemplate!.render([{ role: 'user', content: 'Hi' }])).toBe(text.slice(text.indexOf('<|im_start|>user')));
  });

  it('prefers chat_template.jinja, picks the "default" of a list of templates, and gives templates the special tokens', () => {
    const dir = folder('templates', HF_CONFIG, {
      'tokenizer_config.json': JSON.stringify({ bos_token: { content: '<s>' }, chat_template: [{ name: 'tool_use', template: 'T' }, { name: 'default', template: '{{ bos_token }}{{ messages[0].content }}' }] }),
    });
    expect(loadChatTemplate(dir)!.render([{ role: 'user', content: 'x' }])).toBe('<s>x');
    writeFileSync(path.join(dir, 'chat_template.jinja'), 'J{{ messages | length }}');
    expect(loadChatTemplate(dir)!.render([{ role: 'user', content: 'x' }])).toBe('J1');
    expect(loadChatTemplate(REF)).toBeNull();
  });

  it('a template that does not parse, or raises, names where it came from', () => {
    expect(() => new ChatTemplate('{% for m in messages %}', {}, 'x/tokenizer_config.json')).toThrow(/^x\/tokenizer_config\.json: the chat template does not parse/);
    const t = new ChatTemplate("{{ raise_exception('roles must alternate') }}", {}, 'y/chat_template.jinja');
    expect(() => t.render([{ role: 'user', content: 'a' }])).toThrow(/^y\/chat_template\.jinja: the chat template failed on 1 message\(s\) \(.*roles must alternate/);
  });
});

describe('clear errors for bad folders', () => {
  it('config.json: a missing or wrong field is named with the file', () => {
    const file = 'd/config.json';
    const { hidden_size: _, ...noHidden } = HF_CONFIG;
    expect(() => llamaConfigFromHf(noHidden, file)).toThrow('d/config.json: hidden_size is missing, expected a positive whole number');
    expect(() => llamaConfigFromHf({ ...HF_CONFIG, model_type: 'gemma' }, file)).toThrow('d/config.json: model_type is "gemma", expected one of "llama", "mistral", "qwen2" (Llama-family layout)');
    expect(() => llamaConfigFromHf({ ...HF_CONFIG, hidden_act: 'gelu' }, file)).toThrow('d/config.json: hidden_act is "gelu", expected "silu" (the SwiGLU MLP)');
    expect(() => llamaConfigFromHf({ ...HF_CONFIG, num_key_value_heads: 3 }, file)).toThrow('d/config.json: num_key_value_heads (3) does not divide num_attention_heads (4)');
    expect(() => llamaConfigFromHf({ ...HF_CONFIG, rope_scaling: { rope_type: 'yarn', factor: 4 } }, file)).toThrow('d/config.json: rope_scaling.rope_type is "yarn"; Stepwise supports "default", "linear" and "llama3"');
    expect(() => llamaConfigFromHf({ ...HF_CONFIG, rope_scaling: { rope_type: 'llama3', factor: 8 } }, file)).toThrow('d/config.json: rope_scaling.low_freq_factor is undefined, expected a positive number');
  });

  it('weights: a wrong shape, a missing lm_head, an unknown tensor and a missing shard are named', () => {
    const cfg = llamaConfigFromHf(HF_CONFIG);
    const p = params(cfg);
    const dir = folder('bad-weights', HF_CONFIG);
    const file = path.join(dir, 'model.safetensors');
    const all: [string, Stored, number[], Float32Array][] = [...p].map(([n, t]) => [n, 'F32', t.shape, t.data]);
    writeStored(file, all.map((e) => (e[0] === 'model.layers.1.self_attn.k_proj.weight' ? [e[0], 'F32', [16, 8], e[3]] : e)));
    expect(() => loadLlamaFolder(dir)).toThrow(`${file}: tensor 'model.layers.1.self_attn.k_proj.weight' has shape [16, 8], expected [8, 16] from config.json`);
    writeStored(file, all.filter((e) => e[0] !== 'lm_head.weight'));
    expect(() => loadLlamaFolder(dir)).toThrow(`${dir}: the weights lack 1 tensor(s): 'lm_head.weight' [300, 16] (config.json has tie_word_embeddings false, so the output projection lm_head.weight must be stored)`);
    writeStored(file, [...all, ['model.layers.0.self_attn.q_norm.weight', 'F32', [4], new Float32Array(4)]]);
    expect(() => loadLlamaFolder(dir)).toThrow(`${file}: unexpected tensor 'model.layers.0.self_attn.q_norm.weight'; not a parameter of this 2-layer model`);
    rmSync(file);
    writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'model.norm.weight': 'model-00001-of-00001.safetensors' } }));
    expect(() => loadLlamaFolder(dir)).toThrow(`${path.join(dir, 'model.safetensors.index.json')}: lists shard 'model-00001-of-00001.safetensors', which is not in ${dir}`);
    expect(() => loadLlamaFolder(path.join(tmp, 'nowhere'))).toThrow(`${path.join(tmp, 'nowhere')}: no config.json`);
  });
});
