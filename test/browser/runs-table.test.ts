// The Runs table as a lab notebook, in Chromium through `stepwise serve`:
// metric columns with each run's last value, sorting by any of them,
// filtering by name, method, status and tag, tags edited on the run's page,
// and the ticked runs opened in Compare, whose state (runs, x-axis, smoothing)
// lives in the URL. The runs' rows are written straight into the store.
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DATABASE_FILE } from '../../src-main/services/paths.ts';
import { openStore } from '../../src-main/store/store.ts';
import { callApi, eventually, startApp, storeRun, type Server } from './harness.ts';

let server: Server;
let page: Page;
let stop: () => Promise<void>;
const ids: Record<string, number> = {};

beforeAll(async () => {
  ({ server, page, stop } = await startApp((s) => {
    const store = openStore(join(s.dataDir, DATABASE_FILE));
    try {
      const seeds: [string, string, number, string[]][] = [
        ['Δ=8 seed 0', 'icot-si', 0.75, ['sweep']],
        ['Δ=8 seed 1', 'icot-si', 0.5, ['sweep']],
        ['lora baseline', 'lora', 0.9, ['baseline']],
      ];
      for (const [name, method, accuracy, tags] of seeds) {
        const run = store.runs.create({ method, name, config: { train: { lr: accuracy } } });
        store.runs.setStatus(run.id, 'completed');
        store.runs.update(run.id, { tags });
        for (let step = 1; step <= 6; step++) store.metrics.record(run.id, step, { loss: 3 - step / 3 + (step % 2) * 0.4 });
        store.metrics.record(run.id, 6, { val_accuracy: accuracy });
        ids[name] = run.id;
      }
    } finally {
      store.close();
    }
  }));
}, 90_000);

afterAll(() => stop?.());

const rows = () => page.locator('table[aria-label="Runs"] tbody tr');
const names = async () => (await rows().locator('td.name a').allTextContents()).map((t) => t.trim());

