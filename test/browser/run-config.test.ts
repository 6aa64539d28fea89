// The config the New run form stores: what the ICoT trainer reads.
import { describe, expect, test } from 'vitest';
import type { Dataset, Model } from '../../src-main/contract/index.ts';
import {
  buildIcotConfig,
  cliConfig,
  CURRICULUM_DEFAULTS,
  datasetProblem,
  FRESH_DEFAULTS,
  freshModelConfig,
  readFreshShape,
  readIcotConfig,
  splitFile,
  TRAIN_DEFAULTS,
  trainCommand,
} from '../../src-renderer/lib/run-config.ts';
import type { RunFormCommon } from '../../src-renderer/lib/run-config.ts';

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

const common = (over: Partial<RunFormCommon> = {}): RunFormCommon => ({
  dataset: dataset(),
  model: null,
  fresh: { ...FRESH_DEFAULTS },
  train: { ...TRAIN_DEFAULTS },
  provider: 'cpu',
  ...over,
});

describe('buildIcotConfig', () => {
  test('ICoT-SI from a new model: every model, data, training, runtime and curriculum field, paths inside the data folder', () => {
    expect(buildIcotConfig('icot-si', common(), CURRICULUM_DEFAULTS)).toEqual({
      recipe: 'icot-si',
      model: { kind: 'fresh', layers: 4, dim: 128, heads: 4, seed: 0 },
      data: { train: 'datasets/3/train.txt', valid: 'datasets/3/valid.txt', test: 'datasets/3/test.txt' },
      train: { epochs: 10, batchSize: 32, lr: 5e-5, warmupSteps: 0, schedule: 'constant', cooldownEpochs: 0, weightDecay: 0.01, maxGradNorm: 1, seed: 0 },
      runtime: { provider: 'cpu' },
      curriculum: { removePerEpoch: 8, smoothingLambda: 4, side: 'left', resetOptimizer: true, removeAllWhenBeyond: null, pretrainEpochs: 0, keepPosition: false, holdBelow: 0, advanceAbove: 0 },
    });
  });

  test('explicit CoT from a Library model: the model folder, no curriculum, no test split when the dataset has none', () => {
    const model = { path: 'models/gpt2-tiny' } as Model;
    const config = buildIcotConfig('cot', common({ dataset: dataset({ splitCounts: { train: 10, valid: 2 } }), model }), CURRICULUM_DEFAULTS);
    expect(config.model).toEqual({ kind: 'folder', path: 'models/gpt2-tiny' });
    expect(config.data).toEqual({ train: 'datasets/3/train.txt', valid: 'datasets/3/valid.txt' });
    expect(config).not.toHaveProperty('curriculum');
  });

  test('a built config reads back into the same form: recipe, dataset and model folders, every setting', () => {
    const curriculum = { ...CURRICULUM_DEFAULTS, removePerEpoch: 12, smoothingLambda: null, side: 'right' as const };
    const read = readIcotConfig(buildIcotConfig('icot-si', common({ provider: 'webgpu', train: { ...TRAIN_DEFAULTS, lr: 1e-3 } }), curriculum));
    expect(read).toEqual({
      recipe: 'icot-si',
      datasetPath: 'datasets/3',
      modelPath: null,
      fresh: FRESH_DEFAULTS,
      train: { ...TRAIN_DEFAULTS, lr: 1e-3 },
      provider: 'webgpu',
      curriculum,
    });
    // A hand-written config leaves fields out: they read as the defaults.
    expect(readIcotConfig({ recipe: 'nocot', model: { kind: 'folder', path: 'models/7' }, train: { epochs: 3 } })).toMatchObject({
      recipe: 'nocot',
      datasetPath: null,
      modelPath: 'models/7',
      train: { ...TRAIN_DEFAULTS, epochs: 3 },
    });
    expect(readIcotConfig({ task: 'multiarith' })).toBeNull();
  });
});

