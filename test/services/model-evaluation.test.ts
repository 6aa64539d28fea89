/**
 * models.evaluate: a Library model scored on a dataset's split in a worker
 * thread, with progress events, its predictions stored under the model's run,
 * one evaluation per model at a time, and cancelling that keeps nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createClient, type Client } from '../../src-main/contract/client.ts';
import type { Dataset, Model } from '../../src-main/contract/entities.ts';
import type { EventPayloads } from '../../src-main/contract/events.ts';
import { openLab, type Lab } from '../../src-main/services/lab.ts';
import { tinyConfig } from './tiny-run.ts';

let dataDir: string;
let lab: Lab;
let client: Client;
let dataset: Dataset;
let model: Model;
const progress: EventPayloads['model.evaluation'][] = [];

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-model-eval-'));
  lab = openLab(dataDir);
  client = createClient({ call: lab.dispatch, on: () => () => {} });
  lab.events.subscribe((event, payload) => event === 'model.evaluation' && progress.push(payload as EventPayloads['model.evaluation']));
  dataset = await client.call('datasets.generateMult', { digitsA: 2, digitsB: 2, counts: { train: 64, valid: 8, test: 40 }, seed: 7, name: '2×2 tiny' });
  const files = { train: `${dataset.path}/train.txt`, valid: `${dataset.path}/valid.txt`, test: `${dataset.path}/test.txt` };
  const run = await client.call('runs.start', { method: 'icot-si', name: 'tiny', config: { ...tinyConfig(files, 1), recipe: 'cot' } });
  const end = await lab.training.whenDone(run.id)!;
  model = end.model!;
}, 60_000);

afterAll(() => {
  lab.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('models.evaluate', () => {
  test('scores the model on the split in a worker, reports progress and stores the predictions under its run', async () => {
    const report = await client.call('models.evaluate', { id: model.id, datasetId: dataset.id, split: 'test', batchSize: 8 });
    expect([report.total, report.batchSize, report.stored]).toEqual([40, 8, { runId: model.runId, split: 'eval:2×2 tiny:test', step: expect.any(Number) }]);
    expect(report.correct).toBe(Math.round(report.accuracy * 40));
    expect(report.examplesPerS).toBeGreaterThan(0);
    expect(progress.at(-1)).toEqual({ modelId: model.id, done: 40, total: 40 });
    const stored = await client.call('runs.predictions', { runId: model.runId!, split: 'eval:2×2 tiny:test' });
    expect([stored.total, stored.correct]).toEqual([40, report.correct]);
    expect(lab.store.logs.after(model.runId!, 0, 100).at(-1)!.message).toMatch(/^evaluated .* accuracy [\d.]+% \(\d+\/40\)/);
  });

  test('one evaluation per model at a time; a cancelled one keeps nothing', async () => {
    const first = client.call('models.evaluate', { id: model.id, datasetId: dataset.id, split: 'valid', batchSize: 1 });
    await expect(client.call('models.evaluate', { id: model.id, datasetId: dataset.id })).rejects.toMatchObject({
      code: 'conflict',
      message: `models.evaluate: model ${model.id} is being evaluated already; wait for it, or cancel it`,
    });
    expect(await client.call('models.cancelEvaluation', { id: model.id })).toEqual({ cancelled: true });
    await expect(first).rejects.toMatchObject({ code: 'conflict', message: `models.evaluate: the evaluation of model ${model.id} was cancelled; nothing was stored` });
    expect(lab.store.predictions.splits(model.runId!)).not.toContain('eval:2×2 tiny:valid');
    expect(await client.call('models.cancelEvaluation', { id: model.id })).toEqual({ cancelled: false });
  });

  test('a split the dataset lacks, a missing model or dataset: each named', async () => {
    const empty = await client.call('datasets.generateMult', { digitsA: 2, digitsB: 2, counts: { train: 16, valid: 0, test: 4 }, seed: 8, name: 'no valid' });
    await expect(client.call('models.evaluate', { id: model.id, datasetId: empty.id, split: 'valid' })).rejects.toMatchObject({
      code: 'invalid_input',
      message: 'models.evaluate: the dataset “no valid” has no valid examples; choose a split it has (train, test)',
    });
    await expect(client.call('models.evaluate', { id: 99, datasetId: dataset.id })).rejects.toMatchObject({ code: 'not_found', message: 'models.evaluate: there is no model 99' });
    await expect(client.call('models.evaluate', { id: model.id, datasetId: 99 })).rejects.toMatchObject({ code: 'not_found', message: 'models.evaluate: there is no dataset 99' });
  });
});
