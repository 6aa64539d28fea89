// Datasets are named and removed from the Datasets page, in Chromium through
// `stepwise serve`: a rename to a name already taken is refused beside the
// dataset (in words, without the call's name), a rename to a free one sticks,
// and Delete asks first, then removes it, unless a queued run still trains on it.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Dataset } from '../../src-main/contract/entities.ts';
import { callApi, eventually, startApp, storeRun, type Server } from './harness.ts';

let server: Server;
let page: Page;
let stop: () => Promise<void>;
let a: Dataset;
let b: Dataset;

beforeAll(async () => {
  ({ server, page, stop } = await startApp(async (s) => {
    const counts = { train: 20, valid: 5, test: 5 };
    a = await callApi<Dataset>(s, 'datasets.generateMult', { digitsA: 2, digitsB: 2, counts, seed: 0, name: 'first set' });
    b = await callApi<Dataset>(s, 'datasets.generateMult', { digitsA: 2, digitsB: 2, counts, seed: 1, name: 'second set' });
  }));
}, 90_000);

afterAll(() => stop?.());

const titles = () => page.locator('article.dataset h2').allTextContents();

describe('managing datasets', () => {
  test('Rename refuses a name already taken, naming the holder, and keeps a free one', async () => {
    await page.goto(`${server.origin}/#/datasets`);
    await eventually(titles).toEqual(['second set', 'first set']);
    await page.getByRole('button', { name: 'Rename second set' }).click();
    const field = page.getByLabel('New name of second set');
    await field.fill('First Set');
    await page.getByRole('button', { name: 'Save' }).click();
    const alert = page.locator('article.dataset').first().getByRole('alert');
    await eventually(() => alert.textContent()).toContain(`there is already a dataset named “first set” (dataset ${a.id})`);
    expect(await alert.textContent()).not.toContain('datasets.update');
    await field.fill('2×2, seed 1');
    await page.getByRole('button', { name: 'Save' }).click();
    await eventually(titles).toEqual(['2×2, seed 1', 'first set']);
  });

  test('Delete asks first; a dataset a queued run trains on stays, one no run needs goes', async () => {
    storeRun(server, { method: 'icot-si', name: 'waits on the first set', config: { recipe: 'cot', data: { train: `${a.path}/train.txt` } } });
    await page.goto(`${server.origin}/#/datasets`);
    await eventually(titles).toEqual(['2×2, seed 1', 'first set']);
    await page.getByRole('button', { name: 'Delete first set' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete dataset' }).click();
    const alert = page.locator('article.dataset').nth(1).getByRole('alert');
    await eventually(() => alert.textContent()).toContain('“waits on the first set” (queued) can still train on “first set”');
    expect(await titles()).toEqual(['2×2, seed 1', 'first set']);
    await page.getByRole('button', { name: 'Delete 2×2, seed 1' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete dataset' }).click();
    await eventually(titles).toEqual(['first set']);
    expect((await callApi<{ items: Dataset[] }>(server, 'datasets.list', {})).items.map((d) => d.id)).toEqual([a.id]);
    expect(b.id).not.toBe(a.id);
  });
});
