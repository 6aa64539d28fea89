/**
 * Hugging Face GPT-2 folders: the layout `GPT2LMHeadModel.save_pretrained`
 * writes and `from_pretrained` reads.
 *
 * - `config.json`: the architecture in HF field names (converted to and from
 *   GPT2Config here, and only here);
 * - `generation_config.json` (optional): decoding defaults;
 * - `model.safetensors`, or shards listed by `model.safetensors.index.json`:
 *   parameters named `wte.weight`, `h.0.attn.c_attn.weight`, … with or without
 *   the `transformer.` prefix, in float32, float16 or bfloat16. The causal-mask
 *   buffers `attn.bias` / `attn.masked_bias` are ignored; `lm_head.weight` is
 *   accepted only when it equals `wte.weight` (GPT-2 ties them);
 * - tokenizer files (see ../tokenizers/hf.ts).
 *
 * Every error names the folder or file, the field or tensor, and what was expected.
 *
 * What every family's folder shares lives here too, for llama-folder.ts: reading the
 * weights (readFolderWeights), matching them to a family's parameters (folderParams),
 * loading (loadFamilyFolder) and writing (writeModelFolder) a folder.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import type { GenerateOptions } from '../generate.ts';
import { GPT2_DEFAULTS, gpt2ParamShapes, type GPT2Config } from '../models/gpt2.ts';
import { parseSafetensors, writeSafetensors, SafetensorsError, type TensorMap } from '../safetensors.ts';
import { loadTokenizer, hasTokenizer, TOKENIZER_FILES, type TextTokenizer } from '../tokenizers/hf.ts';

export class HfFolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HfFolderError';
  }
}

/** Decoding defaults a folder's generation_config.json can set. */
export type GenerationDefaults = Pick<GenerateOptions, 'maxNewTokens' | 'temperature' | 'topP' | 'topK' | 'eosTokenId' | 'padTokenId'> & { bosTokenId?: number };

export interface HfGpt2Model {
  dir: string;
  config: GPT2Config;
  /** config.json as read, for fields Stepwise does not use (token ids, task settings); re-exported as they are. */
  hfConfig: Record<string, unknown>;
  generation: Partial<GenerationDefaults>;
  /** Parameters under their HF names without prefix (gpt2ParamShapes order), as float32. */
  params: TensorMap;
  /** The folder's tokenizer; null when it has none. */
  tokenizer: TextTokenizer | null;
}

// ------------------------------------------------------------------ config

/** Activations that are GPT-2's tanh-approximated GELU. */
const TANH_GELU = ['gelu_new', 'gelu_pytorch_tanh'];

/** GPT2Config from config.json's fields; missing fields take HF's GPT2Config defaults. */
export function gpt2ConfigFromHf(hf: Record<string, unknown>, file = 'config.json'): GPT2Config {
  const fail = (field: string, what: string) => {
    throw new HfFolderError(`${file}: ${field} ${what}`);
  };
  if (hf.model_type !== 'gpt2') fail('model_type', `is ${JSON.stringify(hf.model_type)}, expected "gpt2" (Stepwise loads GPT-2 folders only)`);
  const act = hf.activation_function ?? 'gelu_new';
  if (!TANH_GELU.includes(act as string)) fail('activation_function', `is ${JSON.stringify(act)}, expected "gelu_new" (GPT-2's tanh GELU)`);
  const int = (field: string, fallback: number): number => {
    const v = hf[field] ?? fallback;
    if (!(typeof v === 'number' && Number.isInteger(v) && v > 0)) fail(field, `is ${JSON.stringify(v)}, expected a positive whole number`);
    return v as number;
  };
  const cfg: GPT2Config = {
    vocabSize: int('vocab_size', GPT2_DEFAULTS.vocabSize),
    nPositions: int('n_positions', GPT2_DEFAULTS.nPositions),
    nEmbd: int('n_embd', GPT2_DEFAULTS.nEmbd),
    nLayer: int('n_layer', GPT2_DEFAULTS.nLayer),
    nHead: int('n_head', GPT2_DEFAULTS.nHead),
    layerNormEpsilon: (hf.layer_norm_epsilon ?? GPT2_DEFAULTS.layerNormEpsilon) as number,
  };
  if (!(typeof cfg.layerNormEpsilon === 'number' && cfg.layerNormEpsilon > 0)) fail('layer_norm_epsilon', `is ${JSON.stringify(hf.layer_norm_epsilon)}, expected a positive number`);
  if (cfg.nEmbd % cfg.nHead !== 0) fail('n_embd', `(${cfg.nEmbd}) is not divisible by n_head (${cfg.nHead})`);
  // Variants whose maths differ from the graph in models/gpt2.ts.
  if (hf.n_inner != null && hf.n_inner !== 4 * cfg.nEmbd) fail('n_inner', `is ${hf.n_inner}, expected null or 4·n_embd = ${4 * cfg.nEmbd}`);
  if (hf.tie_word_embeddings === false) fail('tie_word_embeddings', 'is false, expected true (Stepwise ties the output projection to wte)');
  if (hf.scale_attn_weights === false) fail('scale_attn_weights', 'is false, expected true (scores scaled by 1/√head_dim)');
  if (hf.scale_attn_by_inverse_layer_idx === true) fail('scale_attn_by_inverse_layer_idx', 'is true, expected false');
  if (hf.add_cross_attention === true) fail('add_cross_attention', 'is true, expected false (decoder-only GPT-2)');
  return cfg;
}

