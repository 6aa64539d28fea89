// New run's Coconut section (issue 21): its curriculum in the paper's terms and
// a preview, computed by the trainer's own code, of which reasoning steps each
// stage makes continuous; the shipped preset fills it.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { eventually, startApp, type Server } from './harness.ts';

let server: Server;
let page: Page;
let stop: () => Promise<void>;

beforeAll(async () => {
  ({ server, page, stop } = await startApp());
}, 90_000);

afterAll(() => stop?.());

describe('New run: Coconut', () => {
  test('the curriculum preview shows each stage’s epochs, thoughts and continuous steps, and follows the fields', async () => {
    await page.goto(`${server.origin}/#/runs`);
    await page.getByRole('button', { name: 'New run' }).click();
    const dialog = page.getByRole('dialog', { name: 'New run' });
    await dialog.getByRole('radio', { name: /^Coconut Chain of continuous thought/ }).check();
    const table = dialog.getByRole('table', { name: 'Coconut stages' });
    const rows = () => table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(0, 3).map((td) => td.textContent!.trim()).join(' | ') + ' | ' + [...tr.querySelectorAll('td.latent')].length));
    // The paper's defaults on a 4×4 product's 4 steps: 3 CoT epochs, then 3 per stage, c = 2.
    await eventually(rows).toEqual(['0 | 1–3 | 0 | 0', '1 | 4–6 | 2 | 1', '2 | 7–9 | 4 | 2', '3 | 10–12 | 6 | 3', '4 | 13–15 | 6 | 4']);
    expect(await table.locator('thead th').allTextContents()).toEqual(['Stage', 'Epochs', 'Thoughts', 'Step 1', 'Step 2', 'Step 3', 'Step 4']);
    await dialog.getByLabel('c thoughts per step').fill('1');
    await dialog.getByLabel('Epochs per stage').fill('2');
    await eventually(rows).toEqual(['0 | 1–3 | 0 | 0', '1 | 4–5 | 1 | 1', '2 | 6–7 | 2 | 2', '3 | 8–9 | 3 | 3', '4 | 10–11 | 3 | 4']);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
  });

  test('the shipped 4×4 preset fills the Coconut section', async () => {
    await page.goto(`${server.origin}/#/runs`);
    await page.getByRole('button', { name: 'New run' }).click();
    const dialog = page.getByRole('dialog', { name: 'New run' });
    await dialog.getByLabel('Load a configuration').selectOption({ label: '4×4 Coconut: continuous thoughts replace the CoT one step per stage (small, CPU)' });
    await eventually(() => dialog.getByLabel('Epochs per stage').inputValue()).toBe('2');
    expect([await dialog.getByLabel('c thoughts per step').inputValue(), await dialog.getByLabel('CoT epochs').inputValue(), await dialog.getByLabel('Latent stages').inputValue()]).toEqual(['1', '2', '3']);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
  });
});
