/**
 * The New run form's No CoT with the running-sum loss, in Chromium against a real `stepwise serve`:
 * off by default (the stored config has no runningSum); ticked, its fields are stored as the
 * config's `runningSum` and shown in the command line's config (reading back: aux-form.test.ts).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import type { Dataset, Run } from '../../src-main/contract/index.ts';
import { assertRendererBuilt, callApi, eventually, launchBrowser, startServer, type Browser, type Server } from '../browser/harness.ts';

let server: Server;
let browser: Browser;
let page: Page;
let dataset: Dataset;

beforeAll(async () => {
  assertRendererBuilt();
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
  dataset = await callApi<Dataset>(server, 'datasets.generateMult', { digitsA: 2, digitsB: 2, counts: { train: 64, valid: 8, test: 8 }, seed: 1, name: '2×2 multiplication' });
  await page.goto(server.url); // the launch token, once
  await page.locator('h1').waitFor();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

async function newNoCot(name: string): Promise<Locator> {
  await page.goto(`${server.origin}/#/runs`);
  await page.reload();
  await eventually(() => page.locator('h1').textContent()).toBe('Runs');
  await page.getByRole('button', { name: 'New run' }).click();
  const dialog = page.getByRole('dialog', { name: 'New run' });
  await dialog.locator('input[name="method"][value="nocot"]').check();
  await dialog.getByLabel('Dataset', { exact: true }).selectOption(String(dataset.id));
  await dialog.getByLabel('Name', { exact: true }).fill(name);
  return dialog;
}

/** Creates the run (not started) and answers it as stored. */
async function created(dialog: Locator, name: string): Promise<Run> {
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();
  await dialog.waitFor({ state: 'hidden' });
  await eventually(async () => (await callApi<{ items: Run[] }>(server, 'runs.list', {})).items.some((r) => r.name === name)).toBe(true);
  return (await callApi<{ items: Run[] }>(server, 'runs.list', {})).items.find((r) => r.name === name)!;
}

describe('No CoT with the running-sum loss in the New run form', () => {
  test('off by default; ticked, what the probe reads, its layer, positions, λ and L2 are stored as runningSum and shown in the command line', async () => {
    let dialog = await newNoCot('plain no cot');
    expect(await dialog.getByLabel('Add the running-sum auxiliary loss').isChecked()).toBe(false);
    const plain = await created(dialog, 'plain no cot');
    expect(plain.config).toMatchObject({ recipe: 'nocot' });
    expect((plain.config as { runningSum?: unknown }).runningSum).toBeUndefined();

    dialog = await newNoCot('no cot + running sum');
    await dialog.getByLabel('Add the running-sum auxiliary loss').check();
    await dialog.getByLabel('Probe reads').selectOption('residual');
    await dialog.getByLabel('The last layer').uncheck();
    await dialog.getByLabel('Probe layer').fill('1');
    await dialog.getByLabel('Positions').selectOption('before-digit');
    await dialog.getByLabel('Loss weight λ').fill('10');
    await dialog.getByLabel('Probe L2').fill('0.001');
    await dialog.getByTestId('command').locator('summary').click();
    const cli = JSON.parse((await dialog.getByLabel('CLI config JSON').textContent()) ?? '{}') as { runningSum?: unknown };
    const expected = { read: 'residual', layer: 1, at: 'before-digit', weight: 10, l2: 0.001 };
    expect(cli.runningSum).toEqual(expected);
    const run = await created(dialog, 'no cot + running sum');
    expect(run.config).toMatchObject({ recipe: 'nocot', runningSum: expected });
  });
});
