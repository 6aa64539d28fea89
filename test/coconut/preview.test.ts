/** coconut.preview through the contract, as the New run form's Coconut section calls it. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createClient, type Client } from '../../src-main/contract/client.ts';
import { openLab, type Lab } from '../../src-main/services/lab.ts';

let dir: string;
let lab: Lab;
let client: Client;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-coconut-preview-'));
  lab = openLab(dir);
  client = createClient({ call: (name, input) => lab.dispatch(name, input), on: () => () => {} });
});
afterAll(() => {
  lab.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('coconut.preview', () => {
  test('shows, for a 4×4 product by default, which steps each stage makes continuous and when', async () => {
    const r = await client.call('coconut.preview', { curriculum: { thoughtsPerStep: 2, epochsPerStage: 3, maxLatentStage: 3 }, epochs: 12 });
    expect(r.steps).toEqual(['7 6 9 2 0 +', '0 2 0 8 7 1 ( 7 8 9 0 8 1 ) +', '0 0 1 0 9 8 0 ( 7 8 0 1 7 0 1 ) +', '0 0 0 2 0 8 7 1']);
    expect(r.stages.map((s) => [s.stage, s.epochs, s.thoughts, s.steps.filter((k) => k === 'latent').length])).toEqual([
      [0, [1, 3], 0, 0], [1, [4, 6], 2, 1], [2, [7, 9], 4, 2], [3, [10, 12], 6, 3], [4, null, 6, 4],
    ]);
  });

  test('splits a given chain of thought as the trainer does, and refuses a stage of no epochs by its field', async () => {
    const r = await client.call('coconut.preview', { curriculum: { thoughtsPerStep: 1, epochsPerStage: 1, cotEpochs: 0, maxLatentStage: 1 }, epochs: 5, cot: '<<2*3=6>> <<6+1=7>>' });
    expect(r.steps).toEqual(['<<2*3=6>>', '<<6+1=7>>']);
    expect(r.stages.map((s) => [s.epochs, s.steps.join(' ')])).toEqual([[null, 'text text'], [[1, 1], 'latent text'], [[2, 5], 'latent latent']]);
    await expect(client.call('coconut.preview', { curriculum: { thoughtsPerStep: 1, epochsPerStage: 0, maxLatentStage: 1 }, epochs: 5 })).rejects.toThrow(/epochsPerStage/);
  });
});
