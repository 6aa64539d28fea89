/**
 * A queued run of any method starts from its page: Start is offered for every method the lab
 * lists (methods.list), and the server trains each to the end.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Run } from '../../src-main/contract/entities.ts';
import { writeLateTask } from '../bitune/late-task.ts';
import { tinyConfig, writeTinyMult } from '../services/tiny-run.ts';
import { assertRendererBuilt, callApi, eventually, launchBrowser, startServer, type Browser, type Server } from './harness.ts';

const COIN_FLIP = new URL('../../../shared/data/fine-tune-cot/tasks/coin_flip.jsonl', import.meta.url).pathname;

let server: Server;
let browser: Browser;

beforeAll(async () => {
  assertRendererBuilt();
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('Start on a queued run of every method', () => {
  test('ICoT-SI, LoRA, Bitune, Fine-tune-CoT and Coconut runs created queued start from their page and complete', async () => {
    const mult = await writeTinyMult(path.join(server.dataDir, 'mult'));
    const icot = { ...tinyConfig(mult, 1), runtime: { threads: 1 } };
    const late = writeLateTask(path.join(server.dataDir, 'late-task'), { train: 16, valid: 0, test: 4 });
    const adapters = (method: 'lora' | 'bitune') => ({
      method, model: { kind: 'fresh', layers: 1, dim: 32, heads: 2, seed: 0 }, lora: { r: 4, alpha: 8 },
      data: { train: late.train, test: late.test }, train: { epochs: 1, batchSize: 8, lr: 3e-3, seed: 1 }, eval: { everyEpoch: false, maxNewTokens: 4 }, runtime: { threads: 1 },
    });
    const student = {
      method: 'fine-tune-cot', format: 'ft-cot', answerType: 'yes-no', task: 'coin_flip', model: { kind: 'fresh', layers: 1, dim: 16, heads: 2, seed: 0 },
      data: { train: COIN_FLIP, trainSplit: 'train', test: COIN_FLIP, testSplit: 'test', trainLimit: 8, testLimit: 2 }, train: { epochs: 1, batchSize: 8 }, runtime: { threads: 1 },
    };
    expect(fs.existsSync(COIN_FLIP)).toBe(true);
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await page.goto(server.url);
    await eventually(() => page.locator('h1').textContent()).toBe('Library');
    const coconut = {
      method: 'coconut', thoughts: 'continuous', model: { kind: 'fresh', layers: 1, dim: 32, heads: 2, seed: 0 }, data: mult,
      train: { epochs: 2, batchSize: 16, lr: 3e-3, seed: 1 }, curriculum: { thoughtsPerStep: 2, epochsPerStage: 1, cotEpochs: 1, maxLatentStage: 1 },
      eval: { batchSize: 8, speedExamples: 4 }, runtime: { threads: 1 },
    };
    const queued = [['icot-si', icot], ['lora', adapters('lora')], ['bitune', adapters('bitune')], ['fine-tune-cot', student], ['coconut', coconut]] as const;
    // Every method the lab lists is among them.
    expect(queued.map(([m]) => m).sort()).toEqual((await callApi<{ items: { id: string }[] }>(server, 'methods.list', {})).items.map((m) => m.id).sort());
    for (const [method, config] of queued) {
      const run = await callApi<Run>(server, 'runs.create', { method, name: `queued ${method}`, config });
      expect(run.status).toBe('queued');
      await page.goto(`${server.origin}/#/runs/${run.id}`);
      await eventually(() => page.locator('h1').textContent()).toBe(`queued ${method}`);
      const start = page.getByRole('group', { name: 'Run controls' }).getByRole('button', { name: 'Start' });
      expect(await start.isEnabled()).toBe(true);
      await start.click();
      await expect.poll(() => page.locator('.facts .badge').textContent(), { timeout: 120_000 }).toBe('completed');
    }
  });
});
