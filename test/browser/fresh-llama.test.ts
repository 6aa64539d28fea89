/**
 * The New run form offers a new Llama-family model beside a new GPT-2: the
 * Family field, KV heads shown for a Llama only, the stored config's
 * `model.family` and `kvHeads` (a GPT-2's model stays as it always was), and
 * Save / Load and Command line carrying them.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import type { Dataset, Run } from '../../src-main/contract/index.ts';
import { assertRendererBuilt, callApi, eventually, launchBrowser, screenshotPath, startServer, type Browser, type Server } from './harness.ts';

let server: Server;
let browser: Browser;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  assertRendererBuilt();
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(server.url);
  await page.locator('h1').waitFor();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** Creates the form's run (queued: it joins the runs list) and answers it as stored. */
async function created(dialog: Locator, name: string): Promise<Run> {
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();
  await dialog.waitFor({ state: 'hidden' });
  await eventually(() => page.locator('table[aria-label="Runs"] tbody tr').filter({ hasText: name }).count()).toBe(1);
  const run = (await callApi<{ items: Run[] }>(server, 'runs.list', {})).items.find((r) => r.name === name);
  if (!run) throw new Error(`no run named ${name}`);
  return run;
}

describe('a new Llama-family model from the New run form', () => {
  test('Family Llama with KV heads is stored as model.family and kvHeads, round-trips through Save and Load, and reaches the command line', async () => {
    await callApi<Dataset>(server, 'datasets.generateMult', { digitsA: 2, digitsB: 2, counts: { train: 32, valid: 8, test: 8 }, seed: 3, name: '2×2' });
    await page.goto(`${server.origin}/#/runs`);
    await eventually(() => page.locator('h1').textContent()).toBe('Runs');
    await page.getByRole('button', { name: 'New run' }).click();
    const dialog = page.getByRole('dialog', { name: 'New run' });
    await eventually(() => dialog.getByLabel('Dataset', { exact: true }).inputValue()).not.toBe('');
    await dialog.getByLabel('Name', { exact: true }).fill('llama 2×2');

    // GPT-2 is the default, and asks no KV heads.
    const family = dialog.getByLabel('Family');
    expect(await family.inputValue()).toBe('gpt2');
    expect(await dialog.getByLabel('KV heads').count()).toBe(0);
    // The Llama option is there once the lab has said what ICoT-SI trains.
    await eventually(() => family.locator('option[value="llama"]').isEnabled()).toBe(true);
    expect(await family.locator('option[value="llama"]').textContent()).toBe('Llama (Llama, Qwen2, SmolLM shape)');

    await family.selectOption('llama');
    await dialog.getByLabel('Layers').fill('1');
    await dialog.getByLabel('Width').fill('32');
    await dialog.getByLabel('Heads', { exact: true }).fill('4');
    const kv = dialog.getByLabel('KV heads');
    expect(await kv.getAttribute('placeholder')).toBe('4');
    await kv.fill('2');
    await dialog.getByLabel('Epochs', { exact: true }).fill('1');
    await dialog.getByLabel('Batch size').fill('16');
    await page.screenshot({ path: screenshotPath('new-run-llama') });

    // Saved, changed, loaded back: the family and KV heads return.
    await dialog.getByLabel('Save as').fill('llama gqa');
    await dialog.getByRole('button', { name: 'Save config' }).click();
    await eventually(() => dialog.getByRole('status').filter({ hasText: 'Saved as' }).textContent()).toContain('Saved as “llama gqa”.');
    const saved = (await callApi<{ items: { id: number; name: string; config: { model: unknown } }[] }>(server, 'configs.list')).items.find((c) => c.name === 'llama gqa')!;
    expect(saved.config.model).toEqual({ kind: 'fresh', family: 'llama', layers: 1, dim: 32, heads: 4, kvHeads: 2, seed: 0 });
    await family.selectOption('gpt2');
    expect(await dialog.getByLabel('KV heads').count()).toBe(0);
    await dialog.getByLabel('Load a configuration').selectOption(`saved:${saved.id}`);
    await eventually(() => family.inputValue()).toBe('llama');
    expect(await dialog.getByLabel('KV heads').inputValue()).toBe('2');

    await dialog.getByTestId('command').locator('summary').click();
    const cli = JSON.parse((await dialog.getByLabel('CLI config JSON').textContent()) ?? '{}') as { model: unknown };
    expect(cli.model).toEqual({ kind: 'fresh', family: 'llama', layers: 1, dim: 32, heads: 4, kvHeads: 2, seed: 0 });

    // Emptied, KV heads is left out: as many as heads.
    await dialog.getByLabel('KV heads').fill('');
    const run = await created(dialog, 'llama 2×2');
    expect(run.status).toBe('queued');
    expect((run.config as { model: unknown }).model).toEqual({ kind: 'fresh', family: 'llama', layers: 1, dim: 32, heads: 4, seed: 0 });
  });

  test('a GPT-2 from the form stores the model as before: no family, no kvHeads', async () => {
    await page.goto(`${server.origin}/#/runs`);
    await page.reload(); // a new form
    await eventually(() => page.locator('h1').textContent()).toBe('Runs');
    await page.getByRole('button', { name: 'New run' }).click();
    const dialog = page.getByRole('dialog', { name: 'New run' });
    await eventually(() => dialog.getByLabel('Dataset', { exact: true }).inputValue()).not.toBe('');
    await dialog.getByLabel('Name', { exact: true }).fill('gpt2 2×2');
    expect(await dialog.getByLabel('Family').inputValue()).toBe('gpt2');
    const run = await created(dialog, 'gpt2 2×2');
    expect((run.config as { model: unknown }).model).toEqual({ kind: 'fresh', layers: 4, dim: 128, heads: 4, seed: 0 });
  });

  test('the form logged no console errors', () => {
    expect(problems).toEqual([]);
  });
});
