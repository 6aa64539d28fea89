// A Library model's detail pane, in Chromium through `stepwise serve`: two
// real tiny runs (explicit CoT, then ICoT-SI from its model) give a chain of
// provenance; the pane shows the architecture, that chain back to the new
// model, the runs that started from a model, evaluates it on a dataset's
// split with progress, and fills New run to continue training it.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Dataset, Model, Run } from '../../src-main/contract/entities.ts';
import { callApi, eventually, screenshotPath, startApp, type Server } from './harness.ts';

let server: Server;
let page: Page;
let stop: () => Promise<void>;
let cotModel: Model;
let silentModel: Model;
let cotRun: Run;
let silentRun: Run;

async function finished(s: Server, id: number): Promise<Run> {
  for (;;) {
    const run = await callApi<Run>(s, 'runs.get', { id });
    if (run.status !== 'running' && run.status !== 'queued') return run;
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  ({ server, page, stop } = await startApp(async (s) => {
    const d = await callApi<Dataset>(s, 'datasets.generateMult', { digitsA: 2, digitsB: 2, counts: { train: 64, valid: 8, test: 8 }, seed: 7, name: '2×2 tiny' });
    const config = (recipe: string, model: object) => ({
      recipe, model, data: { train: `${d.path}/train.txt`, valid: `${d.path}/valid.txt`, test: `${d.path}/test.txt` },
      train: { epochs: 2, batchSize: 16, lr: 1e-3 }, curriculum: { removePerEpoch: 8 }, eval: { batchSize: 8 }, runtime: { threads: 1 },
    });
    cotRun = await finished(s, (await callApi<Run>(s, 'runs.start', { method: 'icot-si', name: 'tiny explicit CoT', config: config('cot', { kind: 'fresh', layers: 1, dim: 32, heads: 2, seed: 1 }) })).id);
    cotModel = (await callApi<{ items: Model[] }>(s, 'models.list', {})).items.find((m) => m.runId === cotRun.id)!;
    silentRun = await finished(s, (await callApi<Run>(s, 'runs.start', { method: 'icot-si', name: 'tiny ICoT-SI', config: { ...config('icot-si', { kind: 'folder', path: cotModel.path }), train: { epochs: 3, batchSize: 16, lr: 1e-3 } }, parentRunId: cotRun.id })).id);
    silentModel = (await callApi<{ items: Model[] }>(s, 'models.list', {})).items.find((m) => m.runId === silentRun.id)!;
  }));
}, 180_000);

afterAll(() => stop?.());

const squash = (s: string | null) => (s ?? '').replace(/\s+/g, ' ').trim();

describe('a model\'s detail pane', () => {
  test('shows its architecture and where it came from, back to the new model', async () => {
    expect([cotRun.status, silentRun.status]).toEqual(['completed', 'completed']);
    await page.goto(`${server.origin}/#/library`);
    await page.getByRole('link', { name: silentModel.name }).click();
    await eventually(() => page.locator('h1').textContent()).toBe(silentModel.name);
    expect(squash(await page.getByTestId('model-facts').textContent())).toMatch(/^Shape gpt2 · 1 layers · 2 heads · width 32 · \d+ tokens · \d+ positions Parameters [\d,.]+\w? On disk .+ Folder runs\/\d+\/best Added .+$/);
    const chain = (await page.getByRole('list', { name: 'Provenance' }).locator('li').allTextContents()).map(squash);
    expect(chain).toEqual([
      expect.stringMatching(/^trained by ICoT-SI in run “tiny ICoT-SI” at step \d+$/),
      `model “${cotModel.name}”`,
      expect.stringMatching(/^trained by Explicit CoT in run “tiny explicit CoT” at step \d+$/),
      'from a new model (1 layers × 32, seed 1)',
    ]);
    await page.screenshot({ path: screenshotPath('model-detail') });
  });

  test('lists the runs that started from a model', async () => {
    await page.goto(`${server.origin}/#/library/${cotModel.id}`);
    const used = page.getByRole('list', { name: 'Runs that started from this model' });
    await eventually(async () => (await used.locator('li a').allTextContents()).map(squash)).toEqual(['tiny ICoT-SI']);
  });

  test('evaluates it on a dataset\'s split, and the predictions stay with its run', async () => {
    await page.goto(`${server.origin}/#/library/${silentModel.id}`);
    const form = page.getByRole('form', { name: 'Evaluate this model' });
    await form.getByLabel('Split').selectOption('test');
    await form.getByRole('button', { name: 'Evaluate' }).click();
    await eventually(async () => squash(await page.getByTestId('evaluation-result').textContent()), 60_000).toMatch(
      new RegExp(`^\\d+\\.\\d% right \\(\\d of 8\\), [\\d.]+ examples/s at batch 16; predictions kept with run #${silentRun.id} as “eval:2×2 tiny:test”\\.$`),
    );
    const stored = await callApi<{ total: number }>(server, 'runs.predictions', { runId: silentRun.id, split: 'eval:2×2 tiny:test' });
    expect(stored.total).toBe(8);
  });

  test('Continue training opens New run from the run that made it, starting from this model', async () => {
    await page.goto(`${server.origin}/#/library/${silentModel.id}`);
    await page.getByRole('button', { name: 'Continue training…' }).click();
    const dialog = page.getByRole('dialog', { name: 'New run' });
    await dialog.waitFor();
    await eventually(() => dialog.getByLabel('Start from', { exact: true }).inputValue()).toBe(String(silentModel.id));
    expect(await dialog.getByRole('radio', { name: /^ICoT-SI/ }).isChecked()).toBe(true);
    expect(await dialog.getByLabel('Epochs', { exact: true }).inputValue()).toBe('3');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
  });
});
