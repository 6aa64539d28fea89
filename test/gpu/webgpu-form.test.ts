/**
 * A run on WebGPU from the New run form, through the UI only: the provider is offered (named a
 * software adapter on SwiftShader), the run is created and started on it, trains to the end, and
 * its run.json names the adapter.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Run } from '../../src-main/contract/entities.ts';
import { assertRendererBuilt, callApi, eventually, launchBrowser, screenshotPath, startServer, type Browser, type Server } from '../browser/harness.ts';
import { WEBGPU } from '../fixtures/providers.ts';

let server: Server;
let browser: Browser;

beforeAll(async () => {
  if (!WEBGPU) return;
  assertRendererBuilt();
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe.skipIf(!WEBGPU)('WebGPU from the New run form', () => {
  test('an ICoT-SI run created and started on webgpu trains to the end on the adapter found', async () => {
    await callApi(server, 'datasets.generateMult', { digitsA: 2, digitsB: 2, counts: { train: 32, valid: 4, test: 4 }, seed: 3, name: '2×2 for the GPU' });
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await page.goto(server.url);
    await eventually(() => page.locator('h1').textContent()).toBe('Library');
    await page.goto(`${server.origin}/#/runs`);
    await page.getByRole('button', { name: 'New run' }).click();
    const dialog = page.getByRole('dialog', { name: 'New run' });
    await dialog.waitFor();
    await eventually(() => dialog.locator('#nr-provider option[value="webgpu"]').textContent()).toBe('webgpu (software adapter)');
    await dialog.getByLabel('Execution provider').selectOption('webgpu');
    await dialog.getByLabel('Name').fill('on the GPU from the form');
    await dialog.getByLabel('Layers').fill('1');
    await dialog.getByLabel('Width').fill('32');
    await dialog.getByLabel('Heads').fill('2');
    await dialog.getByLabel('Epochs', { exact: true }).fill('1');
    await page.screenshot({ path: screenshotPath('new-run-webgpu') });
    await dialog.getByRole('button', { name: 'Create and start' }).click();
    await eventually(() => page.locator('h1').textContent()).toBe('on the GPU from the form');
    await expect.poll(() => page.locator('.facts .badge').textContent(), { timeout: 120_000 }).toBe('completed');
    const runs = await callApi<{ items: Run[] }>(server, 'runs.list', {});
    const run = runs.items.find((r) => r.name === 'on the GPU from the form')!;
    expect(run.config).toMatchObject({ runtime: { provider: 'webgpu' } });
    const runJson = JSON.parse(fs.readFileSync(path.join(server.dataDir, 'runs', String(run.id), 'run.json'), 'utf8'));
    expect(runJson.device).toMatchObject({ provider: 'webgpu', adapter: { found: true, software: true } });
  });
});
