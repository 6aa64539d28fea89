// The Bitune page in Chromium through `stepwise serve`: the results table
// groups LoRA and Bitune runs that differ only in method or seed with the accuracies
// their runs stored (and files evaluated later with stepwise eval), summarises each
// method over its seeds and the paired difference from LoRA, and the α chart draws one
// line per layer. The runs' rows are written straight into the store (training is
// test/bitune/learning.test.ts's).
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DATABASE_FILE } from '../../src-main/services/paths.ts';
import { openStore } from '../../src-main/store/store.ts';
import { assertRendererBuilt, eventually, launchBrowser, screenshotPath, startServer, type Browser, type Server } from '../browser/harness.ts';

let server: Server;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  assertRendererBuilt();
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
  const store = openStore(join(server.dataDir, DATABASE_FILE));
  try {
    const base = (seed: number) => ({ model: { kind: 'fresh', layers: 2, dim: 64, seed }, lora: { seed }, data: { train: '/data/late/train.jsonl' }, train: { epochs: 6, batchSize: 16, seed } });
    const lora = store.runs.create({ method: 'lora', name: 'LoRA late-task', config: { method: 'lora', ...base(1) } });
    const bitune = store.runs.create({ method: 'bitune', name: 'Bitune late-task', config: { method: 'bitune', ...base(1), bitune: { ablation: 'full', sInit: 0.01 } } });
    for (const run of [lora, bitune]) store.runs.setStatus(run.id, 'completed');
    for (let step = 1; step <= 4; step++) {
      store.metrics.record(lora.id, step, { loss: 3 - step / 4 });
      store.metrics.record(bitune.id, step, { loss: 3 - step / 3, alpha_k_0: 0.5 + step / 20, alpha_v_0: 0.5 - step / 20, alpha_k_1: 0.5, alpha_v_1: 0.5 + step / 40 });
    }
    store.metrics.record(lora.id, 4, { test_accuracy: 0.43, 'mc_acc.choices': 0.42, 'mc_acc_norm.choices': 0.41 });
    store.metrics.record(bitune.id, 4, { test_accuracy: 0.415, 'mc_acc.choices': 0.4, 'mc_acc_norm.choices': 0.39, 'eval_acc.gsm': 0.2 }); // eval_acc: from stepwise eval after training
    // Seeds 2 and 3 of both: Bitune 2 to 4 points above LoRA on each.
    for (const [seed, l, b] of [[2, 0.3, 0.33], [3, 0.38, 0.42]]) {
      const runs = [store.runs.create({ method: 'lora', name: `LoRA seed ${seed}`, config: { method: 'lora', ...base(seed) } }), store.runs.create({ method: 'bitune', name: `Bitune seed ${seed}`, config: { method: 'bitune', ...base(seed) } })];
      runs.forEach((run, i) => {
        store.runs.setStatus(run.id, 'completed');
        store.metrics.record(run.id, 4, { loss: 2, test_accuracy: i === 0 ? l : b, 'mc_acc.choices': i === 0 ? l : b + 0.1 });
      });
    }
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
    expect(await rows.count()).toBe(6);
    const cells = async (i: number) => (await rows.nth(i).locator('td').allInnerTexts()).map((t) => t.trim());
    expect((await table.locator('thead th').allInnerTexts()).map((t) => t.trim())).toEqual(['Run', 'Method', 'PEFT', 'Variant', 'Seed', 'Steps', 'Test accuracy', 'gsm accuracy', 'choices acc', 'choices acc_norm', 'Final α (keys)']);
    // LoRA first, then Bitune, each by seed.
    expect((await cells(0)).slice(1, 11)).toEqual(['LoRA', 'lora', '—', '1', '4', '43.0%', '—', '42.0%', '41.0%', '—']);
    expect((await cells(3)).slice(1, 11)).toEqual(['Bitune', 'lora', 'full, s_init 0.01, bidirectional', '1', '4', '41.5%', '20.0%', '40.0%', '39.0%', '0.70 · 0.50']);
    expect((await cells(5)).slice(1, 5)).toEqual(['Bitune', 'lora', 'full, s_init 0.01, bidirectional', '3']);

    // Each method over its three seeds, and Bitune − LoRA paired by seed (−1.5, +3, +4 points): with three seeds the interval is their range.
    const text = async (selector: string) => Promise.all((await page.locator(selector).all()).map(async (row) => (await row.locator('th, td').allInnerTexts()).map((t) => t.trim())));
    expect(await text('table.stats:not(.paired) tr')).toEqual([
      ['Test accuracy over seeds', 'Seeds', 'Mean', 'SD', 'Min … max', '95% bootstrap CI'],
      ['LoRA', '3', '37.0%', '6.6', '30.0% … 43.0%', '[30.0%, 43.0%]'],
      ['Bitune', '3', '38.8%', '5.1', '33.0% … 42.0%', '[33.0%, 42.0%]'],
    ]);
    expect(await text('table.stats.paired tr')).toEqual([
      ['Paired difference (points)', 'Seeds', 'Mean', 'SD', 'Min … max', '95% bootstrap CI', 'Higher / lower', 'Verdict'],
      ['Bitune − LoRA', '3', '+1.8', '2.9', '−1.5 … +4.0', '[−1.5, +4.0]', '2 / 1', 'interval includes 0'],
    ]);
    // Another metric over seeds: multiple-choice acc (−2, +13, +14 points).
    await page.getByRole('combobox', { name: 'Metric over seeds' }).selectOption({ label: 'choices acc' });
    await eventually(() => text('table.stats.paired tbody tr')).toEqual([['Bitune − LoRA', '3', '+8.3', '9.0', '−2.0 … +14.0', '[−2.0, +14.0]', '2 / 1', 'interval includes 0']]);
    const charts = page.locator('section[aria-labelledby="bitune-alpha"] svg path.series');
    await charts.first().waitFor();
    expect(await charts.count()).toBe(4); // two layers × (keys, values)
    await page.screenshot({ path: screenshotPath('bitune-page'), fullPage: true });
  });
});
