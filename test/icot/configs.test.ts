/** The example run configs in resources/configs/ are valid and say what their names promise. */
import fs from 'node:fs';
import { describe, expect, test } from 'vitest';
import { parseIcotConfig } from '../../src-main/methods/icot/recipe.ts';

const read = (name: string) => {
  const file = new URL(`../../resources/configs/${name}`, import.meta.url);
  return parseIcotConfig(JSON.parse(fs.readFileSync(file, 'utf8')), name);
};

/** The paper's ICoT-SI schedule and optimizer: Δ 8, λ 4, left, reset; AdamW with PyTorch's defaults, clipping at 1.0. */
const PAPER_SCHEDULE = {
  curriculum: { removePerEpoch: 8, smoothingLambda: 4, side: 'left', resetOptimizer: true, removeAllWhenBeyond: null, pretrainEpochs: 0 },
  train: { batchSize: 32, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 },
};

describe('example configs', () => {
  test("icot-4x4-gpt2-small.json and icot-5x5-gpt2-small.json are the paper's recipe: GPT-2 Small from a folder, lr 5e-5, batch 32, on the GPU (webgpu)", () => {
    for (const [name, digits] of [['icot-4x4-gpt2-small.json', '4x4'], ['icot-5x5-gpt2-small.json', '5x5']] as const) {
      const config = read(name);
      expect(config).toMatchObject(PAPER_SCHEDULE);
      expect(config).toMatchObject({ recipe: 'icot-si', model: { kind: 'folder', path: 'models/gpt2' }, train: { lr: 5e-5, schedule: 'constant', warmupSteps: 0 }, runtime: { provider: 'webgpu' } });
      expect(config.data).toMatchObject({ train: `data/${digits}/train.txt`, valid: `data/${digits}/valid.txt`, test: `data/${digits}/test.txt` });
    }
  });

  test('icot-4x4-cpu.json is the 4×4 recipe that internalized all CoT on 2 cores, with its hand steps as curriculum: right removal, a hold that drops to 25% at 37 tokens, remove-all at 43, a cool-down', () => {
    const config = read('icot-4x4-cpu.json');
    expect(config).toMatchObject({ recipe: 'icot-si', model: { kind: 'fresh', layers: 2, dim: 96, heads: 4 }, runtime: { provider: 'cpu', threads: 2 } });
    expect(config.data).toMatchObject({ train: 'data/4x4/train.txt', valid: 'data/4x4/valid.txt', test: 'data/4x4/test.txt', trainLimit: 72000, validLimit: 200 });
    expect(config.train).toMatchObject({ epochs: 190, batchSize: 32, lr: 1e-3, warmupSteps: 100, schedule: 'constant', cooldownEpochs: 10 });
    expect(config.curriculum).toEqual({
      removePerEpoch: 1, smoothingLambda: 1, side: 'right', resetOptimizer: false, removeAllWhenBeyond: 43, pretrainEpochs: 3, keepPosition: true,
      holdBelow: [[0, 0.5], [37, 0.25]], advanceAbove: 0.9,
    });
    expect(config.eval).toMatchObject({ everyEpoch: true, speedExamples: 200 });
  });

  test('icot-5x5-cpu.json is the same design for 5×5 (74 CoT tokens): the hold drops at 58, remove-all at 70', () => {
    const four = read('icot-4x4-cpu.json');
    const five = read('icot-5x5-cpu.json');
    expect(five.curriculum).toEqual({ ...four.curriculum, holdBelow: [[0, 0.5], [58, 0.25]], removeAllWhenBeyond: 70 });
    expect(five.model).toMatchObject({ kind: 'fresh', layers: 3, dim: 128, heads: 4 });
    expect(five.data).toMatchObject({ train: 'data/5x5/train.txt', test: 'data/5x5/test.txt', trainLimit: 144000 });
  });

  test('icot-2x2-cpu.json: the 2×2 recipe that internalized all CoT on a CPU (97% with no CoT on held-out problems)', () => {
    const config = read('icot-2x2-cpu.json');
    expect(config).toMatchObject({ recipe: 'icot-si', model: { kind: 'fresh', layers: 4, dim: 128, heads: 4 }, runtime: { provider: 'cpu' } });
    // About a thousand steps per removed token: one more every 4 epochs of 237 batches.
    expect(config.train).toMatchObject({ epochs: 60, lr: 2e-3, schedule: 'cosine', warmupSteps: 100, batchSize: 32 });
    expect(config.curriculum).toMatchObject({ pretrainEpochs: 6, removePerEpoch: 0.25, smoothingLambda: 1, resetOptimizer: false, keepPosition: true, side: 'left' });
  });

  test('icot-2x2-cpu-cot.json then icot-2x2-cpu-internalize.json: the fast two-run recipe (seeds 0 only)', () => {
    const cot = read('icot-2x2-cpu-cot.json');
    // 2 layers × 64 since 2026-11-22 (the proof's first run): on 2×2 it internalized more seeds than 4 × 128, in a sixth of the time.
    expect(cot).toMatchObject({ recipe: 'cot', model: { kind: 'fresh', layers: 2, dim: 64, heads: 4 }, train: { epochs: 8, lr: 2e-3, schedule: 'cosine', warmupSteps: 100, batchSize: 32 } });
    const icot = read('icot-2x2-cpu-internalize.json');
    // Started from a model folder (`stepwise train … --model` names the first run's model).
    expect(icot).toMatchObject({ recipe: 'icot-si', model: { kind: 'folder' }, train: { epochs: 44, lr: 2e-3, schedule: 'linear', warmupSteps: 100, batchSize: 32 } });
    expect(icot.curriculum).toMatchObject({ pretrainEpochs: 0, removePerEpoch: 0.25, smoothingLambda: 1, resetOptimizer: false, keepPosition: true, side: 'left' });
    expect([cot.data, icot.data]).toEqual([{ train: 'data/2x2/train.txt', valid: 'data/2x2/valid.txt', test: 'data/2x2/test.txt' }, cot.data]);
  });

  test('icot-2x2-cpu-internalize-slow.json: the ICoT-SI proof’s second run, at half the removal rate, a constant learning rate and a cool-down once no CoT is left', () => {
    const fast = read('icot-2x2-cpu-internalize.json');
    const slow = read('icot-2x2-cpu-internalize-slow.json');
    // One token every 1,896 batches (Δ = ⅛ of 237), all 8 gone by epoch 64, then 12 epochs decaying the rate to 0.
    expect(slow.train).toEqual({ ...fast.train, epochs: 76, schedule: 'constant', cooldownEpochs: 12 });
    expect(slow.curriculum).toEqual({ ...fast.curriculum, removePerEpoch: 0.125 });
    expect({ ...slow, train: fast.train, curriculum: fast.curriculum }).toEqual(fast);
  });
});

