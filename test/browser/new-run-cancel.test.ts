// New run's Cancel (and Escape) discard what was typed: the next New run starts
// from the defaults, not from the invalid values of an abandoned one. The
// defaults match the hints: a new model's learning rate is 1e-3, and Generate
// multiplication starts with a 2×2 set that takes seconds.
import fs from 'node:fs';
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

describe('New run', () => {
  test('Cancel and Escape discard the form: reopened, it holds the defaults again', async () => {
    await page.goto(`${server.origin}/#/runs`);
    const dialog = page.getByRole('dialog', { name: 'New run' });
    const lr = dialog.getByLabel('Learning rate');
    const name = dialog.getByLabel('Name', { exact: true });
    await page.getByRole('button', { name: 'New run' }).click();
    // A new model starts at 1e-3, as the field's hint says small new models like.
    await eventually(() => lr.inputValue()).toBe('0.001');
    const defaultLr = await lr.inputValue();
    for (const leave of ['Cancel', 'Escape'] as const) {
      await name.fill('abandoned draft');
      await lr.fill('0');
      await dialog.getByLabel('Layers').fill('97');
      if (leave === 'Cancel') await dialog.getByRole('button', { name: 'Cancel' }).click();
      else await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      await page.getByRole('button', { name: 'New run' }).click();
      await eventually(() => name.inputValue()).toBe('');
      expect(await lr.inputValue()).toBe(defaultLr);
      expect(await dialog.getByLabel('Layers').inputValue()).not.toBe('97');
    }
  });

  test('Generate multiplication starts small (2×2, 7,000 / 200 / 200) and offers the paper\'s sizes', async () => {
    await page.goto(`${server.origin}/#/datasets`);
    await page.getByRole('button', { name: /Generate multiplication/ }).first().click();
    const dialog = page.getByRole('dialog', { name: /multiplication/i });
    expect(await dialog.getByLabel('Digits (first)').inputValue()).toBe('2');
    expect(await dialog.getByLabel('Train examples').inputValue()).toBe('7000');
    expect(await dialog.textContent()).toContain('2×2 has 8,100 distinct problems');
    await dialog.getByRole('button', { name: 'Use the paper’s sizes' }).click();
    expect([await dialog.getByLabel('Train examples').inputValue(), await dialog.getByLabel('Valid examples').inputValue(), await dialog.getByLabel('Test examples').inputValue()]).toEqual(['808000', '1000', '1000']);
  });

  test('Load offers the shipped presets by what they reproduce; one fills the form and says to choose the dataset', async () => {
    await page.goto(`${server.origin}/#/runs`);
    await page.getByRole('button', { name: 'New run' }).click();
    const dialog = page.getByRole('dialog', { name: 'New run' });
    const load = dialog.getByLabel('Load a configuration');
    const shipped = (JSON.parse(fs.readFileSync(new URL('../../resources/configs/presets.json', import.meta.url), 'utf8')) as unknown[]).length;
    await eventually(() => load.locator('optgroup[label="Presets (resources/configs)"] option').count()).toBe(shipped);
    const title = "4×4 ICoT-SI on 2 CPU cores (the paper's 4×4 result with no CoT; hours)";
    await load.selectOption({ label: title });
    await eventually(() => dialog.locator('.saved-note').textContent()).toBe(`Loaded “${title}”; it trains on data/4x4/train.txt, not a library dataset: choose the dataset below.`);
    expect(await dialog.getByLabel('Δ tokens per epoch').inputValue()).toBe('1');
    expect(await dialog.getByLabel('Removal side').inputValue()).toBe('right');
    expect(await dialog.getByLabel('Width').inputValue()).toBe('96');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
  });
});
