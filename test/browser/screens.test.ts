// The lab's screens end to end in Chromium against a real `stepwise serve`:
// a dataset generated from the Datasets page, a small run started from the
// New run form and watched (its loss curve gains points; pause holds it,
// resume lets it go on), the runs list's live progress, the Curriculum
// editor's schedule following Δ, Compare listing exactly the settings that
// differ, a GPT-2 folder imported into the Library, and a run config saved
// and loaded. Each screen is kept in test-results/screenshots/.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import { resolve } from 'node:path';
import type { Dataset, Run } from '../../src-main/contract/index.ts';
import { assertRendererBuilt, callApi, eventually, launchBrowser, repoRoot, screenshotPath, startServer, type Browser, type Server } from './harness.ts';

const GPT2_TINY = resolve(repoRoot, '../shared/reference/gpt2-tiny');

let server: Server;
let browser: Browser;
let page: Page;
const problems: string[] = [];

const api = <T>(name: string, input?: unknown) => callApi<T>(server, name, input);

async function open(hash: string): Promise<void> {
  const url = `${server.origin}/${hash}`;
  if (page.url() === url) await page.reload();
  else await page.goto(url);
  await page.locator('h1').waitFor();
}

const squash = (s: string | null) => (s ?? '').replace(/\s+/g, ' ').trim();

async function shoot(name: string): Promise<void> {
  await page.screenshot({ path: screenshotPath(name) });
}

/** The points of a chart's first line (its figure found by caption), as drawn. */
async function plotted(figure: string, line = 0): Promise<number> {
  const path = page.locator('figure').filter({ has: page.locator('figcaption .key', { hasText: new RegExp(`^${figure}$`) }) }).locator('path.series').nth(line);
  return Number((await path.getAttribute('data-points')) ?? -1);
}

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

