// The run configuration the New run form builds: the ICoT trainer's config
// (src-main/methods/icot/recipe.ts), every field spelled out so the stored
// run says exactly what it trained with.
import type { Dataset, JsonObject, Model } from '../../src-main/contract/index.ts';

export type Recipe = 'icot-si' | 'cot' | 'nocot';

export interface RunForm {
  recipe: Recipe;
  /** A Library model to start from; null for a new one. */
  model: Model | null;
  fresh: { layers: number; dim: number; heads: number; seed: number };
  dataset: Dataset;
  train: { epochs: number; batchSize: number; lr: number; seed: number };
  curriculum: {
    removePerEpoch: number;
    /** null: no removal smoothing (λ = ∞). */
    smoothingLambda: number | null;
    side: 'left' | 'right';
    resetOptimizer: boolean;
    /** null: never remove the whole CoT at once. */
    removeAllWhenBeyond: number | null;
    pretrainEpochs: number;
  };
}

/** The paper's 4×4 recipe where it has one; the trainer's defaults elsewhere. */
export const FORM_DEFAULTS: Omit<RunForm, 'dataset' | 'model'> = {
  recipe: 'icot-si',
  fresh: { layers: 4, dim: 128, heads: 4, seed: 0 },
  train: { epochs: 10, batchSize: 32, lr: 5e-5, seed: 0 },
  curriculum: { removePerEpoch: 8, smoothingLambda: 4, side: 'left', resetOptimizer: true, removeAllWhenBeyond: null, pretrainEpochs: 0 },
};

/**
 * A split's file inside the data folder. Datasets keep `datasets/<id>/<split>.txt`
 * (the paper's lines) or `<split>.jsonl` for the ones imported as JSONL
 * (src-main/services/dataset-library.ts).
 */
export function splitFile(dataset: Dataset, split: string): string {
  return `${dataset.path}/${split}.${dataset.kind === 'jsonl' ? 'jsonl' : 'txt'}`;
}

/** What a dataset lacks for training, in words; null when it has a train and a valid split. */
export function datasetProblem(dataset: Dataset): string | null {
  const missing = ['train', 'valid'].filter((s) => !(dataset.splitCounts[s]! > 0));
  return missing.length === 0 ? null : `${dataset.name} has no ${missing.join(' or ')} split`;
}

export function buildConfig(form: RunForm): JsonObject {
  const data: JsonObject = { train: splitFile(form.dataset, 'train'), valid: splitFile(form.dataset, 'valid') };
  if (form.dataset.splitCounts.test! > 0) data.test = splitFile(form.dataset, 'test');
  const config: JsonObject = {
    recipe: form.recipe,
    model: form.model ? { kind: 'folder', path: form.model.path } : { kind: 'fresh', ...form.fresh },
    data,
    train: { ...form.train },
  };
  if (form.recipe === 'icot-si') config.curriculum = { ...form.curriculum };
  return config;
}
