// The config the New run form stores: what the ICoT trainer reads.
import { describe, expect, test } from 'vitest';
import type { Dataset, Model } from '../../src-main/contract/index.ts';
import { buildConfig, datasetProblem, FORM_DEFAULTS, splitFile } from '../../src-renderer/lib/run-config.ts';

const dataset = (over: Partial<Dataset> = {}): Dataset => ({
  id: 3,
  name: '4×4 multiplication',
  kind: 'multiplication',
  contentHash: 'ab',
  splitCounts: { train: 800, valid: 100, test: 100 },
  path: 'datasets/3',
  preview: [],
  createdAt: 0,
  ...over,
});

describe('buildConfig', () => {
  test('ICoT-SI from a new model: every model, data, training and curriculum field, paths inside the data folder', () => {
    expect(buildConfig({ ...FORM_DEFAULTS, dataset: dataset(), model: null })).toEqual({
      recipe: 'icot-si',
      model: { kind: 'fresh', layers: 4, dim: 128, heads: 4, seed: 0 },
      data: { train: 'datasets/3/train.txt', valid: 'datasets/3/valid.txt', test: 'datasets/3/test.txt' },
      train: { epochs: 10, batchSize: 32, lr: 5e-5, seed: 0 },
      curriculum: { removePerEpoch: 8, smoothingLambda: 4, side: 'left', resetOptimizer: true, removeAllWhenBeyond: null, pretrainEpochs: 0 },
    });
  });

  test('explicit CoT from a Library model: the model folder, no curriculum, no test split when the dataset has none', () => {
    const model = { path: 'models/gpt2-tiny' } as Model;
    const config = buildConfig({ ...FORM_DEFAULTS, recipe: 'cot', dataset: dataset({ splitCounts: { train: 10, valid: 2 } }), model });
    expect(config.model).toEqual({ kind: 'folder', path: 'models/gpt2-tiny' });
    expect(config.data).toEqual({ train: 'datasets/3/train.txt', valid: 'datasets/3/valid.txt' });
    expect(config).not.toHaveProperty('curriculum');
  });
});

describe('splitFile and datasetProblem', () => {
  test('JSONL datasets keep .jsonl files, the rest the paper\'s .txt lines', () => {
    expect(splitFile(dataset({ kind: 'jsonl' }), 'valid')).toBe('datasets/3/valid.jsonl');
    expect(splitFile(dataset({ kind: 'gsm8k-aug' }), 'valid')).toBe('datasets/3/valid.txt');
  });

  test('a dataset without a train or a valid split cannot train, and says which is missing', () => {
    expect(datasetProblem(dataset())).toBeNull();
    expect(datasetProblem(dataset({ splitCounts: { train: 5 } }))).toBe('4×4 multiplication has no valid split');
    expect(datasetProblem(dataset({ splitCounts: { test: 5 } }))).toBe('4×4 multiplication has no train or valid split');
  });
});
