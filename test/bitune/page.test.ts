// The Bitune page in Chromium through `stepwise serve`: the results table
// groups LoRA and Bitune runs by base, data and budget with the accuracies
// their runs stored (and files evaluated later with stepwise eval), and the α chart draws one line per layer. The runs'
// rows are written straight into the store (training is test/bitune/learning.test.ts's).
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DATABASE_FILE } from '../../src-main/services/paths.ts';
import { openStore } from '../../src-main/store/store.ts';
import { assertRendererBuilt, launchBrowser, screenshotPath, startServer, type Browser, type Server } from '../browser/harness.ts';

let server: Server;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  assertRendererBuilt();
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
  const store = openStore(join(server.dataDir, DATABASE_FILE));
  try {
    const base = { model: { kind: 'fresh', layers: 2, dim: 64 }, data: { train: '/data/late/train.jsonl' }, train: { epochs: 6, batchSize: 16 } };
    const lora = store.runs.create({ method: 'lora', name: 'LoRA late-task', config: { method: 'lora', ...base } });
    const bitune = store.runs.create({ method: 'bitune', name: 'Bitune late-task', config: { method: 'bitune', ...base, bitune: { ablation: 'full', sInit: 0.01 } } });
    for (const run of [lora, bitune]) store.runs.setStatus(run.id, 'completed');
    for (let step = 1; step <= 4; step++) {
      store.metrics.record(lora.id, step, { loss: 3 - step / 4 });
      store.metrics.record(bitune.id, step, { loss: 3 - step / 3, alpha_k_0: 0.5 + step / 20, alpha_v_0: 0.5 - step / 20, alpha_k_1: 0.5, alpha_v_1: 0.5 + step / 40 });
    }
    store.metrics.record(lora.id, 4, { test_accuracy: 0.43, 'mc_acc.choices': 0.42, 'mc_acc_norm.choices': 0.41 });
    store.metrics.record(bitune.id, 4, { test_accuracy: 0.415, 'mc_acc.choices': 0.4, 'mc_acc_norm.choices': 0.39, 'eval_acc.gsm': 0.2 }); // eval_acc: from stepwise eval after training
  } finally {
    store.close();
  }
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('the Bitune page', () => {
  test('shows LoRA against Bitune in one group, with stored accuracies, and α per layer over training', async () => {
    await page.goto(`${server.url}#/bitune`);
    const table = page.locator('table.results');
    await table.waitFor();
    expect(await table.count()).toBe(1);
    expect(await table.locator('caption').innerText()).toBe('fresh 2×64 · late/train.jsonl · 6 epochs × batch 16');
    const rows = table.locator('tbody tr');
    expect(await rows.count()).toBe(2);
    const cells = async (i: number) => (await rows.nth(i).locator('td').allInnerTexts()).map((t) => t.trim());
    const [first, second] = [await cells(0), await cells(1)];
    expect((await table.locator('thead th').allInnerTexts()).map((t) => t.trim())).toEqual(['Run', 'Method', 'Variant', 'Steps', 'Test accuracy', 'gsm accuracy', 'choices acc', 'choices acc_norm', 'Final α (keys)']);
    expect(first.slice(1, 9)).toEqual(['LoRA', '—', '4', '43.0%', '—', '42.0%', '41.0%', '—']);
    expect(second.slice(1, 9)).toEqual(['Bitune', 'full, s_init 0.01, bidirectional', '4', '41.5%', '20.0%', '40.0%', '39.0%', '0.70 · 0.50']);
    const charts = page.locator('section[aria-labelledby="bitune-alpha"] svg path.series');
    await charts.first().waitFor();
    expect(await charts.count()).toBe(4); // two layers × (keys, values)
    await page.screenshot({ path: screenshotPath('bitune-page'), fullPage: true });
  });
});
