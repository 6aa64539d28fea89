/**
 * Hugging Face folders of Llama-family models (model_type llama, mistral,
 * qwen2; SmolLM and TinyLlama are llama): the layout
 * `LlamaForCausalLM.save_pretrained` writes and `from_pretrained` reads.
 *
 * - `config.json`: the architecture in HF field names (converted to and from
 *   LlamaConfig here, and only here);
 * - `generation_config.json` (optional): decoding defaults;
 * - `model.safetensors`, or shards listed by `model.safetensors.index.json`:
 *   parameters named `model.embed_tokens.weight`, `model.layers.0.self_attn.q_proj.weight`,
 *   … (a bare LlamaModel's names without `model.` are accepted), in float32,
 *   float16 or bfloat16, read as float32. `rotary_emb.inv_freq` buffers are
 *   ignored; with tied embeddings a stored `lm_head.weight` must equal the
 *   input embedding;
 * - the tokenizer (tokenizer.json, see ../tokenizers/hf.ts) and its chat template
 *   (tokenizer_config.json's `chat_template`, or `chat_template.jinja`).
 *
 * Every error names the folder or file, the field or tensor, and what was expected.
 */
import { llamaParamShapes, type LlamaConfig, type RopeScaling } from '../models/llama.ts';
import type { TensorMap } from '../safetensors.ts';
import { TOKENIZER_FILES, type TextTokenizer } from '../tokenizers/hf.ts';
import { loadChatTemplate, type ChatTemplate } from './chat-template.ts';
import { HfFolderError, loadFamilyFolder, writeModelFolder, type GenerationDefaults, type ParamRules } from './gpt2-folder.ts';

export interface HfLlamaModel {
  dir: string;
  config: LlamaConfig;
  /** config.json as read, for fields Stepwise does not use (token ids, model_type); re-exported as they are. */
  hfConfig: Record<string, unknown>;
  generation: Partial<GenerationDefaults>;
  /** Parameters under their HF names (llamaParamShapes order), as float32. */
  params: TensorMap;
  /** The folder's tokenizer; null when it has none. */
  tokenizer: TextTokenizer | null;
  /** The folder's chat template, when it has one. */
  chatTemplate: ChatTemplate | null;
}

/** model_type values whose maths is models/llama.ts. */
export const LLAMA_MODEL_TYPES = ['llama', 'mistral', 'qwen2'];

// ------------------------------------------------------------------ config

/** LlamaConfig from config.json's fields. */
export function llamaConfigFromHf(hf: Record<string, unknown>, file = 'config.json'): LlamaConfig {
  const fail = (field: string, what: string): never => {
    throw new HfFolderError(`${file}: ${field} ${what}`);
  };
  const type = hf.model_type;
  if (!LLAMA_MODEL_TYPES.includes(type as string)) {
    fail('model_type', `is ${JSON.stringify(type)}, expected one of ${LLAMA_MODEL_TYPES.map((t) => `"${t}"`).join(', ')} (Llama-family layout)`);
  }
  const int = (field: string, fallback?: number): number => {
    const v = hf[field] ?? fallback;
    if (v === undefined) fail(field, 'is missing, expected a positive whole number');
    if (!(typeof v === 'number' && Number.isInteger(v) && v > 0)) fail(field, `is ${JSON.stringify(v)}, expected a positive whole number`);
    return v as number;
  };
  const positive = (field: string, fallback: number): number => {
    const v = hf[field] ?? fallback;
    if (!(typeof v === 'number' && v > 0)) fail(field, `is ${JSON.stringify(v)}, expected a positive number`);
    return v as number;
  };
  const flag = (field: string, fallback: boolean): boolean => {
    const v = hf[field] ?? fallback;
    if (typeof v !== 'boolean') fail(field, `is ${JSON.stringify(v)}, expected true or false`);
    return v as boolean;
  };
  const act = hf.hidden_act ?? 'silu';
  if (act !== 'silu' && act !== 'swish') fail('hidden_act', `is ${JSON.stringify(act)}, expected "silu" (the SwiGLU MLP)`);
  const hiddenSize = int('hidden_size');
  const nHead = int('num_attention_heads');
  const nKvHead = int('num_key_value_heads', nHead);
  if (nHead % nKvHead !== 0) fail('num_key_value_heads', `(${nKvHead}) does not divide num_attention_heads (${nHead})`);
  const headDim = hf.head_dim == null ? hiddenSize / nHead : int('head_dim');
  if (!Number.isInteger(headDim)) fail('hidden_size', `(${hiddenSize}) is not divisible by num_attention_heads (${nHead}) and there is no head_dim`);
  if (headDim % 2 !== 0) fail('head_dim', `is ${headDim}, expected an even number (rotary embeddings rotate pairs)`);
  const attentionBias = type === 'llama' && flag('attention_bias', false);
  let maxPositions = int('max_position_embeddings', 2048);
  // A sliding window changes attention only beyond its width: cap the context there and stay exact.
  const windowed = type === 'mistral' || (type === 'qwen2' && hf.use_sliding_window === true);
  if (windowed && hf.sliding_window != null) maxPositions = Math.min(maxPositions, int('sliding_window'));
  return {
    family: 'llama',
    vocabSize: int('vocab_size'),
    hiddenSize,
    intermediateSize: int('intermediate_size'),
    nLayer: int('num_hidden_layers'),
    nHead,
    nKvHead,
    headDim,
    maxPositions,
    rmsNormEps: positive('rms_norm_eps', 1e-6),
    ropeTheta: positive('rope_theta', 10000),
    ropeScaling: ropeScalingFromHf(hf.rope_scaling, file),
    tieWordEmbeddings: flag('tie_word_embeddings', false),
    qkvBias: type === 'qwen2' || attentionBias,
    oBias: attentionBias,
    mlpBias: type === 'llama' && flag('mlp_bias', false),
  };
}

