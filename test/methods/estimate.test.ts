/**
 * Estimates before the work: runs.estimate answers a run's parameters, memory
 * (weights, optimizer state, activations at its batch), steps and, measured,
 * its time; a run that cannot fit in the machine's memory is refused by
 * runs.create and runs.start before anything is allocated.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createClient, type Client } from '../../src-main/contract/client.ts';
import { paramCount } from '../../src-main/engine/models/family.ts';
import { estimateRun, memoryOf, type RunPlan } from '../../src-main/methods/shared/estimate.ts';
import { openLab, type Lab } from '../../src-main/services/lab.ts';
import { writeLateTask } from '../bitune/late-task.ts';
import { BATCHES_PER_EPOCH, tinyConfig, writeTinyMult } from '../services/tiny-run.ts';

let dataDir: string;
let lab: Lab;
let client: Client;
let data: { train: string; valid: string; test: string };

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-estimate-'));
  lab = openLab(dataDir);
  client = createClient({ call: lab.dispatch, on: () => () => {} });
  data = await writeTinyMult(path.join(dataDir, 'mult'));
});

afterAll(() => {
  lab.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const GPT2 = { vocabSize: 20, nPositions: 32, nEmbd: 32, nLayer: 2, nHead: 4, layerNormEpsilon: 1e-5 };

describe('the memory a run needs', () => {
  test('is the float32 state twice (ping-pong), two moments twice and a gradient, plus activations by Korthikanti et al.', () => {
    const plan: RunPlan = { arch: GPT2, trainable: paramCount(GPT2), batchSize: 8, seqLen: 16, examples: 100, epochs: 2, passes: 1 };
    const P = paramCount(GPT2);
    const perLayer = 2 * 16 * 8 * 32 * (34 + (5 * 4 * 16) / 32);
    expect(memoryOf(plan)).toEqual({
      weights: P * 8,
      optimizer: P * 20,
      activations: 2 * perLayer + 3 * 4 * 16 * 8 * 20,
      total: P * 28 + 2 * perLayer + 3 * 4 * 16 * 8 * 20,
    });
    // A frozen float16 base counts 2 bytes a weight, and only the adapters carry optimizer state; two passes double the activations.
    const adapters = memoryOf({ ...plan, trainable: 1000, frozenBytes: 2, passes: 2 });
    expect([adapters.weights, adapters.optimizer, adapters.activations]).toEqual([1000 * 8 + (P - 1000) * 2, 1000 * 20, 2 * memoryOf(plan).activations]);
  });

  test('asks to confirm above half the machine, refuses above all of it, and says why', async () => {
    const plan: RunPlan = { arch: GPT2, trainable: paramCount(GPT2), batchSize: 8, seqLen: 16, examples: 100, epochs: 2, passes: 1 };
    const need = memoryOf(plan).total;
    const fits = await estimateRun(plan, { measure: false, machineMemory: need * 4 });
    expect([fits.verdict, fits.reasons, fits.steps, fits.seconds, fits.timing]).toEqual(['ok', [], 2 * 12, null, 'not measured']); // 100 examples: 12 batches of 8, the last 4 dropped
    const tight = await estimateRun(plan, { measure: false, machineMemory: need * 1.5 });
    expect([tight.verdict, tight.reasons.length]).toEqual(['confirm', 1]);
    expect(tight.reasons[0]).toMatch(/^it needs about \d+ (KiB|MiB) of this machine's \d+ (KiB|MiB) of memory$/);
    const over = await estimateRun(plan, { measure: true, machineMemory: need / 2 });
    expect([over.verdict, over.secondsPerStep, over.timing]).toEqual(['refuse', null, 'not measured: the run cannot fit in memory']);
    expect(over.reasons[0]).toMatch(/^it needs about .* of memory to train \(weights .*, optimizer .*, activations .* at batch 8 × 16 tokens\); this machine has .*\. Use a smaller model, batch or sequence\.$/);
  });
});

describe('runs.estimate', () => {
  test('answers the tiny ICoT-SI run\'s parameters, steps and memory, and with measure its time from a warm-up', async () => {
    const quick = await client.call('runs.estimate', { method: 'icot-si', config: tinyConfig(data, 3) });
    expect(quick).not.toBeNull();
    expect(quick!.steps).toBe(3 * BATCHES_PER_EPOCH);
    expect(quick!.parameters.total).toBe(quick!.parameters.trainable);
    expect(quick!.parameters.total).toBeGreaterThan(12_000); // one block of width 32 is 12,672 weights, before the embeddings
    expect(quick!.memory.weights).toBe(quick!.parameters.total * 8);
    expect([quick!.verdict, quick!.secondsPerStep, quick!.machineMemory]).toEqual(['ok', null, os.totalmem()]);

    const measured = (await client.call('runs.estimate', { method: 'icot-si', config: tinyConfig(data, 3), measure: true }))!;
    expect(measured.secondsPerStep).toBeGreaterThan(0);
    expect(measured.seconds).toBeCloseTo(measured.secondsPerStep! * 3 * BATCHES_PER_EPOCH, 9);
    expect(measured.timing).toMatch(/^measured: 2 steps of batch 16 × \d+ tokens on cpu, after a warm-up step$/);
    expect(lab.store.runs.count()).toBe(0);
  });

  test('counts only the adapters as trained for LoRA, and two passes for Bitune', async () => {
    const late = writeLateTask(path.join(dataDir, 'late'), { train: 16, valid: 0, test: 2 });
    const config = (method: string) => ({
      method, model: { kind: 'fresh', layers: 1, dim: 32, heads: 2, seed: 0 }, lora: { r: 4, alpha: 8 },
      data: { train: late.train, test: late.test }, train: { epochs: 2, batchSize: 8, lr: 3e-3, seed: 1 },
    });
    const lora = (await client.call('runs.estimate', { method: 'lora', config: config('lora') }))!;
    const bitune = (await client.call('runs.estimate', { method: 'bitune', config: config('bitune') }))!;
    expect(lora.parameters.trainable).toBeLessThan(lora.parameters.total / 4);
    expect(lora.steps).toBe(2 * 2);
    // Two adapter sets and the mixing coefficients (two per layer).
    expect(bitune.parameters.trainable).toBe(2 * lora.parameters.trainable + 2);
    expect(bitune.memory.activations).toBe(2 * lora.memory.activations);
  });

  test('a config runs.start would refuse is refused with the same words', async () => {
    await expect(client.call('runs.estimate', { method: 'icot-si', config: { ...tinyConfig(data), train: { epochs: 1, lr: 0 } } })).rejects.toMatchObject({
      code: 'invalid_input',
      message: 'runs.estimate: config is not a valid ICoT-SI run configuration: config.train.lr: Too small: expected number to be >0',
    });
  });
});

describe('a run that cannot fit in memory', () => {
  test('a 96-layer × 8192 model is refused by runs.create, runs.start and runs.estimate before its weights exist, naming what it needs', async () => {
    const huge = { ...tinyConfig(data), model: { kind: 'fresh', layers: 96, dim: 8192, heads: 64, seed: 0 }, train: { epochs: 1, batchSize: 4096, lr: 1e-3 } };
    for (const procedure of ['runs.create', 'runs.start'] as const) {
      await expect(client.call(procedure, { method: 'icot-si', name: 'too big', config: huge })).rejects.toMatchObject({
        code: 'invalid_input',
        message: expect.stringMatching(
          new RegExp(`^${procedure.replace('.', '\\.')}: the run cannot start: this run cannot train here: a new model of 96 layers × 8192 has 77\\.3 billion parameters; training it needs at least \\d+ GiB of memory for its weights and optimizer state, and this machine has [\\d.]+ GiB\\. Use fewer layers or a smaller width\\.$`),
        ),
      });
    }
    await expect(client.call('runs.estimate', { method: 'icot-si', config: huge })).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringContaining('77.3 billion parameters') });
    expect(lab.store.runs.count()).toBe(0);
  });
});
