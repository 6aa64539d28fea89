// The parts of a run configuration every method's form shares (dataset,
// model, training hyperparameters, execution provider), and the ICoT
// trainer's config (src-main/methods/icot/recipe.ts) built from them, every
// field spelled out so the stored run says exactly what it trained with.
import type { Dataset, JsonObject, JsonValue, Model } from '../../src-main/contract/index.ts';
import type { HoldBelow } from './hold-schedule.ts';

/** The ICoT trainer's recipes: the three ICoT-family methods of the New run form. */
export type Recipe = 'icot-si' | 'cot' | 'nocot';

/** A new model's family: GPT-2, or the shape Llama, Qwen2 and SmolLM share (rotary positions, RMSNorm, SwiGLU, tied embeddings). */
export type FreshFamily = 'gpt2' | 'llama';

export interface FreshShape {
  family: FreshFamily;
  layers: number;
  dim: number;
  heads: number;
  /** Llama only: key/value heads (fewer than heads: grouped-query attention); null: as many as heads. */
  kvHeads: number | null;
  seed: number;
}

export interface TrainSettings {
  epochs: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  schedule: 'constant' | 'linear' | 'cosine';
  /** The last this many epochs decay the rate linearly to 0. */
  cooldownEpochs: number;
  weightDecay: number;
  maxGradNorm: number;
  seed: number;
}

export interface CurriculumSettings {
  removePerEpoch: number;
  /** null: no removal smoothing (λ = ∞). */
  smoothingLambda: number | null;
  side: 'left' | 'right';
  resetOptimizer: boolean;
  /** null: never remove the whole CoT at once. */
  removeAllWhenBeyond: number | null;
  pretrainEpochs: number;
  keepPosition: boolean;
  /** Hold the removal while validation accuracy is below this fraction, or [tokens removed, fraction] pairs; 0: never (the paper's fixed schedule). */
  holdBelow: HoldBelow;
  /** Remove the next token at once after an epoch whose validation accuracy reached this fraction; 0: never (the paper's fixed schedule). */
  advanceAbove: number;
}

/** What every method's form asks for; a method's own settings come on top. */
export interface RunFormCommon {
  dataset: Dataset;
  /** A Library model to start from; null for a new one of shape `fresh`. */
  model: Model | null;
  fresh: FreshShape;
  train: TrainSettings;
  /** An ONNX Runtime execution provider, e.g. 'cpu'. */
  provider: string;
}

/** The paper's recipe where it has one (AdamW, lr 5e-5, batch 32, clip 1.0, Δ 8, λ 4, left, reset); the trainer's defaults elsewhere. */
export const FRESH_DEFAULTS: FreshShape = { family: 'gpt2', layers: 4, dim: 128, heads: 4, kvHeads: null, seed: 0 };
export const TRAIN_DEFAULTS: TrainSettings = {
  epochs: 10,
  batchSize: 32,
  lr: 5e-5,
  warmupSteps: 0,
  schedule: 'constant',
  cooldownEpochs: 0,
  weightDecay: 0.01,
  maxGradNorm: 1,
  seed: 0,
};
export const CURRICULUM_DEFAULTS: CurriculumSettings = {
  removePerEpoch: 8,
  smoothingLambda: 4,
  side: 'left',
  resetOptimizer: true,
  removeAllWhenBeyond: null,
  pretrainEpochs: 0,
  keepPosition: false,
  holdBelow: 0,
  advanceAbove: 0,
};