function ropeScalingFromHf(v: unknown, file: string): RopeScaling | null {
  if (v == null) return null;
  const s = v as Record<string, unknown>;
  const kind = s.rope_type ?? s.type;
  const num = (field: string): number => {
    const x = s[field];
    if (!(typeof x === 'number' && x > 0)) throw new HfFolderError(`${file}: rope_scaling.${field} is ${JSON.stringify(x)}, expected a positive number`);
    return x;
  };
  if (kind === 'default') return null;
  if (kind === 'linear') return { type: 'linear', factor: num('factor') };
  if (kind === 'llama3') {
    return {
      type: 'llama3', factor: num('factor'), lowFreqFactor: num('low_freq_factor'), highFreqFactor: num('high_freq_factor'),
      originalMaxPositions: num('original_max_position_embeddings'),
    };
  }
  throw new HfFolderError(`${file}: rope_scaling.rope_type is ${JSON.stringify(kind)}; Stepwise supports "default", "linear" and "llama3"`);
}

/**
 * config.json for a LlamaConfig. `extra` (e.g. a loaded folder's hfConfig)
 * supplies fields Stepwise does not model; the architecture fields always win.
 * The model_type is kept from `extra` when it fits the biases (Qwen2: q/k/v
 * biases only; Mistral: none), else it is "llama".
 */
export function llamaConfigToHf(cfg: LlamaConfig, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const wanted = extra.model_type;
  const qwen2 = cfg.qkvBias && !cfg.oBias && !cfg.mlpBias;
  const type = qwen2 ? 'qwen2' : wanted === 'mistral' && !cfg.qkvBias && !cfg.oBias && !cfg.mlpBias ? 'mistral' : 'llama';
  if (cfg.qkvBias !== cfg.oBias && !qwen2) throw new HfFolderError('config: q/k/v biases without an o_proj bias exist only without MLP biases (Qwen2)');
  const arch: Record<string, unknown> = {
    architectures: [{ llama: 'LlamaForCausalLM', mistral: 'MistralForCausalLM', qwen2: 'Qwen2ForCausalLM' }[type]],
    model_type: type,
    vocab_size: cfg.vocabSize,
    hidden_size: cfg.hiddenSize,
    intermediate_size: cfg.intermediateSize,
    num_hidden_layers: cfg.nLayer,
    num_attention_heads: cfg.nHead,
    num_key_value_heads: cfg.nKvHead,
    head_dim: cfg.headDim,
    max_position_embeddings: cfg.maxPositions,
    rms_norm_eps: cfg.rmsNormEps,
    rope_theta: cfg.ropeTheta,
    rope_scaling: ropeScalingToHf(cfg.ropeScaling),
    hidden_act: 'silu',
    tie_word_embeddings: cfg.tieWordEmbeddings,
    torch_dtype: 'float32',
  };
  if (type === 'llama') Object.assign(arch, { attention_bias: cfg.qkvBias, mlp_bias: cfg.mlpBias });
  // The context is maxPositions (a sliding window, if any, was folded into it).
  if (type !== 'llama') Object.assign(arch, { sliding_window: null, use_sliding_window: false });
  return { initializer_range: 0.02, use_cache: true, ...extra, ...arch };
}