/**
 * config.json for a GPT2Config. `extra` (e.g. a loaded folder's hfConfig)
 * supplies fields Stepwise does not model; the architecture fields always win.
 */
export function gpt2ConfigToHf(cfg: GPT2Config, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    // Stepwise's graphs have no dropout; these say so to tools that fine-tune the export.
    attn_pdrop: 0,
    embd_pdrop: 0,
    resid_pdrop: 0,
    initializer_range: 0.02,
    use_cache: true,
    ...extra,
    activation_function: 'gelu_new',
    architectures: ['GPT2LMHeadModel'],
    layer_norm_epsilon: cfg.layerNormEpsilon,
    model_type: 'gpt2',
    n_ctx: cfg.nPositions,
    n_embd: cfg.nEmbd,
    n_head: cfg.nHead,
    n_inner: null,
    n_layer: cfg.nLayer,
    n_positions: cfg.nPositions,
    reorder_and_upcast_attn: false,
    scale_attn_by_inverse_layer_idx: false,
    scale_attn_weights: true,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
    vocab_size: cfg.vocabSize,
  };
}

/** Decoding defaults from generation_config.json (do_sample false → greedy). */
export function generationFromHf(hf: Record<string, unknown>): Partial<GenerationDefaults> {
  const out: Partial<GenerationDefaults> = {};
  if (typeof hf.max_new_tokens === 'number') out.maxNewTokens = hf.max_new_tokens;
  if (typeof hf.eos_token_id === 'number' || Array.isArray(hf.eos_token_id)) out.eosTokenId = hf.eos_token_id as number | number[];
  if (typeof hf.bos_token_id === 'number') out.bosTokenId = hf.bos_token_id;
  if (typeof hf.pad_token_id === 'number') out.padTokenId = hf.pad_token_id;
  if (hf.do_sample === true) {
    out.temperature = typeof hf.temperature === 'number' ? hf.temperature : 1;
    out.topP = typeof hf.top_p === 'number' ? hf.top_p : 1;
    out.topK = typeof hf.top_k === 'number' ? hf.top_k : 50; // transformers' default
  } else {
    out.temperature = 0;
  }
  return out;
}

export function generationToHf(gen: Partial<GenerationDefaults>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (gen.bosTokenId !== undefined) out.bos_token_id = gen.bosTokenId;
  if (gen.eosTokenId !== undefined) out.eos_token_id = gen.eosTokenId;
  if (gen.padTokenId !== undefined) out.pad_token_id = gen.padTokenId;
  if (gen.maxNewTokens !== undefined) out.max_new_tokens = gen.maxNewTokens;
  const sampled = (gen.temperature ?? 0) > 0;
  out.do_sample = sampled;
  if (sampled) {
    out.temperature = gen.temperature;
    out.top_p = gen.topP ?? 1;
    out.top_k = gen.topK ?? 0;
  }
  return out;
}

// ------------------------------------------------------------------ weights

const SAFETENSORS_DTYPES = ['F32', 'F16', 'BF16'];

