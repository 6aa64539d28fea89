// The Curriculum editor is not a sandbox: "Use in a new run" opens New run
// with the schedule just edited (and the editor's dataset and epochs), ready
// to create, in Chromium through `stepwise serve`.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Dataset, Run } from '../../src-main/contract/entities.ts';
import { callApi, eventually, startApp, type Server } from './harness.ts';

let server: Server;
let page: Page;
let stop: () => Promise<void>;
let dataset: Dataset;

beforeAll(async () => {
  ({ server, page, stop } = await startApp(async (s) => {
    dataset = await callApi<Dataset>(s, 'datasets.generateMult', { digitsA: 2, digitsB: 2, counts: { train: 64, valid: 16, test: 0 }, seed: 0, name: 'small 2×2' });
  }));
}, 90_000);

afterAll(() => stop?.());

describe('the Curriculum editor', () => {
  test('Use in a new run opens New run with the edited schedule, which Create stores', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.origin}/#/curriculum`);
    const editor = page.locator('section.editor');
    await editor.getByLabel('Δ tokens per epoch').fill('2');
    await editor.getByLabel('Epochs', { exact: true }).fill('5');
    await editor.getByRole('checkbox', { name: 'Hold below validation %' }).check();
    await editor.getByLabel('Hold below validation accuracy (%), or a schedule').fill('0: 50, 6: 25');
    await editor.getByRole('button', { name: 'Use in a new run…' }).click();
    const dialog = page.getByRole('dialog', { name: 'New run' });
    await dialog.waitFor();
    await eventually(() => dialog.getByLabel('Δ tokens per epoch').inputValue()).toBe('2');
    expect(await dialog.getByLabel('Hold below validation accuracy (%)').inputValue()).toBe('0: 50, 6: 25');
    expect(await dialog.getByLabel('Epochs', { exact: true }).inputValue()).toBe('5');
    await eventually(() => dialog.locator('.saved-note').textContent()).toBe('Loaded “the schedule editor”.');
    await dialog.getByLabel('Name', { exact: true }).fill('from the editor');
    await dialog.getByRole('button', { name: 'Create', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(errors).toEqual([]);
    const runs = await callApi<{ items: Run[] }>(server, 'runs.list', {});
    const created = runs.items.find((r) => r.name === 'from the editor')!;
    expect(created.config).toMatchObject({
      recipe: 'icot-si',
      data: { train: `${dataset.path}/train.txt`, valid: `${dataset.path}/valid.txt` },
      train: { epochs: 5 },
      curriculum: { removePerEpoch: 2, holdBelow: [[0, 0.5], [6, 0.25]] },
    });
  });
});