function ropeScalingToHf(s: RopeScaling | null): Record<string, unknown> | null {
  if (!s) return null;
  if (s.type === 'linear') return { rope_type: 'linear', factor: s.factor };
  return { rope_type: 'llama3', factor: s.factor, low_freq_factor: s.lowFreqFactor, high_freq_factor: s.highFreqFactor, original_max_position_embeddings: s.originalMaxPositions };
}

// ------------------------------------------------------------------ weights

/** Llama's parameters under their HF names (a bare LlamaModel's names gain `model.`). */
function llamaRules(cfg: LlamaConfig): ParamRules {
  return {
    shapes: llamaParamShapes(cfg),
    nameOf: (stored) =>
      /\.rotary_emb\.inv_freq$/.test(stored) ? null // a buffer older checkpoints saved, recomputed from rope_theta
      : stored === 'lm_head.weight' || stored.startsWith('model.') ? stored
      : `model.${stored}`,
    tied: cfg.tieWordEmbeddings ? { head: 'lm_head.weight', embedding: 'model.embed_tokens.weight', why: ', but config.json has tie_word_embeddings true' } : null,
    model: `this ${cfg.nLayer}-layer model (config.json: biases q/k/v ${cfg.qkvBias}, o ${cfg.oBias}, mlp ${cfg.mlpBias})`,
    shapeFields: `hidden_size=${cfg.hiddenSize}, heads=${cfg.nHead}, kv heads=${cfg.nKvHead}, head_dim=${cfg.headDim}, intermediate_size=${cfg.intermediateSize}, vocab_size=${cfg.vocabSize}`,
    missingHint: (missing) => (missing.includes('lm_head.weight') ? ' (config.json has tie_word_embeddings false, so the output projection lm_head.weight must be stored)' : ''),
  };
}

// ------------------------------------------------------------------ folder

/** Load a Hugging Face Llama-family folder: config, decoding defaults, float32 parameters, tokenizer and chat template. */
export function loadLlamaFolder(dir: string): HfLlamaModel {
  const model = loadFamilyFolder(dir, { what: 'a Hugging Face model folder', configFromHf: llamaConfigFromHf, rules: llamaRules, vocabSize: (c) => c.vocabSize });
  return { ...model, chatTemplate: loadChatTemplate(dir) };
}

export interface LlamaExportOptions {
  config: LlamaConfig;
  params: TensorMap;
  /** Extra config.json fields (e.g. a loaded folder's hfConfig: model_type, bos/eos ids). */
  hfExtra?: Record<string, unknown>;
  /** Written as generation_config.json when given. */
  generation?: Partial<GenerationDefaults>;
  /** A folder whose tokenizer files (and chat_template.jinja) are copied alongside. */
  tokenizerFrom?: string;
  /** Split the weights into shards of at most this many bytes, with model.safetensors.index.json (save_pretrained's max_shard_size). */
  maxShardBytes?: number;
}

/**
 * Write a folder `AutoModelForCausalLM.from_pretrained` loads: config.json,
 * model.safetensors (float32, HF names; a tied lm_head left out as
 * save_pretrained does) or shards with their index, generation_config.json,
 * tokenizer files and chat template.
 */
export function exportLlamaFolder(dir: string, opts: LlamaExportOptions): void {
  writeModelFolder(dir, {
    shapes: llamaParamShapes(opts.config), params: opts.params, hfConfig: llamaConfigToHf(opts.config, opts.hfExtra),
    generation: opts.generation, tokenizerFrom: opts.tokenizerFrom, tokenizerFiles: [...TOKENIZER_FILES, 'chat_template.jinja'],
    maxShardBytes: opts.maxShardBytes,
  });
}