/** Tensors of one safetensors file, checking that each is stored as a float type. */
function readWeightsFile(file: string): TensorMap {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new HfFolderError(`${file}: cannot read (${(err as Error).message})`);
  }
  try {
    const { tensors } = parseSafetensors(bytes, file);
    const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen))) as Record<string, { dtype?: string }>;
    for (const [name, e] of Object.entries(header)) {
      if (name !== '__metadata__' && !SAFETENSORS_DTYPES.includes(e.dtype ?? '')) {
        throw new HfFolderError(`${file}: tensor '${name}' is stored as ${e.dtype}, expected F32, F16 or BF16`);
      }
    }
    return tensors;
  } catch (err) {
    if (err instanceof SafetensorsError) throw new HfFolderError(`${err.message} (the file may be truncated or corrupt)`);
    throw err;
  }
}

/** All tensors of the folder's weights: model.safetensors, or the shards its index lists. */
export function readFolderWeights(dir: string): { tensors: TensorMap; files: Map<string, string> } {
  const single = path.join(dir, 'model.safetensors');
  const index = path.join(dir, 'model.safetensors.index.json');
  const files = new Map<string, string>(); // tensor → file it came from
  if (existsSync(single)) {
    const tensors = readWeightsFile(single);
    for (const name of tensors.keys()) files.set(name, single);
    return { tensors, files };
  }
  if (existsSync(index)) {
    const json = readJson(index);
    const map = json.weight_map as Record<string, string> | undefined;
    if (!map || typeof map !== 'object') throw new HfFolderError(`${index}: no weight_map, expected {"weight_map": {tensor: shard file}}`);
    const tensors: TensorMap = new Map();
    const shards = new Map<string, TensorMap>();
    for (const shard of new Set(Object.values(map))) {
      const file = path.join(dir, shard);
      if (!existsSync(file)) throw new HfFolderError(`${index}: lists shard '${shard}', which is not in ${dir}`);
      shards.set(shard, readWeightsFile(file));
    }
    for (const [name, shard] of Object.entries(map)) {
      const t = shards.get(shard)!.get(name);
      if (!t) throw new HfFolderError(`${path.join(dir, shard)}: lacks tensor '${name}', which ${path.basename(index)} places there`);
      tensors.set(name, t);
      files.set(name, path.join(dir, shard));
    }
    return { tensors, files };
  }
  const bin = ['pytorch_model.bin', 'model.bin'].find((f) => existsSync(path.join(dir, f)));
  if (bin) throw new HfFolderError(`${dir}: has only ${bin}; Stepwise reads safetensors. Re-save the model with save_pretrained(..., safe_serialization=True)`);
  throw new HfFolderError(`${dir}: no model.safetensors or model.safetensors.index.json`);
}

/** How a family's parameters are found among a folder's tensors (folderParams). */
export interface ParamRules {
  /** The parameters, in order, with their shapes. */
  shapes: Map<string, number[]>;
  /** A stored tensor's parameter name; null for a buffer that is not a parameter. */
  nameOf(stored: string): string | null;
  /** An output projection that may be stored but must equal the input embedding; null when the model does not tie them. */
  tied: { head: string; embedding: string; why: string } | null;
  /** What an unexpected tensor is not a parameter of, with the config fields that decide it. */
  model: string;
  /** The config.json fields the shapes follow. */
  shapeFields: string;
  /** More to say when some tensors are missing. */
  missingHint?(missing: string[]): string;
}

/** A folder's tensors → the parameters `rules.shapes` lists, in its order, validating names and shapes. */
export function folderParams(raw: TensorMap, files: Map<string, string>, dir: string, rules: ParamRules): TensorMap {
  const { shapes, tied } = rules;
  const found: TensorMap = new Map();
  const from = new Map<string, string>(); // parameter name → stored name
  let head: { name: string; data: Float32Array; shape: number[] } | null = null;
  for (const [stored, t] of raw) {
    const file = files.get(stored)!;
    const name = rules.nameOf(stored);
    if (name === null) continue;
    if (tied && name === tied.head) {
      head = { name: stored, ...t };
      continue;
    }
    const shape = shapes.get(name);
    if (!shape) throw new HfFolderError(`${file}: unexpected tensor '${stored}'; not a parameter of ${rules.model}`);
    if (from.has(name)) throw new HfFolderError(`${file}: tensor '${name}' is stored twice, as '${from.get(name)}' and '${stored}'`);
    if (t.shape.join(',') !== shape.join(',')) {
      throw new HfFolderError(`${file}: tensor '${stored}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}] from config.json (${rules.shapeFields})`);
    }
    from.set(name, stored);
    found.set(name, t);
  }
  const missing = [...shapes.keys()].filter((n) => !found.has(n));
  if (missing.length) {
    const list = missing.slice(0, 5).map((n) => `'${n}' [${shapes.get(n)!.join(', ')}]`).join(', ');
    throw new HfFolderError(`${dir}: the weights lack ${missing.length} tensor(s): ${list}${missing.length > 5 ? ', …' : ''}${rules.missingHint?.(missing) ?? ''}`);
  }
  if (tied && head) {
    const emb = found.get(tied.embedding)!;
    const same = head.shape.join(',') === emb.shape.join(',') && head.data.every((x, i) => x === emb.data[i]);
    if (!same) throw new HfFolderError(`${files.get(head.name)}: tensor '${head.name}' differs from ${tied.embedding}${tied.why}`);
  }
  const ordered: TensorMap = new Map();
  for (const name of shapes.keys()) ordered.set(name, found.get(name)!);
  return ordered;
}