const isObject = (v: JsonValue | undefined): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * A config's fresh model (src-main/methods/run-config.ts, freshModelFields): `family` only for a
 * Llama (a GPT-2's config reads as it always has), `kvHeads` only where a Llama sets it.
 */
export function freshModelConfig(f: FreshShape): JsonObject {
  if (f.family !== 'llama') return { kind: 'fresh', layers: f.layers, dim: f.dim, heads: f.heads, seed: f.seed };
  return { kind: 'fresh', family: 'llama', layers: f.layers, dim: f.dim, heads: f.heads, ...(f.kvHeads !== null ? { kvHeads: f.kvHeads } : {}), seed: f.seed };
}

/** A stored config's fresh model read back into the form (the defaults where it says nothing). */
export function readFreshShape(model: JsonValue | undefined): FreshShape {
  const m = isObject(model) ? model : {};
  const num = (v: JsonValue | undefined, d: number) => (typeof v === 'number' ? v : d);
  const family: FreshFamily = m.family === 'llama' ? 'llama' : 'gpt2';
  return {
    family,
    layers: num(m.layers, FRESH_DEFAULTS.layers),
    dim: num(m.dim, FRESH_DEFAULTS.dim),
    heads: num(m.heads, FRESH_DEFAULTS.heads),
    kvHeads: family === 'llama' && typeof m.kvHeads === 'number' ? m.kvHeads : null,
    seed: num(m.seed, FRESH_DEFAULTS.seed),
  };
}

/**
 * A split's file inside the data folder. Datasets keep `datasets/<id>/<split>.txt`
 * (the paper's lines) or `<split>.jsonl` for the ones imported as JSONL
 * (src-main/services/dataset-library.ts).
 */
export function splitFile(dataset: Dataset, split: string): string {
  // A Fine-tune-CoT task's splits are JSONL records too (question, answer, rationale): LoRA and Bitune read them.
  return `${dataset.path}/${split}.${dataset.kind === 'jsonl' || dataset.kind === 'fine-tune-cot' ? 'jsonl' : 'txt'}`;
}

/** What a dataset lacks for training, in words; null when it has a train and a valid split. */
export function datasetProblem(dataset: Dataset): string | null {
  const missing = ['train', 'valid'].filter((s) => !(dataset.splitCounts[s]! > 0));
  return missing.length === 0 ? null : `${dataset.name} has no ${missing.join(' or ')} split`;
}

/** The ICoT trainer's config for one recipe: model, data, train, runtime, and the curriculum for ICoT-SI. */
export function buildIcotConfig(recipe: Recipe, common: RunFormCommon, curriculum: CurriculumSettings): JsonObject {
  const data: JsonObject = { train: splitFile(common.dataset, 'train'), valid: splitFile(common.dataset, 'valid') };
  if (common.dataset.splitCounts.test! > 0) data.test = splitFile(common.dataset, 'test');
  const config: JsonObject = {
    recipe,
    model: common.model ? { kind: 'folder', path: common.model.path } : freshModelConfig(common.fresh),
    data,
    train: { ...common.train },
    runtime: { provider: common.provider },
  };
  if (recipe === 'icot-si') config.curriculum = { ...curriculum };
  return config;
}

/** What of the shared form a stored ICoT config sets: for loading a saved config or a run's back into the form. */
export interface ReadBack {
  recipe: Recipe;
  /** The dataset folder its train file is in (e.g. 'datasets/3'), if inside the data folder. */
  datasetPath: string | null;
  /** The Library model folder it starts from; null for a fresh model. */
  modelPath: string | null;
  fresh: FreshShape;
  train: TrainSettings;
  provider: string;
  curriculum: CurriculumSettings;
}

/** Reads an ICoT config back, filling what it leaves out with the defaults; null when it is not one. */
export function readIcotConfig(config: JsonObject): ReadBack | null {
  const recipe = config.recipe;
  if (recipe !== 'icot-si' && recipe !== 'cot' && recipe !== 'nocot') return null;
  const model = isObject(config.model) ? config.model : {};
  const data = isObject(config.data) ? config.data : {};
  const runtime = isObject(config.runtime) ? config.runtime : {};
  const pick = <T extends object>(defaults: T, from: JsonValue | undefined): T => {
    const out = { ...defaults };
    if (isObject(from)) for (const key of Object.keys(defaults) as (keyof T & string)[]) if (from[key] !== undefined) (out as Record<string, unknown>)[key] = from[key];
    return out;
  };
  const train = typeof data.train === 'string' ? /^(datasets\/[^/]+)\//.exec(data.train) : null;
  return {
    recipe,
    datasetPath: train ? train[1]! : null,
    modelPath: model.kind === 'folder' && typeof model.path === 'string' ? model.path : null,
    fresh: readFreshShape(model),
    train: pick(TRAIN_DEFAULTS, config.train),
    provider: typeof runtime.provider === 'string' ? runtime.provider : 'cpu',
    curriculum: pick(CURRICULUM_DEFAULTS, config.curriculum),
  };
}

/**
 * The config as `stepwise train CONFIG.json` takes it: paths in a config file
 * are relative to the file, so the data folder's are made absolute.
 */
export function cliConfig(config: JsonObject, dataDir: string): JsonObject {
  // A JSON copy, not structuredClone: the form's settings are Svelte state proxies, which cannot be cloned.
  const out = JSON.parse(JSON.stringify(config)) as JsonObject;
  const absolute = (p: JsonValue | undefined) =>
    typeof p === 'string' && !/^(\/|[A-Za-z]:[\\/]|\\\\)/.test(p) ? `${dataDir.replace(/[\\/]+$/, '')}/${p}` : p;
  if (isObject(out.data)) for (const key of ['train', 'valid', 'test']) if (out.data[key] !== undefined) out.data[key] = absolute(out.data[key])!;
  if (isObject(out.model) && out.model.kind === 'folder') out.model.path = absolute(out.model.path)!;
  return out;
}

/** The shell line that trains `config` saved as `file`, into the same data folder, under `name`. */
export function trainCommand(file: string, name: string, dataDir: string): string {
  const quote = (s: string) => (/^[\w./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  return `npx stepwise train ${quote(file)} --name ${quote(name || 'my run')} --data-dir ${quote(dataDir)}`;
}