describe('a dataset, a run watched live, and its place in the lab', () => {
  let runId: number;

  test('Datasets generates 2×2 multiplication and counts its splits', async () => {
    await open('#/datasets');
    await page.getByRole('button', { name: 'Generate multiplication…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Generate multiplication' });
    await dialog.getByLabel('Digits (first)').fill('2');
    await dialog.getByLabel('Digits (second)').fill('2');
    await dialog.getByLabel('Train examples').fill('64');
    await dialog.getByLabel('Valid examples').fill('8');
    await dialog.getByLabel('Test examples').fill('8');
    await dialog.getByLabel('Seed').fill('5');
    await dialog.getByRole('button', { name: 'Generate', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    const card = page.getByRole('article', { name: '2×2 multiplication' });
    await card.waitFor();
    expect(squash(await card.textContent())).toContain('train 64 · valid 8 · test 8');
    await eventually(() => card.getByTestId('dataset-usage').textContent()).toContain('Not used by any run yet');
  });

  test('New run starts a small ICoT-SI run; its loss curve gains points while the page watches', async () => {
    await open('#/runs');
    await page.getByRole('button', { name: 'New run' }).click();
    const dialog = page.getByRole('dialog', { name: 'New run' });
    await eventually(() => dialog.getByLabel('Dataset', { exact: true }).locator('option:checked').textContent()).toContain('2×2 multiplication');
    await dialog.getByLabel('Name', { exact: true }).fill('watched 2×2 run');
    await dialog.getByLabel('Layers').fill('1');
    await dialog.getByLabel('Width').fill('32');
    await dialog.getByLabel('Heads').fill('2');
    await dialog.getByLabel('Epochs', { exact: true }).fill('2000');
    await dialog.getByLabel('Batch size').fill('16');
    await dialog.getByLabel('Learning rate').fill('0.001');
    expect(await dialog.getByLabel('Execution provider').inputValue()).toBe('cpu');
    // Every hyperparameter says what it does.
    expect(await dialog.locator('#nr-lr-hint').textContent()).toContain('AdamW');
    await shoot('screens-new-run');
    await dialog.getByRole('button', { name: 'Create and start' }).click();
    await eventually(() => page.locator('h1').textContent()).toBe('watched 2×2 run');
    runId = Number(/#\/runs\/(\d+)/.exec(page.url())![1]);

    await eventually(() => plotted('loss')).toBeGreaterThan(5);
    const first = await plotted('loss');
    await eventually(() => plotted('loss')).toBeGreaterThan(first + 10);
    // The raw curve is drawn faded behind the smoothed one, and the schedule against the second axis.
    const loss = page.locator('figure').filter({ has: page.locator('figcaption .key', { hasText: /^loss$/ }) });
    expect(await loss.locator('path.raw').count()).toBe(1);
    expect(await loss.locator('path.series').nth(1).getAttribute('data-label')).toBe('scheduled_removal');
    expect(squash(await loss.locator('svg').textContent())).toContain('cross-entropy (nats)');
    await page.getByLabel('Loss smoothing').fill('0');
    await eventually(() => loss.locator('path.raw').count()).toBe(0);
    await shoot('screens-run-live');
  });

  test('the runs list shows the running run with a progress bar, ETA and tokens/s', async () => {
    await open('#/runs');
    const row = page.locator('table[aria-label="Runs"] tbody tr').filter({ hasText: 'watched 2×2 run' });
    await eventually(() => row.getByTestId('run-progress').textContent()).toMatch(/step [\d,]+ \/ 8,000/);
    expect(await row.getByRole('progressbar').count()).toBe(1);
    await eventually(async () => (await row.locator('td').nth(6).textContent())?.trim()).toMatch(/^[\d,]+$/); // tokens/s
    await eventually(async () => (await row.locator('td').nth(5).textContent())?.trim()).toMatch(/\d+ (s|min \d+ s|h \d+ min)$/); // ETA
    await shoot('screens-runs-live');
  });

  test('Pause holds the loss curve; Resume lets it gain points again; Cancel stops it', async () => {
    await open(`#/runs/${runId}`);
    const controls = page.getByRole('group', { name: 'Run controls' });
    await eventually(() => plotted('loss')).toBeGreaterThan(0);
    await controls.getByRole('button', { name: 'Pause' }).click();
    await eventually(() => page.getByTestId('progress-text').textContent()).toMatch(/^\s*Paused at step/);
    let held = await plotted('loss');
    await eventually(async () => {
      const before = held;
      await page.waitForTimeout(700);
      held = await plotted('loss');
      return held === before;
    }).toBe(true);
    await shoot('screens-run-paused');
    await controls.getByRole('button', { name: 'Resume' }).click();
    await eventually(() => plotted('loss')).toBeGreaterThan(held + 5);
    await controls.getByRole('button', { name: 'Cancel' }).click();
    await eventually(() => page.locator('.facts .badge').textContent()).toBe('cancelled');
    // Keyboard: the focused chart reads out the value at each step.
    const lossPlot = page.locator('figure').filter({ has: page.locator('figcaption .key', { hasText: /^loss$/ }) }).locator('.plot');
    await lossPlot.focus();
    await page.keyboard.press('Home');
    const tip = lossPlot.locator('.tip');
    await eventually(() => tip.locator('.tip-head').textContent()).toBe('step 1');
    await page.keyboard.press('ArrowRight');
    await eventually(() => tip.locator('.tip-head').textContent()).toBe('step 2');
    expect(squash(await tip.textContent())).toMatch(/loss \(smoothed\)\s?[\d.]+\s?scheduled_removal\s?\d+/);
    await shoot('screens-run-readout');
    // Validation ran at each epoch's end: accuracy is plotted per epoch.
    const perEpoch = page.locator('figure').filter({ has: page.locator('figcaption .key', { hasText: /^val_accuracy$/ }) });
    expect(squash(await perEpoch.locator('svg').textContent())).toContain('epoch');
    expect(await plotted('val_accuracy')).toBeGreaterThan(0);
  });

  test('the dataset names the run that used it', async () => {
    await open('#/datasets');
    const card = page.getByRole('article', { name: '2×2 multiplication' });
    await eventually(async () => squash(await card.getByTestId('dataset-usage').textContent())).toBe('Used by 1 run: watched 2×2 run');
    await shoot('screens-datasets');
  });

  test('Curriculum: changing Δ changes the plotted schedule, and the example loses tokens as training goes on', async () => {
    await open('#/curriculum');
    const editor = page.getByRole('region', { name: 'Schedule editor' });
    const summary = editor.getByTestId('schedule-summary');
    // 64 examples at the default batch size 32: 2 batches an epoch; Δ 8 → one more token every batch.
    await eventually(async () => squash(await summary.textContent())).toContain('2 batches per epoch · one more token every batch');
    await editor.getByLabel('Batch size').fill('4'); // 16 batches an epoch
    await eventually(async () => squash(await summary.textContent())).toContain('16 batches per epoch · one more token every 2 batches');
    const pointsAt = () => plotted('CoT tokens remaining');
    await eventually(pointsAt).toBeGreaterThan(0);
    const atEight = await pointsAt();
    const cot = (await editor.getByTestId('example-sequence').locator('del, .kept').count());

    await editor.getByLabel('Δ tokens per epoch').fill('2');
    await eventually(async () => squash(await summary.textContent())).toContain('one more token every 8 batches');
    await eventually(pointsAt).not.toBe(atEight);
    // Token k goes at batch 8k + 1 of 16 an epoch: slower removal, the CoT lasts longer.
    expect(squash(await summary.textContent())).toContain(`all ${cot} CoT tokens gone by epoch ${((8 * cot + 1) / 16).toFixed(1)}`);

    await editor.getByLabel('Training progress (epochs)', { exact: true }).fill('0');
    await eventually(() => editor.getByTestId('example-sequence').locator('del').count()).toBe(0);
    await editor.getByLabel('Training progress (epochs)', { exact: true }).fill('2');
    // Batch 32: tokens went at batches 9, 17 and 25.
    await eventually(() => editor.getByTestId('example-sequence').locator('del').count()).toBe(Math.min(cot, 3));
    expect(squash(await editor.getByTestId('example-caption').textContent())).toContain(`Batch 32 of 160: ${Math.min(cot, 3)} of ${cot} CoT tokens removed from the left`);
    await editor.getByLabel('Removal side').selectOption('right');
    await eventually(() => editor.getByTestId('example-sequence').locator('del').last().evaluate((el) => el.nextElementSibling?.className ?? '')).toContain('sep');
    await shoot('screens-curriculum');

    // A hold schedule: the spans where validation decides are marked on the chart and said in words.
    expect(await editor.getByTestId('validation-note').count()).toBe(0);
    await editor.getByRole('checkbox', { name: 'Hold below validation %' }).check();
    await editor.getByLabel('Hold below validation accuracy (%), or a schedule').fill('0: 50, 2: 25');
    await eventually(async () => squash(await editor.getByTestId('validation-note').textContent())).toMatch(
      /^Validation decides the schedule where marked: from epoch 0\.0 \(0 removed\) to epoch [\d.]+ the removal waits while validation is below 50%; from epoch [\d.]+ \(2 removed\) to epoch [\d.]+ the removal waits while validation is below 25%\./,
    );
    expect(await editor.getByTestId('chart-band').count()).toBe(2);
    await editor.getByLabel('Hold below validation accuracy (%), or a schedule').fill('2: 25');
    await eventually(() => editor.getByRole('alert').textContent()).toBe('the schedule starts at 0 tokens, e.g. "0: 50, 37: 25"');
    await shoot('screens-curriculum-hold');
  });

  test('Compare lists exactly the settings that differ, draws runs against a chosen x and accuracy against speed', async () => {
    const [dataset] = (await api<{ items: Dataset[] }>('datasets.list')).items;
    const config = (lr: number, delta: number) => ({
      recipe: 'icot-si',
      model: { kind: 'fresh', layers: 1, dim: 32, heads: 2, seed: 0 },
      data: { train: `${dataset!.path}/train.txt`, valid: `${dataset!.path}/valid.txt` },
      train: { epochs: 3, batchSize: 16, lr },
      curriculum: { removePerEpoch: delta, smoothingLambda: 4 },
    });
    await api<Run>('runs.create', { method: 'icot-si', name: 'lr 1e-3, Δ 8', config: config(1e-3, 8) });
    await api<Run>('runs.create', { method: 'icot-si', name: 'lr 3e-4, Δ 4', config: config(3e-4, 4) });
    await open('#/compare');
    await page.getByLabel('lr 1e-3, Δ 8').check();
    await page.getByLabel('lr 3e-4, Δ 4').check();
    const table = page.locator('table[aria-label="Selected runs compared"]');
    await table.waitFor();
    expect(await table.locator('tr.differs th').allTextContents()).toEqual(['curriculum.removePerEpoch', 'train.lr']);
    expect((await table.locator('tr.differs').filter({ hasText: 'train.lr' }).locator('td').allTextContents()).map((t) => t.trim())).toEqual(['0.0003', '0.001']);
    await page.getByLabel('Show the 11 settings that are the same').check();
    expect(await table.locator('tbody tr:not(.section) th[scope="row"]').count()).toBe(2 + 13); // method, status, 13 settings

    // The watched run against wall time, CoT tokens removed and epochs; its validations against speed.
    await page.getByLabel('lr 1e-3, Δ 8').uncheck();
    await page.getByLabel('lr 3e-4, Δ 4').uncheck();
    await page.getByLabel('watched 2×2 run').check();
    await eventually(() => plotted('loss')).toBeGreaterThan(10);
    for (const [axis, label] of [['wall', 'wall time (s)'], ['removed', 'CoT tokens removed'], ['epoch', 'epoch']] as const) {
      await page.getByLabel('x-axis').selectOption(axis);
      const loss = page.locator('.charts figure').filter({ has: page.locator('figcaption .key', { hasText: /^loss$/ }) });
      await eventually(() => loss.locator('text.axis-label').first().textContent()).toBe(label);
      expect(await plotted('loss')).toBeGreaterThan(10);
    }
    const tradeOff = page.getByRole('region', { name: 'Accuracy against speed' });
    const validations = (await api<{ series: { key: string; steps: number[] }[] }>('runs.metrics', { runId, keys: ['val_accuracy'] })).series[0]!.steps.length;
    expect(await tradeOff.locator('circle.point').count()).toBe(validations);
    await shoot('screens-compare');
    await page.emulateMedia({ colorScheme: 'dark' });
    await shoot('screens-compare-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });
});

describe('Library and saved configs', () => {
  test('Library imports a GPT-2 folder by its path and shows its architecture, size and provenance', async () => {
    await open('#/library');
    await page.getByRole('button', { name: 'Import model…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Import a model' });
    await dialog.getByRole('textbox', { name: /^Folder/ }).fill(resolve(GPT2_TINY, 'nowhere'));
    await dialog.getByRole('button', { name: 'Import', exact: true }).click();
    await eventually(() => dialog.getByRole('alert').textContent()).toContain('no such folder');
    await dialog.getByRole('textbox', { name: /^Folder/ }).fill(GPT2_TINY);
    await dialog.getByRole('button', { name: 'Import', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    const rows = page.locator('table[aria-label="Models"] tbody tr').filter({ hasText: 'gpt2-tiny' });
    await eventually(() => rows.count()).toBe(1);
    const cells = (await rows.locator('td').allTextContents()).map((t) => t.trim());
    expect(cells.slice(0, 4)).toEqual(['gpt2-tiny', 'gpt2 · 2 layers · 4 heads · width 32', '27,136', `Imported from ${GPT2_TINY}`]);
    expect(await page.getByRole('status').filter({ hasText: 'Imported gpt2-tiny' }).count()).toBe(1);
    // The watched run's checkpoints are there too, with the model they hold.
    const saved = page.locator('table[aria-label="Checkpoints of runs"] tbody tr');
    await eventually(() => saved.count()).toBeGreaterThan(0);
    const first = (await saved.first().locator('td').allTextContents()).map((t) => t.trim());
    expect(first[0]).toMatch(/^watched 2×2 run #\d+$/);
    expect(first[2]).toBe('gpt2 · 1 layer · 2 heads · width 32');
    expect(first[3]).toMatch(/^[\d,]+$/);
    // In a browser there is no file manager to show it in.
    expect(await page.getByRole('button', { name: /Show .* in its folder/ }).count()).toBe(0);
    await shoot('screens-library');
  });

  test('New run saves its config under a name, loads it back, and shows the equivalent stepwise train command', async () => {
    await open('#/runs');
    await page.getByRole('button', { name: 'New run' }).click();
    const dialog = page.getByRole('dialog', { name: 'New run' });
    await eventually(() => dialog.getByLabel('Dataset', { exact: true }).inputValue()).not.toBe('');
    await dialog.getByLabel('Epochs', { exact: true }).fill('7');
    await dialog.getByLabel('Δ tokens per epoch').fill('12');
    await dialog.getByLabel('Save as').fill('Δ 12 for a week');
    await dialog.getByRole('button', { name: 'Save config' }).click();
    await eventually(() => dialog.getByRole('status').filter({ hasText: 'Saved as' }).textContent()).toContain('Saved as “Δ 12 for a week”.');

    await dialog.getByLabel('Epochs', { exact: true }).fill('1');
    await dialog.getByLabel('Δ tokens per epoch').fill('3');
    const saved = (await api<{ items: { id: number; name: string }[] }>('configs.list')).items.find((c) => c.name === 'Δ 12 for a week')!;
    await dialog.getByLabel('Load a configuration').selectOption(`saved:${saved.id}`);
    await eventually(() => dialog.getByLabel('Epochs', { exact: true }).inputValue()).toBe('7');
    expect(await dialog.getByLabel('Δ tokens per epoch').inputValue()).toBe('12');

    await dialog.getByTestId('command').locator('summary').click();
    const json = JSON.parse((await dialog.getByLabel('CLI config JSON').textContent()) ?? '{}') as { data: { train: string }; train: { epochs: number } };
    expect(json.data.train).toMatch(new RegExp(`^${server.dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/datasets/\\d+/train\\.txt$`));
    expect(json.train.epochs).toBe(7);
    expect(await dialog.locator('pre.command').textContent()).toContain(`npx stepwise train run-config.json --name`);
    expect(await dialog.locator('pre.command').textContent()).toContain(`--data-dir ${server.dataDir}`);
    await shoot('screens-new-run-command');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
  });

  test('the screens logged no console errors', () => {
    expect(problems).toEqual([]);
  });
});