describe('the runs table', () => {
  test('shows each run\'s last val_accuracy in a metric column and sorts by it', async () => {
    await page.goto(`${server.origin}/#/runs`);
    await eventually(() => rows().count()).toBe(3);
    expect(await names()).toEqual(['lora baseline', 'Δ=8 seed 1', 'Δ=8 seed 0']); // newest first
    await eventually(async () => (await rows().locator('td[data-metric="val_accuracy"]').allTextContents()).map((t) => t.trim())).toEqual(['0.9', '0.5', '0.75']);
    const header = page.getByRole('columnheader', { name: /val_accuracy/ });
    await header.getByRole('button').click();
    expect(await header.getAttribute('aria-sort')).toBe('descending');
    expect(await names()).toEqual(['lora baseline', 'Δ=8 seed 0', 'Δ=8 seed 1']);
    await header.getByRole('button').click();
    expect(await header.getAttribute('aria-sort')).toBe('ascending');
    expect(await names()).toEqual(['Δ=8 seed 1', 'Δ=8 seed 0', 'lora baseline']);
    // A column the user adds: the last loss, kept for the next visit.
    await page.locator('.columns-picker summary').click();
    await page.locator('.columns-picker').getByRole('checkbox', { name: /^loss/ }).check();
    // The column shows "—" until the table has fetched the runs' last values.
    const losses = async () => (await rows().locator('td[data-metric="loss"]').allTextContents()).map((t) => t.trim());
    await eventually(losses).toEqual(['1', '1', '1']);
    await page.reload();
    await eventually(losses).toEqual(['1', '1', '1']);
  });

  test('filters by tag, method, status and a text in the name', async () => {
    await page.goto(`${server.origin}/#/runs`);
    await eventually(() => rows().count()).toBe(3);
    await page.getByLabel('Filter by tag').selectOption('sweep');
    await eventually(() => names()).toEqual(['Δ=8 seed 1', 'Δ=8 seed 0']);
    await page.getByLabel('Filter by tag').selectOption('');
    await page.getByLabel('Filter by method').selectOption('lora');
    await eventually(() => names()).toEqual(['lora baseline']);
    await page.getByLabel('Filter by method').selectOption('');
    await page.getByLabel('Filter by status').selectOption('failed');
    await eventually(() => page.getByRole('status').filter({ hasText: 'No run matches these filters.' }).count()).toBe(1);
    await page.getByLabel('Filter by status').selectOption('');
    await page.getByLabel('Filter by name').fill('SEED 1');
    await eventually(() => names()).toEqual(['Δ=8 seed 1']);
    await page.getByLabel('Filter by name').fill('');
    await eventually(() => rows().count()).toBe(3);
    // A tag on a row filters by it.
    await rows().filter({ hasText: 'lora baseline' }).getByRole('button', { name: 'baseline' }).click();
    await eventually(() => names()).toEqual(['lora baseline']);
    expect(await page.getByLabel('Filter by tag').inputValue()).toBe('baseline');
  });

  test('tags are edited on the run\'s page, and the table filters by the new one', async () => {
    await page.goto(`${server.origin}/#/runs/${ids['Δ=8 seed 0']}`);
    const tags = page.getByRole('textbox', { name: 'Tags' });
    await eventually(() => tags.inputValue()).toBe('sweep');
    await tags.fill('sweep, best so far, sweep');
    await page.getByRole('button', { name: 'Save' }).click();
    await eventually(() => page.getByRole('status').filter({ hasText: 'Saved.' }).count()).toBe(1);
    await page.goto(`${server.origin}/#/runs`);
    await eventually(() => page.getByLabel('Filter by tag').locator('option').allTextContents()).toContain('best so far (1)');
    await page.getByLabel('Filter by tag').selectOption('best so far');
    await eventually(() => names()).toEqual(['Δ=8 seed 0']);
    expect(await rows().first().locator('.tag').allTextContents()).toEqual(['sweep', 'best so far']);
  });

  test('ticked runs open in Compare; its runs, x-axis and smoothing are in the URL and survive a reload', async () => {
    await page.goto(`${server.origin}/#/runs`);
    await page.getByLabel('Filter by tag').selectOption('');
    await eventually(() => rows().count()).toBe(3);
    await page.getByRole('checkbox', { name: 'Select Δ=8 seed 0 to compare' }).check();
    await page.getByRole('checkbox', { name: 'Select lora baseline to compare' }).check();
    const open = page.getByRole('link', { name: 'Compare selected (2)' });
    await open.click();
    await eventually(() => page.locator('h1').textContent()).toBe('Compare');
    const compared = page.locator('table[aria-label="Selected runs compared"] thead th.run');
    await eventually(() => compared.allTextContents()).toEqual(['lora baseline', 'Δ=8 seed 0']); // newest first, as everywhere
    expect(decodeURIComponent(new URL(page.url()).hash)).toBe(`#/compare/${[ids['Δ=8 seed 0'], ids['lora baseline']].join(',')}`);

    await page.getByLabel('Smoothing (debiased moving average)').fill('0.6');
    await eventually(() => decodeURIComponent(new URL(page.url()).hash)).toMatch(/\/smooth=0\.6$/);
    // Each run's loss is drawn raw (faded) and smoothed.
    const loss = page.locator('.charts figure').filter({ has: page.locator('figcaption .key', { hasText: /^loss$/ }) });
    await eventually(() => loss.locator('path.raw').count()).toBe(2);
    expect(await loss.locator('path.series').count()).toBe(2);

    await page.reload();
    await eventually(() => compared.count()).toBe(2);
    expect(await page.getByLabel('Smoothing (debiased moving average)').inputValue()).toBe('0.6');
    // Unticking a run leaves the URL.
    await page.getByRole('group', { name: 'Runs' }).getByRole('checkbox').first().uncheck();
    await eventually(() => compared.count()).toBe(1);
    await eventually(() => decodeURIComponent(new URL(page.url()).hash).split('/')[2]!.split(',').length).toBe(1);
  });

  test('a run is named by what its config is: an ICoT-SI run with recipe "cot" is Explicit CoT, "nocot" is No CoT', async () => {
    storeRun(server, { method: 'icot-si', name: 'explicit baseline', config: { recipe: 'cot' } });
    storeRun(server, { method: 'icot-si', name: 'no-CoT baseline', config: { recipe: 'nocot' } });
    await page.goto(`${server.origin}/#/runs`);
    await eventually(() => rows().count()).toBe(5);
    const method = async (name: string) => (await rows().filter({ hasText: name }).locator('td').nth(2).textContent())?.trim();
    expect(await method('explicit baseline')).toBe('Explicit CoT');
    expect(await method('no-CoT baseline')).toBe('No CoT');
    expect(await method('lora baseline')).toBe('LoRA');
  });
});