describe('the command line view', () => {
  test('paths inside the data folder become absolute; absolute ones stay', () => {
    const config = buildIcotConfig('cot', common({ model: { path: 'models/4' } as Model }), CURRICULUM_DEFAULTS);
    const cli = cliConfig({ ...config, data: { ...(config.data as object), test: '/elsewhere/test.txt' } }, '/home/ada/.local/share/stepwise/');
    expect(cli.data).toEqual({
      train: '/home/ada/.local/share/stepwise/datasets/3/train.txt',
      valid: '/home/ada/.local/share/stepwise/datasets/3/valid.txt',
      test: '/elsewhere/test.txt',
    });
    expect(cli.model).toEqual({ kind: 'folder', path: '/home/ada/.local/share/stepwise/models/4' });
    expect(config.data).toHaveProperty('train', 'datasets/3/train.txt'); // the form's own config is left as it was
  });

  test('the train command quotes what the shell would split', () => {
    expect(trainCommand('run-config.json', "4×4, Δ=8 (Ada's)", '/data/stepwise')).toBe(
      `npx stepwise train run-config.json --name '4×4, Δ=8 (Ada'\\''s)' --data-dir /data/stepwise`,
    );
  });
});

describe('splitFile and datasetProblem', () => {
  test('JSONL datasets keep .jsonl files, the rest the paper\'s .txt lines', () => {
    expect(splitFile(dataset({ kind: 'jsonl' }), 'valid')).toBe('datasets/3/valid.jsonl');
    expect(splitFile(dataset({ kind: 'fine-tune-cot' }), 'test')).toBe('datasets/3/test.jsonl');
    expect(splitFile(dataset({ kind: 'gsm8k-aug' }), 'valid')).toBe('datasets/3/valid.txt');
  });

  test('a dataset without a train or a valid split cannot train, and says which is missing', () => {
    expect(datasetProblem(dataset())).toBeNull();
    expect(datasetProblem(dataset({ splitCounts: { train: 5 } }))).toBe('4×4 multiplication has no valid split');
    expect(datasetProblem(dataset({ splitCounts: { test: 5 } }))).toBe('4×4 multiplication has no train or valid split');
  });
});

describe('a new model of either family', () => {
  test("a Llama's model names its family and, where set, its KV heads; a GPT-2's stays as stored configs have it", () => {
    expect(freshModelConfig({ ...FRESH_DEFAULTS, kvHeads: 2 })).toEqual({ kind: 'fresh', layers: 4, dim: 128, heads: 4, seed: 0 });
    expect(freshModelConfig({ ...FRESH_DEFAULTS, family: 'llama', heads: 8, kvHeads: 2 })).toEqual({ kind: 'fresh', family: 'llama', layers: 4, dim: 128, heads: 8, kvHeads: 2, seed: 0 });
    expect(freshModelConfig({ ...FRESH_DEFAULTS, family: 'llama' })).toEqual({ kind: 'fresh', family: 'llama', layers: 4, dim: 128, heads: 4, seed: 0 });
  });

  test('an ICoT config of a new Llama reads back into the same form, and its command line keeps the model', () => {
    const fresh = { family: 'llama' as const, layers: 2, dim: 64, heads: 4, kvHeads: 1, seed: 3 };
    const config = buildIcotConfig('cot', common({ fresh }), CURRICULUM_DEFAULTS);
    expect(config.model).toEqual({ kind: 'fresh', family: 'llama', layers: 2, dim: 64, heads: 4, kvHeads: 1, seed: 3 });
    expect(readIcotConfig(config)!.fresh).toEqual(fresh);
    expect(cliConfig(config, '/lab').model).toEqual(config.model);
    // A stored GPT-2 config (no family) reads as a GPT-2; kvHeads means nothing to it.
    expect(readFreshShape({ kind: 'fresh', layers: 1, dim: 32, heads: 2, kvHeads: 1, seed: 0 })).toEqual({ family: 'gpt2', layers: 1, dim: 32, heads: 2, kvHeads: null, seed: 0 });
    expect(readFreshShape(undefined)).toEqual(FRESH_DEFAULTS);
  });
});