describe('run config validation', () => {
  const minimal = { recipe: 'icot-si', model: { kind: 'fresh' }, data: { train: 't.txt', valid: 'v.txt' }, train: { epochs: 2 } };

  test("fills the paper's defaults: lr 5e-5, batch 32, Δ 8, λ 4, left removal, optimizer reset, AdamW as PyTorch, clipping 1.0", () => {
    const c = parseIcotConfig(minimal);
    expect(c.train).toMatchObject({ lr: 5e-5, batchSize: 32, weightDecay: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, maxGradNorm: 1 });
    expect(c.curriculum).toEqual({ removePerEpoch: 8, smoothingLambda: 4, side: 'left', resetOptimizer: true, removeAllWhenBeyond: null, pretrainEpochs: 0, keepPosition: false, holdBelow: 0, advanceAbove: 0 });
  });

  test('holdBelow is a fraction, and needs validation every epoch', () => {
    expect(parseIcotConfig({ ...minimal, curriculum: { holdBelow: 0.9 } }).curriculum.holdBelow).toBe(0.9);
    expect(() => parseIcotConfig({ ...minimal, curriculum: { holdBelow: 90 } }, 'h.json')).toThrow(/^h\.json is not a valid ICoT run configuration:\n {2}curriculum\.holdBelow: Too big/);
    expect(() => parseIcotConfig({ ...minimal, curriculum: { holdBelow: 0.9 }, eval: { everyEpoch: false } }, 'h.json')).toThrow(
      'h.json is not a valid ICoT run configuration:\n  curriculum.holdBelow: holds on validation accuracy, so it needs validation every epoch (eval.everyEpoch: true)',
    );
  });

  test('holdBelow may be a schedule [[tokens removed, fraction], …] from 0 tokens on, by increasing tokens', () => {
    expect(parseIcotConfig({ ...minimal, curriculum: { holdBelow: [[0, 0.5], [37, 0.25]] } }).curriculum.holdBelow).toEqual([[0, 0.5], [37, 0.25]]);
    expect(() => parseIcotConfig({ ...minimal, curriculum: { holdBelow: [[5, 0.5]] } }, 'h.json')).toThrow('curriculum.holdBelow: must start at 0 tokens removed, e.g. [[0, 0.5], [37, 0.25]]');
    expect(() => parseIcotConfig({ ...minimal, curriculum: { holdBelow: [[0, 0.5], [37, 0.25], [20, 0.1]] } }, 'h.json')).toThrow('curriculum.holdBelow: its token counts must increase, e.g. [[0, 0.5], [37, 0.25]]');
    expect(() => parseIcotConfig({ ...minimal, curriculum: { holdBelow: [[0, 0.5]] }, eval: { everyEpoch: false } }, 'h.json')).toThrow('curriculum.holdBelow: holds on validation accuracy, so it needs validation every epoch');
    expect(() => parseIcotConfig({ ...minimal, curriculum: { holdBelow: [[0, 0.5], [37, 0.95]], advanceAbove: 0.9 } }, 'h.json')).toThrow('curriculum.advanceAbove: must be at least curriculum.holdBelow');
  });

  test('advanceAbove is a fraction, needs validation every epoch, and is not below holdBelow', () => {
    expect(parseIcotConfig({ ...minimal, curriculum: { advanceAbove: 0.9, holdBelow: 0.5 } }).curriculum).toMatchObject({ advanceAbove: 0.9, holdBelow: 0.5 });
    expect(() => parseIcotConfig({ ...minimal, curriculum: { advanceAbove: 95 } }, 'a.json')).toThrow(/^a\.json is not a valid ICoT run configuration:\n {2}curriculum\.advanceAbove: Too big/);
    expect(() => parseIcotConfig({ ...minimal, curriculum: { advanceAbove: 0.9 }, eval: { everyEpoch: false } }, 'a.json')).toThrow(
      'a.json is not a valid ICoT run configuration:\n  curriculum.advanceAbove: advances on validation accuracy, so it needs validation every epoch (eval.everyEpoch: true)',
    );
    expect(() => parseIcotConfig({ ...minimal, curriculum: { advanceAbove: 0.8, holdBelow: 0.9 } }, 'a.json')).toThrow(
      'a.json is not a valid ICoT run configuration:\n  curriculum.advanceAbove: must be at least curriculum.holdBelow (an accuracy cannot both hold the removal and advance it)',
    );
  });

  test('cooldownEpochs: 0 by default, a whole number of epochs otherwise', () => {
    expect(parseIcotConfig(minimal).train.cooldownEpochs).toBe(0);
    expect(parseIcotConfig({ ...minimal, train: { epochs: 2, cooldownEpochs: 1 } }).train.cooldownEpochs).toBe(1);
    expect(() => parseIcotConfig({ ...minimal, train: { epochs: 2, cooldownEpochs: -1 } }, 'c.json')).toThrow(/^c\.json is not a valid ICoT run configuration:\n {2}train\.cooldownEpochs: Too small/);
    expect(() => parseIcotConfig({ ...minimal, train: { epochs: 2, cooldownEpochs: 0.5 } }, 'c.json')).toThrow(/train\.cooldownEpochs: Invalid input: expected int/);
  });

  test('names every bad or misspelt field by its path', () => {
    const bad = { ...minimal, train: { epochs: 0, lR: 1e-3 }, curriculum: { side: 'middle' }, model: { kind: 'fresh', dim: 130, heads: 4 } };
    let message = '';
    try {
      parseIcotConfig(bad, 'my.json');
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^my\.json is not a valid ICoT run configuration/);
    expect(message).toMatch(/train\.epochs: /);
    expect(message).toMatch(/train: Unrecognized key: "lR"/);
    expect(message).toMatch(/curriculum\.side: /);
    expect(message).toMatch(/model: dim must be divisible by heads/);
  });
});
