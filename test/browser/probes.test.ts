// Probes, end to end in Chromium against a real `stepwise serve`.
//
// The proof: a small GPT-2 trained with explicit CoT on 2×2 multiplication
// (about a minute of CPU) holds, at the position just before a CoT digit,
// that digit: a linear probe reads it on held-out problems far above the
// majority class and the control task, while the same probe on a randomly
// initialised model of the same shape does not. Its heatmap is shown and kept
// (test-results/screenshots/probes-proof-heatmap.png).
//
// Then the page on a tiny ICoT-SI run probed at every checkpoint: hover
// values, colour legend, the slider over training progress beside the CoT
// removed, CSV and PNG export, the logit lens and the attention viewer.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import type { Probe } from '../../src-main/contract/areas/probes.ts';
import type { Run } from '../../src-main/contract/entities.ts';
import { formatLine } from '../../src-main/methods/shared/examples.ts';
import { generateMult } from '../../src-main/methods/icot/mult.ts';
import { tinyConfig, writeTinyMult } from '../services/tiny-run.ts';
import { assertRendererBuilt, callApi, eventually, launchBrowser, screenshotPath, startServer, type Browser, type Server } from './harness.ts';

let server: Server;
let browser: Browser;
let page: Page;
let probe: Probe;
let proof: Probe;
const problems: string[] = [];

const api = <T>(name: string, input?: unknown) => callApi<T>(server, name, input);