/** GPT-2's parameters under their HF names without the `transformer.` prefix. */
function gpt2Rules(cfg: GPT2Config): ParamRules {
  return {
    shapes: gpt2ParamShapes(cfg),
    nameOf: (stored) => {
      const name = stored.startsWith('transformer.') ? stored.slice('transformer.'.length) : stored;
      return /^h\.\d+\.attn\.(bias|masked_bias)$/.test(name) ? null : name; // causal-mask buffers, not parameters
    },
    tied: { head: 'lm_head.weight', embedding: 'wte.weight', why: "; GPT-2's output projection must be tied to the input embedding" },
    model: `GPT-2 with n_layer=${cfg.nLayer} (config.json)`,
    shapeFields: `n_embd=${cfg.nEmbd}, vocab_size=${cfg.vocabSize}, n_positions=${cfg.nPositions}`,
  };
}

// ------------------------------------------------------------------ folder

export function readJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new HfFolderError(`${file}: cannot read (${(err as Error).message})`);
  }
  try {
    const v = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('expected a JSON object');
    return v;
  } catch (err) {
    throw new HfFolderError(`${file}: not valid JSON (${(err as Error).message})`);
  }
}

/** What loadFamilyFolder needs of a model family. */
export interface FolderFamily<C> {
  /** Says what the folder should be, e.g. `a Hugging Face GPT-2 folder`. */
  what: string;
  configFromHf(hf: Record<string, unknown>, file: string): C;
  rules(config: C): ParamRules;
  vocabSize(config: C): number;
}

/** Load a Hugging Face model folder: config, decoding defaults, float32 parameters and tokenizer. */
export function loadFamilyFolder<C>(dir: string, family: FolderFamily<C>) {
  const configFile = path.join(dir, 'config.json');
  if (!existsSync(configFile)) throw new HfFolderError(`${dir}: no config.json; ${family.what} holds config.json and model.safetensors`);
  const hfConfig = readJson(configFile);
  const config = family.configFromHf(hfConfig, configFile);
  const genFile = path.join(dir, 'generation_config.json');
  const generation = generationFromHf(existsSync(genFile) ? readJson(genFile) : { eos_token_id: hfConfig.eos_token_id, bos_token_id: hfConfig.bos_token_id });
  const { tensors, files } = readFolderWeights(dir);
  const params = folderParams(tensors, files, dir, family.rules(config));
  const tokenizer = hasTokenizer(dir) ? loadTokenizer(dir) : null;
  const vocab = family.vocabSize(config);
  if (tokenizer && tokenizer.vocabSize > vocab) {
    throw new HfFolderError(`${dir}: the tokenizer has ${tokenizer.vocabSize} ids but config.json's vocab_size is ${vocab}`);
  }
  return { dir, config, hfConfig, generation, params, tokenizer };
}

/** Load a Hugging Face GPT-2 folder: config, decoding defaults, float32 parameters and tokenizer. */
export function loadGpt2Folder(dir: string): HfGpt2Model {
  return loadFamilyFolder(dir, { what: 'a Hugging Face GPT-2 folder', configFromHf: gpt2ConfigFromHf, rules: gpt2Rules, vocabSize: (c) => c.vocabSize });
}

