// New run's Cancel (and Escape) discard what was typed: the next New run starts
// from the defaults, not from the invalid values of an abandoned one.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { assertRendererBuilt, eventually, launchBrowser, startServer, type Browser, type Server } from './harness.ts';

let server: Server;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  assertRendererBuilt();
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
  await page.goto(server.url);
  await page.locator('h1', { hasText: 'Library' }).waitFor();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('New run', () => {
  test('Cancel and Escape discard the form: reopened, it holds the defaults again', async () => {
    await page.goto(`${server.origin}/#/runs`);
    const dialog = page.getByRole('dialog', { name: 'New run' });
    const lr = dialog.getByLabel('Learning rate');
    const name = dialog.getByLabel('Name', { exact: true });
    await page.getByRole('button', { name: 'New run' }).click();
    const defaultLr = await lr.inputValue();
    expect(Number(defaultLr)).toBeGreaterThan(0);
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
});