async function until<T>(read: () => Promise<T>, done: (x: T) => boolean): Promise<T> {
  for (;;) {
    const x = await read();
    if (done(x)) return x;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Trains a run through the API and waits for its end. */
async function trained(name: string, config: unknown): Promise<Run> {
  const run = await api<Run>('runs.start', { method: 'icot-si', name, config });
  return until(() => api<Run>('runs.get', { id: run.id }), (r) => r.status !== 'running' && r.status !== 'queued');
}

beforeAll(async () => {
  assertRendererBuilt();
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);

  // The proof's model: explicit CoT on 2,400 distinct 2×2 problems, probed on 600 others.
  const dir = join(server.dataDir, 'proof');
  mkdirSync(dir, { recursive: true });
  const lines: Record<string, string[]> = { train: [], valid: [], test: [] };
  for (const { split, example } of generateMult({ digitsA: 2, digitsB: 2, counts: { train: 2400, valid: 50, test: 600 }, seed: 1 })) lines[split].push(formatLine(example));
  for (const [split, ls] of Object.entries(lines)) writeFileSync(join(dir, `${split}.txt`), ls.join('\n') + '\n');
  const cot = await trained('explicit CoT 2×2', {
    recipe: 'cot',
    model: { kind: 'fresh', layers: 2, dim: 128, heads: 4, seed: 0 },
    data: { train: join(dir, 'train.txt'), valid: join(dir, 'valid.txt') },
    // A constant rate after warm-up: a schedule ending at 0 turns never-updated position rows into NaN (see the report).
    train: { epochs: 8, batchSize: 32, lr: 2e-3, warmupSteps: 50, schedule: 'constant', seed: 0 },
    eval: { batchSize: 50, everyEpoch: false },
    runtime: { threads: 2, checkpointEveryEpochs: 8 },
  });
  expect(cot.status).toBe('completed');
  const proofStarted = await api<Probe>('probes.start', {
    name: 'proof: pp0.d1 just before the CoT writes it',
    source: { runId: cot.id, checkpoints: 'best' },
    data: { file: join(dir, 'test.txt') },
    targets: ['pp0.d1'],
    slots: ['eos.0', 'cot.0', 'cot.1'],
    seeds: 3,
  });
  proof = await until(() => api<Probe>('probes.get', { id: proofStarted.id }), (p) => p.status !== 'running');

  const data = await writeTinyMult(join(server.dataDir, 'mult'));
  const run = await trained('tiny 2×2', tinyConfig(data, 3));
  const started = await api<Probe>('probes.start', {
    name: 'tiny across the curriculum',
    source: { runId: run.id, checkpoints: 'all' },
    data: { file: data.train },
    targets: ['pp0.d1', 'pp1.d2'],
    seeds: 2,
  });
  probe = await until(() => api<Probe>('probes.get', { id: started.id }), (p) => p.status !== 'running');
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
  page.on('pageerror', (e) => problems.push(e.message));
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('the proof', () => {
  test('just before the CoT writes pp0.d1, a linear probe reads it far above majority and control; on a random model it does not', async () => {
    expect(proof.status).toBe('completed');
    const r = await api<{ layers: number; slots: string[]; targets: { name: string; cotSlot?: string; cells: ({ score: number; std: number; majority: number; control: number; selectivity: number } | null)[][]; random: ({ score: number; std: number } | null)[][] }[] }>('probes.results', { id: proof.id, point: 0 });
    const t = r.targets[0];
    expect(t.cotSlot).toBe('cot.1'); // pp0.d1 is the CoT's second token; the position before it is cot.0
    const s = r.slots.indexOf('cot.0');
    const last = r.layers - 1;
    const cell = t.cells[last][s]!;
    const random = t.random![last][s]!;
    const f = (x: number) => x.toFixed(3);
    console.log(
      `proof (pp0.d1 at cot.0, layer ${last}, 3 seeds, 600 problems, 20% held out): probe ${f(cell.score)} ± ${f(cell.std)}, majority ${f(cell.majority)}, ` +
        `control ${f(cell.control)}, selectivity ${f(cell.selectivity)}, random model ${f(random.score)} ± ${f(random.std)}`,
    );
    expect(cell.score).toBeGreaterThanOrEqual(0.7);
    expect(cell.score - cell.majority).toBeGreaterThanOrEqual(0.4);
    expect(cell.selectivity).toBeGreaterThanOrEqual(0.4);
    expect(random.score).toBeLessThanOrEqual(0.45);
    expect(cell.score - random.score).toBeGreaterThanOrEqual(0.35);
    // The embeddings alone (layer 0) hold only the token there, not the digit to come.
    expect(t.cells[0][s]!.score).toBeLessThan(cell.score - 0.3);

    await page.goto(`${server.url.split('#')[0]}#/probes/${proof.id}`);
    const heatmap = page.locator('figure.heatmap').first();
    await heatmap.waitFor();
    expect(await heatmap.locator('rect.cell').count()).toBe(r.layers * r.slots.length);
    await heatmap.locator(`rect.cell[data-row="${last}"][data-col="${s}"]`).click();
    const readout = ((await page.getByTestId('heatmap-readout').first().textContent()) ?? '').replace(/\s+/g, ' ');
    expect(readout).toContain(`layer ${last}, cot.0`);
    expect(readout).toContain(`accuracy ${f(cell.score)} ± ${f(cell.std)}`);
    expect(readout).toContain(`random model ${f(random.score)}`);
    await heatmap.screenshot({ path: screenshotPath('probes-proof-heatmap') });
    await page.screenshot({ path: screenshotPath('probes-proof-page'), fullPage: true });
  });
});

describe('Probes page', () => {
  test('the heatmap shows held-out accuracy per layer × position with a legend, hover values and the CoT removed at each checkpoint', async () => {
    expect(probe.status).toBe('completed');
    await page.goto(`${server.url.split('#')[0]}#/probes/${probe.id}`);
    await page.locator('h1').waitFor();
    const heatmap = page.locator('figure.heatmap').first();
    await heatmap.waitFor();
    const results = await api<{ layers: number; slots: string[]; targets: { name: string; cells: ({ score: number } | null)[][] }[] }>('probes.results', { id: probe.id, point: 0 });
    expect(await heatmap.locator('rect.cell').count()).toBe(results.layers * results.slots.length);
    expect(await heatmap.locator('.legend-label').textContent()).toBe('held-out accuracy');
    expect(await heatmap.locator('figcaption .title').textContent()).toContain('pp0.d1');
    // The column where the CoT writes pp0.d1 is outlined, when that point still shows it.
    expect(await heatmap.locator('rect.mark').count()).toBe(results.slots.includes('cot.1') ? 1 : 0);

    // Hover: the readout says the cell's value and its baselines.
    const col = results.slots.indexOf('eos.0');
    await heatmap.locator(`rect.cell[data-row="1"][data-col="${col}"]`).hover();
    const cell = results.targets[0].cells[1][col]!;
    const readout = page.getByTestId('heatmap-readout').first();
    await eventually(async () => (await readout.textContent()) ?? '').toContain(`layer 1, eos.0`);
    const text = ((await readout.textContent()) ?? '').replace(/\s+/g, ' ');
    expect(text).toContain(`accuracy ${cell.score.toFixed(3)}`);
    expect(text).toMatch(/majority \d\.\d{3}/);
    expect(text).toMatch(/control \d\.\d{3}/);
    expect(text).toMatch(/random model \d\.\d{3}/);

    // The slider walks the checkpoints; the CoT removed follows the curriculum.
    const removed = probe.summary.points.map((p) => (p.removed === null ? `all ${p.cotLength} CoT tokens removed` : `${p.removed} of ${p.cotLength} CoT tokens removed`));
    expect(await page.getByTestId('cot-removed').textContent()).toContain(removed[0]);
    await page.screenshot({ path: screenshotPath('probes-heatmap'), fullPage: true });
    const slider = page.locator('#point-slider');
    await slider.focus();
    await page.keyboard.press('End');
    await eventually(async () => (await page.getByTestId('cot-removed').textContent()) ?? '').toContain(removed.at(-1)!);
    expect(await page.getByTestId('point-label').textContent()).toContain(probe.summary.points.at(-1)!.label);
    await page.screenshot({ path: screenshotPath('probes-heatmap-last-checkpoint'), fullPage: true });

    // Selectivity uses a diverging scale from −1 to 1.
    await page.getByLabel('Metric').selectOption('selectivity');
    await eventually(async () => (await heatmap.locator('.legend-label').textContent()) ?? '').toBe('selectivity');
    expect(await heatmap.locator('.legend text').allTextContents()).toEqual(expect.arrayContaining(['−1.0', '0.0', '1.0']));
  });

  test('Export CSV downloads the numbers shown', async () => {
    await page.getByLabel('Metric').selectOption('score');
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('figure.heatmap').first().getByRole('button', { name: 'Export CSV' }).click()]);
    const csv = readFileSync((await download.path())!, 'utf8').trim().split('\n');
    const last = await api<{ layers: number; slots: string[]; targets: { cells: ({ score: number } | null)[][] }[] }>('probes.results', { id: probe.id, point: probe.summary.points.length - 1 });
    expect(csv[0]).toBe(['', ...last.slots].join(','));
    expect(csv).toHaveLength(1 + last.layers);
    expect(Number(csv[1].split(',')[1])).toBeCloseTo(last.targets[0].cells[0][0]!.score, 10);
    const [png] = await Promise.all([page.waitForEvent('download'), page.locator('figure.heatmap').first().getByRole('button', { name: 'Export PNG' }).click()]);
    expect(readFileSync((await png.path())!).subarray(1, 4).toString()).toBe('PNG');
  });

  test('the logit lens and the attention viewer: hover to read, click to lock', async () => {
    const lens = page.locator('section[aria-labelledby="lens-title"] figure.heatmap');
    await lens.waitFor();
    const tokens = await api<{ tokens: string[]; top: unknown[][] }>('probes.lens', { id: probe.id, point: probe.summary.points.length - 1, example: 0 });
    expect(await lens.locator('rect.cell').count()).toBe(tokens.top.length * tokens.tokens.length);
    await lens.locator('rect.cell[data-row="0"][data-col="0"]').hover();
    await eventually(async () => (await lens.getByTestId('heatmap-readout').textContent()) ?? '').toMatch(/entropy \d+\.\d\d bits/);

    const strip = page.getByTestId('attention-tokens');
    await strip.waitFor();
    const buttons = strip.locator('button');
    const n = await buttons.count();
    expect(n).toBe(tokens.tokens.length);
    await buttons.nth(n - 2).hover();
    const readout = page.getByTestId('attention-readout');
    await eventually(async () => (await readout.textContent()) ?? '').toContain('attends most to');
    await buttons.nth(n - 2).click();
    await page.mouse.move(0, 0);
    await eventually(async () => (await readout.textContent()) ?? '').toContain('locked');
    await page.locator('section[aria-labelledby="attention-title"]').screenshot({ path: screenshotPath('probes-attention') });
    expect(problems).toEqual([]);
  });

  test('New probe: a typed input, estimated, started, then its logit lens', async () => {
    await page.getByRole('button', { name: 'New probe…' }).click();
    const dialog = page.getByRole('dialog', { name: 'New probe' });
    await dialog.waitFor();
    await dialog.getByLabel('Weights').selectOption('latest');
    await dialog.getByLabel('A typed input').check();
    await dialog.getByRole('textbox').fill('1 2 * 3 4');
    await dialog.getByRole('button', { name: 'Estimate', exact: true }).click();
    await eventually(async () => ((await dialog.getByTestId('probe-estimate').textContent()) ?? '').replace(/\s+/g, ' ').trim()).toMatch(/^1 point, 1 example of up to 6 tokens, 2 layers \(embeddings and blocks\) × 6 positions; 0 fits, about 0 s; captures take \d+\.\d MiB\.$/);
    await dialog.getByRole('button', { name: 'Start' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const jobs = await api<{ items: Probe[] }>('probes.list', {});
    const typed = jobs.items[0];
    expect(typed.config.data).toEqual({ text: '1 2 * 3 4' });
    await eventually(() => page.url()).toContain(`#/probes/${typed.id}`);
    const lens = page.locator('section[aria-labelledby="lens-title"] figure.heatmap');
    await lens.waitFor();
    expect(await lens.locator('.col-note').allTextContents()).toEqual(['1', '2', '*', '3', '4', '<eos>']);
    await page.screenshot({ path: screenshotPath('probes-typed-input'), fullPage: true });
    expect(problems).toEqual([]);
  });
});
