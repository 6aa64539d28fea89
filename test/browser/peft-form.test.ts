/**
 * The New run form's fine-tuning type for Bitune and LoRA runs: LoRA by
 * default (and then the stored config is as it always was, with no `peft`);
 * DoRA, IA3 or full fine-tuning stored as the config's `peft`, shown in the
 * command line's config; rank, alpha and dropout asked only of LoRA and DoRA,
 * and the float16 base only of the adapter types.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import type { Dataset, Run } from '../../src-main/contract/index.ts';
import { writeLateTask } from '../bitune/late-task.ts';
import { assertRendererBuilt, callApi, eventually, launchBrowser, startServer, type Browser, type Server } from './harness.ts';

let server: Server;
let browser: Browser;
let page: Page;
let dataset: Dataset;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-peft-form-'));
const problems: string[] = [];

beforeAll(async () => {
  assertRendererBuilt();
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  const files = writeLateTask(tmp, { train: 16, valid: 0, test: 4 });
  dataset = await callApi<Dataset>(server, 'datasets.import', { path: files.train, name: 'late task', split: 'train', format: 'jsonl' });
  await page.goto(server.url);
  await page.locator('h1').waitFor();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function newRun(method: 'bitune' | 'lora', name: string): Promise<Locator> {
  await page.goto(`${server.origin}/#/runs`);
  await page.reload(); // a new form
  await eventually(() => page.locator('h1').textContent()).toBe('Runs');
  await page.getByRole('button', { name: 'New run' }).click();
  const dialog = page.getByRole('dialog', { name: 'New run' });
  await dialog.locator(`input[name="method"][value="${method}"]`).check();
  await dialog.getByLabel('Dataset', { exact: true }).selectOption(String(dataset.id));
  await dialog.getByLabel('Name', { exact: true }).fill(name);
  return dialog;
}

async function created(dialog: Locator, name: string): Promise<Run> {
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();
  await dialog.waitFor({ state: 'hidden' });
  await eventually(() => page.locator('table[aria-label="Runs"] tbody tr').filter({ hasText: name }).count()).toBe(1);
  const run = (await callApi<{ items: Run[] }>(server, 'runs.list', {})).items.find((r) => r.name === name);
  if (!run) throw new Error(`no run named ${name}`);
  return run;
}

describe('the fine-tuning type in the New run form', () => {
  test('LoRA is the default and stores no peft; DoRA under Bitune is stored as peft "dora" and shown in the command line', async () => {
    let dialog = await newRun('bitune', 'bitune lora');
    const type = dialog.getByLabel('Fine-tuning type', { exact: true });
    expect(await type.inputValue()).toBe('lora');
    const plain = await created(dialog, 'bitune lora');
    expect((plain.config as { peft?: string }).peft).toBeUndefined();

    dialog = await newRun('bitune', 'bitune dora');
    await dialog.getByLabel('Fine-tuning type', { exact: true }).selectOption('dora');
    await dialog.getByLabel('Rank r').fill('4');
    await expect.poll(() => dialog.locator('legend').filter({ hasText: 'Bitune ·' }).textContent()).toBe('Bitune · DoRA');
    await dialog.getByTestId('command').locator('summary').click();
    const cli = JSON.parse((await dialog.getByLabel('CLI config JSON').textContent()) ?? '{}') as { peft?: string };
    expect(cli.peft).toBe('dora');
    const run = await created(dialog, 'bitune dora');
    expect(run.config).toMatchObject({ method: 'bitune', peft: 'dora', lora: { r: 4, alpha: 16, dropout: 0 } });
  });

  test('IA3 asks no rank; full fine-tuning asks neither rank nor targets nor a float16 base, and a LoRA-method run stores peft "full"', async () => {
    const dialog = await newRun('lora', 'lora full');
    const type = dialog.getByLabel('Fine-tuning type', { exact: true });
    await type.selectOption('ia3');
    expect(await dialog.getByLabel('Rank r').count()).toBe(0);
    expect(await dialog.getByLabel('Adapter targets').count()).toBe(1);
    await type.selectOption('full');
    expect(await dialog.getByLabel('Adapter targets').count()).toBe(0);
    expect(await dialog.getByLabel('Base weights').count()).toBe(0);
    const run = await created(dialog, 'lora full');
    expect(run.config).toMatchObject({ method: 'lora', peft: 'full' });
  });

  test('the form logged no console errors', () => {
    expect(problems).toEqual([]);
  });
});