export interface ExportOptions {
  config: GPT2Config;
  params: TensorMap;
  /** Extra config.json fields (e.g. a loaded folder's hfConfig: bos/eos ids). */
  hfExtra?: Record<string, unknown>;
  /** Written as generation_config.json when given. */
  generation?: Partial<GenerationDefaults>;
  /** A folder whose tokenizer files are copied alongside. */
  tokenizerFrom?: string;
}

/**
 * Write a folder `GPT2LMHeadModel.from_pretrained` loads: config.json,
 * model.safetensors (float32, HF names, no prefix, tied lm_head left out as
 * save_pretrained does), generation_config.json and tokenizer files.
 */
export function exportGpt2Folder(dir: string, opts: ExportOptions): void {
  writeModelFolder(dir, {
    shapes: gpt2ParamShapes(opts.config), params: opts.params, hfConfig: gpt2ConfigToHf(opts.config, opts.hfExtra),
    generation: opts.generation, tokenizerFrom: opts.tokenizerFrom, tokenizerFiles: TOKENIZER_FILES,
  });
}

export interface ModelFolderContents {
  /** The parameters to write, in order, with their shapes. */
  shapes: Map<string, number[]>;
  params: TensorMap;
  /** config.json. */
  hfConfig: Record<string, unknown>;
  /** Written as generation_config.json when given. */
  generation?: Partial<GenerationDefaults>;
  /** A folder whose `tokenizerFiles` are copied alongside. */
  tokenizerFrom?: string;
  tokenizerFiles: readonly string[];
  /** Split the weights into shards of at most this many bytes, with model.safetensors.index.json (save_pretrained's max_shard_size). */
  maxShardBytes?: number;
}

/**
 * Write a folder `from_pretrained` loads: config.json, the float32 weights under their HF names
 * (model.safetensors, or shards and their index), generation_config.json and the tokenizer's
 * files. Everything is checked before anything is written.
 */
export function writeModelFolder(dir: string, c: ModelFolderContents): void {
  const out: TensorMap = new Map();
  for (const [name, shape] of c.shapes) {
    const t = c.params.get(name);
    if (!t) throw new HfFolderError(`export to ${dir}: the parameters lack '${name}' (expected [${shape.join(', ')}])`);
    if (t.shape.join(',') !== shape.join(',')) throw new HfFolderError(`export to ${dir}: parameter '${name}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    out.set(name, t);
  }
  if (c.tokenizerFrom && !c.tokenizerFiles.some((f) => existsSync(path.join(c.tokenizerFrom!, f)))) {
    throw new HfFolderError(`export to ${dir}: ${c.tokenizerFrom} has no tokenizer files (${c.tokenizerFiles.join(', ')})`);
  }
  const max = c.maxShardBytes;
  if (max !== undefined && !(Number.isInteger(max) && max > 0)) throw new HfFolderError(`export to ${dir}: maxShardBytes must be a positive whole number, got ${max}`);
  mkdirSync(dir, { recursive: true });
  writeJson(path.join(dir, 'config.json'), c.hfConfig);
  // transformers refuses safetensors files whose metadata lacks format "pt".
  if (max === undefined) writeSafetensors(path.join(dir, 'model.safetensors'), out, { format: 'pt' });
  else {
    const shards: TensorMap[] = [];
    let size = Infinity;
    let total = 0;
    for (const [name, t] of out) {
      const bytes = t.data.length * 4;
      if (size + bytes > max) {
        shards.push(new Map());
        size = 0;
      }
      shards[shards.length - 1].set(name, t);
      size += bytes;
      total += bytes;
    }
    const n = shards.length;
    const fileOf = (i: number) => `model-${String(i + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;
    const weightMap: Record<string, string> = {};
    shards.forEach((shard, i) => {
      writeSafetensors(path.join(dir, fileOf(i)), shard, { format: 'pt' });
      for (const name of shard.keys()) weightMap[name] = fileOf(i);
    });
    writeJson(path.join(dir, 'model.safetensors.index.json'), { metadata: { total_size: total }, weight_map: weightMap });
  }
  if (c.generation) writeJson(path.join(dir, 'generation_config.json'), generationToHf(c.generation));
  if (c.tokenizerFrom && path.resolve(c.tokenizerFrom) !== path.resolve(dir)) {
    for (const f of c.tokenizerFiles) if (existsSync(path.join(c.tokenizerFrom, f))) copyFileSync(path.join(c.tokenizerFrom, f), path.join(dir, f));
  }
}

export function writeJson(file: string, value: unknown): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, file);
}
