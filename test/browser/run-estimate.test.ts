// Estimates before the work, in Chromium through `stepwise serve`: New run
// shows the run's parameters, memory and steps as the form changes, measures
// its time on request, asks before a large run and refuses one that cannot
// fit. The server is told its machine has 64 MiB (STEPWISE_MACHINE_MEMORY), so
// the form's default model (4 × 128, about 40 MiB to train) is a large run.
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Run } from '../../src-main/contract/entities.ts';
import { callApi, eventually, screenshotPath, startApp, type Server } from './harness.ts';

let server: Server;
let page: Page;
let stop: () => Promise<void>;
let dialog: Locator;

beforeAll(async () => {
  ({ server, page, stop } = await startApp(async (s) => {
    await callApi(s, 'datasets.generateMult', { digitsA: 2, digitsB: 2, counts: { train: 64, valid: 8, test: 8 }, seed: 7, name: '2×2 tiny' });
  }, { STEPWISE_MACHINE_MEMORY: String(64 * 1024 ** 2) }));
  await page.goto(`${server.origin}/#/runs`);
  await page.getByRole('button', { name: 'New run' }).click();
  dialog = page.getByRole('dialog', { name: 'New run' });
  await dialog.waitFor();
}, 90_000);

afterAll(() => stop?.());

const text = async (id: string) => ((await dialog.getByTestId(id).textContent()) ?? '').replace(/\s+/g, ' ').trim();

describe('New run estimates the run before it runs', () => {
  test('a small model: its parameters, memory and steps, and its time once measured', async () => {
    await dialog.getByLabel('Layers').fill('1');
    await dialog.getByLabel('Width').fill('32');
    await dialog.getByLabel('Heads').fill('2');
    await dialog.getByLabel('Epochs', { exact: true }).fill('3');
    await dialog.getByLabel('Batch size', { exact: true }).fill('16');
    await eventually(() => text('estimate-steps')).toMatch(/^12 \(each a batch of up to \d+ tokens\)$/);
    expect(await text('estimate-parameters')).toMatch(/^1\d,\d{3}, all trained$/);
    expect(await text('estimate-memory')).toMatch(/^about [\d.]+ (KiB|MiB) of this machine’s 64(\.0)? MiB \(weights .+, optimizer .+, activations .+\)$/);
    expect(await dialog.getByTestId('estimate-verdict').count()).toBe(0);
    await dialog.getByRole('button', { name: 'Measure time' }).click();
    await eventually(() => text('estimate-time'), 60_000).toMatch(/^about \d+ s of training \(\d+ ms a step, measured: 2 steps of batch 16 × \d+ tokens on cpu, after a warm-up step\)$/);
  });

  test('a large one is created only after the user agrees, with the reason', async () => {
    await dialog.getByLabel('Layers').fill('4');
    await dialog.getByLabel('Width').fill('128');
    await dialog.getByLabel('Heads').fill('4');
    await eventually(() => text('estimate-verdict')).toMatch(/^Large run: it needs about \d+ MiB of this machine's 64 MiB of memory\.$/);
    await dialog.getByTestId('estimate-verdict').scrollIntoViewIfNeeded();
    await page.screenshot({ path: screenshotPath('new-run-estimate-large') });
    await dialog.getByLabel('Name').fill('large 4 × 128');
    await dialog.getByRole('button', { name: 'Create', exact: true }).click();
    const ask = page.getByRole('dialog', { name: 'This is a large run' });
    await ask.waitFor();
    expect(await ask.textContent()).toContain("it needs about");
    expect((await callApi<{ total: number }>(server, 'runs.list', {})).total).toBe(0);
    await ask.getByRole('button', { name: 'Create it' }).click();
    await eventually(async () => (await callApi<{ items: Run[] }>(server, 'runs.list', {})).items.map((r) => [r.name, r.status])).toEqual([['large 4 × 128', 'queued']]);
  });

  test('one that cannot fit is refused before anything is made, naming what it needs', async () => {
    await page.getByRole('button', { name: 'New run' }).click();
    await dialog.waitFor();
    await dialog.getByLabel('Layers').fill('8');
    await dialog.getByLabel('Width').fill('256');
    await eventually(() => text('estimate-problem')).toMatch(/^No estimate yet: the run cannot start: this run cannot train here: a new model of 8 layers × 256 has 6 million parameters; training it needs at least \d+ MiB of memory for its weights and optimizer state, and this machine has 64 MiB\. Use fewer layers or a smaller width\.$/);
    await dialog.getByLabel('Name').fill('too large');
    await dialog.getByRole('button', { name: 'Create', exact: true }).click();
    await eventually(() => dialog.getByRole('alert').textContent()).toContain('a new model of 8 layers × 256 has 6 million parameters');
    expect((await callApi<{ total: number }>(server, 'runs.list', {})).total).toBe(1);
  });

  test('a shape the server refuses is named beside its field, in the field\'s words, and nothing is made', async () => {
    // The form as the last test left it, open.
    await dialog.getByLabel('Layers').fill('1');
    await dialog.getByLabel('Width').fill('65');
    await dialog.getByLabel('Heads').fill('4');
    await dialog.getByLabel('Name').fill('odd width');
    await dialog.getByRole('button', { name: 'Create', exact: true }).click();
    const width = dialog.locator('.field').filter({ has: page.locator('label[for="nr-dim"]') });
    await eventually(() => width.getByTestId('field-error').textContent()).toBe('dim must be divisible by heads, and (Llama only) heads by kvHeads');
    expect(await dialog.getByRole('alert').textContent()).not.toContain('runs.');
    expect((await callApi<{ total: number }>(server, 'runs.list', {})).total).toBe(1);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
  });
});
