// The renderer in a real browser against a real `stepwise serve`: every page,
// the status bar's app.info, live run updates, contract errors, theme and
// keyboard navigation. Screenshots land in test-results/screenshots/.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppInfo, Run } from '../../src-main/contract/index.ts';
import { DATABASE_FILE } from '../../src-main/services/paths.ts';
import { openStore } from '../../src-main/store/store.ts';
import { assertRendererBuilt, callApi, eventually, launchBrowser, screenshotPath, startServer, storeRun, type Browser, type Server } from './harness.ts';

// page.evaluate() callbacks run in the page, but tsconfig.json is Node-only (no
// DOM lib), so the few browser globals they touch are declared here, for this
// module alone.
interface PageElement {
  id: string;
  textContent: string | null;
  closest(selector: string): PageElement | null;
}
declare const window: { location: { search: string } };
declare const document: {
  activeElement: PageElement | null;
  body: PageElement;
  documentElement: { dataset: Record<string, string | undefined> };
};
declare const localStorage: { getItem(key: string): string | null };
declare function getComputedStyle(element: PageElement): { backgroundColor: string; outlineStyle: string; outlineWidth: string; whiteSpace: string };

let server: Server;
let browser: Browser;
let page: Page;
/** Console errors and uncaught exceptions (CSP violations show up here). */
const problems: string[] = [];
/** Every answer of 400 or more the pages received, as "STATUS PATH". */
const failedResponses: string[] = [];
/** The event socket `page` opened last, and whether its handshake is done (and it has not closed). */
let eventSocket: { requestId: string; open: boolean } | undefined;

const api = <T>(name: string, input?: unknown) => callApi<T>(server, name, input);

/** Shows the page at `hash`, loading it afresh even when it is already on screen. */
async function open(hash: string): Promise<void> {
  const url = `${server.origin}/${hash}`;
  if (page.url() === url) await page.reload();
  else await page.goto(url);
  await page.locator('h1').waitFor();
}

/** The main area's text with whitespace collapsed, as a reader sees it. */
async function mainText(): Promise<string> {
  return ((await page.locator('main').textContent()) ?? '').replace(/\s+/g, ' ');
}

async function shoot(name: string): Promise<void> {
  await page.screenshot({ path: screenshotPath(name) });
}

beforeAll(async () => {
  assertRendererBuilt();
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.on('console', (m) => {
    // Failed loads are tracked with their address through failedResponses.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) failedResponses.push(`${r.status()} ${new URL(r.url()).pathname}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  // Playwright reports a WebSocket when it is created, not when it opens; the
  // DevTools protocol says when the handshake is done.
  const cdp = await browser.context.newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.webSocketCreated', (e) => (eventSocket = { requestId: e.requestId, open: false }));
  cdp.on('Network.webSocketHandshakeResponseReceived', (e) => {
    if (eventSocket?.requestId === e.requestId && e.response.status === 101) eventSocket.open = true;
  });
  cdp.on('Network.webSocketClosed', (e) => {
    if (eventSocket?.requestId === e.requestId) eventSocket.open = false;
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('access', () => {
  test('the page and the API answer 401 without the token', async () => {
    expect((await fetch(`${server.origin}/`)).status).toBe(401);
    expect((await fetch(`${server.origin}/api/call/app.info`, { method: 'POST' })).status).toBe(401);
    // In the browser too. Chromium then shows its own error page and goto
    // rejects, so this uses a throwaway tab.
    const tab = await browser.context.newPage();
    const [response] = await Promise.all([
      tab.waitForResponse((r) => r.url().startsWith(server.origin)),
      tab.goto(`${server.origin}/#/runs`).catch(() => null),
    ]);
    expect(response.status()).toBe(401);
    await tab.close();
  });

  test('the printed URL lets the browser in and leaves no token in the address bar', async () => {
    await page.goto(server.url);
    await eventually(() => page.locator('h1').textContent()).toBe('Library');
    expect(page.url()).not.toContain('token');
    expect(await page.evaluate(() => window.location.search)).toBe('');
    expect(await page.title()).toBe('Library · Stepwise');
  });
});

describe('pages on a fresh data folder', () => {
  const empties = [
    { hash: '#/library', heading: 'Library', empty: 'No models yet', text: 'Get started trains your first model' },
    { hash: '#/datasets', heading: 'Datasets', empty: 'No datasets yet', text: 'Generate N×N multiplication with Generate multiplication' },
    { hash: '#/runs', heading: 'Runs', empty: 'No runs yet', text: 'No runs yet — start one from New run' },
    { hash: '#/curriculum', heading: 'Curriculum', empty: 'No ICoT-SI runs yet', text: 'removal smoothing λ' },
    { hash: '#/probes', heading: 'Probes', empty: 'Probes need a model and a dataset first', text: 'linear classifier' },
    { hash: '#/compare', heading: 'Compare', empty: 'Comparing needs at least two runs', text: 'There are no runs so far' },
  ];

  for (const { hash, heading, empty, text } of empties) {
    test(`${heading} says what to do next when there is nothing to show`, async () => {
      await open(hash);
      expect(await page.locator('h1').textContent()).toBe(heading);
      await eventually(() => page.locator('.empty h2').textContent()).toBe(empty);
      expect(await mainText()).toContain(text);
      const current = page.locator('nav[aria-label="Main"] a[aria-current="page"]');
      expect(await current.count()).toBe(1);
      expect(await current.textContent()).toContain(heading);
      await shoot(`${heading.toLowerCase()}-empty`);
    });
  }

  test('the status bar and About show app.info: data folder, schema version, ONNX Runtime, cpu provider', async () => {
    const info = await api<AppInfo>('app.info');
    expect(info.executionProviders.map((p) => p.name)).toContain('cpu');
    await open('#/library');
    const footer = page.locator('footer');
    await eventually(() => footer.locator('[data-testid="schema-version"]').textContent()).toBe(`Schema v${info.schemaVersion}`);
    expect(await footer.locator('[data-testid="data-dir"]').textContent()).toBe(server.dataDir);
    expect(await footer.locator('[data-testid="ort"]').textContent()).toBe(`ONNX Runtime ${info.onnxRuntimeVersion}`);
    expect(await footer.locator('[data-testid="providers"]').textContent()).toMatch(/^Providers: .*\bcpu\b/);
    // The GPU adapter as a fact: the one found (SwiftShader in CI, named as software), or none.
    expect(await footer.locator('[data-testid="gpu"]').textContent()).toBe(`GPU: ${info.gpu.found ? info.gpu.summary : 'none'}`);
    if (info.gpu.found) expect(info.gpu.summary).toMatch(info.gpu.software ? /\(software: correct but slow, no GPU\)$/ : /\(hardware GPU\)$/);

    await footer.getByRole('button', { name: 'About' }).click();
    const about = page.getByRole('dialog', { name: 'About Stepwise' });
    await about.waitFor();
    const text = await about.textContent();
    expect(text).toContain(server.dataDir);
    expect(text).toContain(info.onnxRuntimeVersion);
    expect(text).toContain(info.appVersion);
    expect(text).toMatch(/cpu\s*installed/);
    expect(await about.getByTestId('about-gpu').textContent()).toBe(info.gpu.found ? info.gpu.summary : `none: ${info.gpu.reason}`);
    await shoot('about');
    await page.keyboard.press('Escape');
    await about.waitFor({ state: 'hidden' });
  });
});

describe('runs', () => {
  let seeded: Run[];

  // Runs as a lab that queued them without data (an older version) stored them: runs.create now refuses such configs.
  beforeAll(() => {
    seeded = [
      storeRun(server, {
        method: 'icot-si',
        name: '4×4 mult, Δ=8',
        config: { curriculum: { removePerEpoch: 8, smoothingLambda: null, side: 'left', resetOptimizer: true } },
      }),
      storeRun(server, { method: 'fine-tune-cot', name: 'MultiArith student', config: { task: 'multiarith' } }),
    ];
  });
  let formData: { id: number; path: string };

  test('the Runs page lists runs created through the API, newest first', async () => {
    await open('#/runs');
    const rows = page.locator('table[aria-label="Runs"] tbody tr');
    await eventually(() => rows.count()).toBe(2);
    expect(await rows.nth(0).textContent()).toContain('MultiArith student');
    expect(await rows.nth(0).textContent()).toContain('Fine-tune-CoT');
    expect(await rows.nth(1).textContent()).toContain('4×4 mult, Δ=8');
    expect(await rows.nth(1).textContent()).toContain('ICoT-SI');
    expect(await rows.nth(1).locator('.badge').textContent()).toBe('queued');
  });

  test('a run created elsewhere appears without reloading (run.status over the WebSocket)', async () => {
    await open('#/runs');
    const rows = page.locator('table[aria-label="Runs"] tbody tr');
    await eventually(() => rows.count()).toBe(2);
    await eventually(() => eventSocket?.open).toBe(true); // an event sent before the socket opens would be missed
    formData = await api<{ id: number; path: string }>('datasets.generateMult', { digitsA: 2, digitsB: 2, counts: { train: 32, valid: 4, test: 0 }, seed: 3, name: '2×2 for the form' });
    const config = { recipe: 'cot', model: { kind: 'fresh', layers: 1, dim: 32, heads: 2, seed: 1 }, data: { train: `${formData.path}/train.txt`, valid: `${formData.path}/valid.txt` }, train: { epochs: 1, batchSize: 16, lr: 1e-3 } };
    await api<Run>('runs.create', { method: 'icot-si', name: 'queued from the command line', config });
    await eventually(() => rows.count()).toBe(3);
    expect(await rows.nth(0).textContent()).toContain('queued from the command line');
    await shoot('runs');
  });

  test('New run stores every field of the config it shows; a blank name comes back as the contract error', async () => {
    const dataset = formData;
    await open('#/runs');
    await page.getByRole('button', { name: 'New run' }).click();
    const dialog = page.getByRole('dialog', { name: 'New run' });
    await dialog.waitFor();
    expect(await dialog.getByRole('radio', { name: /^ICoT-SI/ }).isChecked()).toBe(true); // the first method of the form's registry
    await eventually(() => dialog.getByLabel('Dataset').inputValue()).toBe(String(dataset.id)); // the only usable one (of several, the one chosen last time)
    // Execution provider: the CPU unless a hardware GPU was found; a software adapter is offered and named as such.
    const info = await api<AppInfo>('app.info');
    expect(await dialog.getByLabel('Execution provider').inputValue()).toBe(info.gpu.found && !info.gpu.software ? 'webgpu' : 'cpu');
    if (info.gpu.found && info.gpu.software) {
      expect(await dialog.locator('#nr-provider option[value="webgpu"]').textContent()).toBe('webgpu (software adapter)');
      expect(await dialog.getByTestId('gpu-note').textContent()).toBe(`Only a software GPU adapter was found (${info.gpu.vendor} ${info.gpu.architecture}): webgpu on it is correct but slower than the CPU.`);
    } else if (!info.gpu.found) {
      expect(await dialog.locator('#nr-provider option[value="webgpu"]').count()).toBe(0);
      expect(await dialog.getByTestId('gpu-note').textContent()).toContain(`No GPU adapter, so the CPU trains: ${info.gpu.reason}`);
    }

    // Blank after trimming: passes the browser's `required`, fails the contract's schema.
    await dialog.getByLabel('Name').fill('   ');
    await dialog.getByRole('button', { name: 'Create', exact: true }).click();
    const alert = dialog.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('The request was not valid');
    expect(await alert.textContent()).toContain('invalid_input');
    expect(await alert.textContent()).toMatch(/name\s*must not be empty/);
    await shoot('new-run-error');

    await dialog.getByLabel('Name').fill('2×2 ICoT-SI from the form');
    await dialog.getByLabel('Layers').fill('1');
    await dialog.getByLabel('Width').fill('32');
    await dialog.getByLabel('Heads').fill('2');
    await dialog.getByLabel('Epochs', { exact: true }).fill('2');
    await dialog.getByLabel('Learning rate').fill('0.001');
    await dialog.getByLabel('Cool-down epochs').fill('1');
    await dialog.getByLabel('Removal side').selectOption('right');
    await dialog.getByRole('checkbox', { name: 'Removal smoothing λ' }).uncheck();
    await dialog.getByRole('checkbox', { name: 'Hold below validation %' }).check();
    await dialog.getByLabel('Hold below validation accuracy (%)').fill('80');
    await dialog.getByRole('checkbox', { name: 'Next token at validation %' }).check();
    await shoot('new-run');
    await dialog.getByRole('button', { name: 'Create', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    const rows = page.locator('table[aria-label="Runs"] tbody tr');
    await eventually(() => rows.nth(0).textContent()).toContain('2×2 ICoT-SI from the form');
    const runs = await api<{ items: Run[] }>('runs.list', { method: 'icot-si' });
    const created = runs.items.find((r) => r.name === '2×2 ICoT-SI from the form');
    expect(created?.status).toBe('queued');
    expect(created?.config).toEqual({
      recipe: 'icot-si',
      model: { kind: 'fresh', layers: 1, dim: 32, heads: 2, seed: 0 },
      data: { train: `${dataset.path}/train.txt`, valid: `${dataset.path}/valid.txt` },
      train: { epochs: 2, batchSize: 32, lr: 0.001, warmupSteps: 0, schedule: 'constant', cooldownEpochs: 1, weightDecay: 0.01, maxGradNorm: 1, seed: 0 },
      runtime: { provider: 'cpu' },
      curriculum: { removePerEpoch: 8, smoothingLambda: null, side: 'right', resetOptimizer: true, removeAllWhenBeyond: null, pretrainEpochs: 0, keepPosition: false, holdBelow: 0.8, advanceAbove: 0.95 },
    });
  });

  test('Create and start trains at once and opens the run to watch it', async () => {
    await open('#/runs');
    await page.getByRole('button', { name: 'New run' }).click();
    const dialog = page.getByRole('dialog', { name: 'New run' });
    await dialog.getByLabel('Name').fill('started from the form');
    await dialog.getByLabel('Layers').fill('1');
    await dialog.getByLabel('Width').fill('32');
    await dialog.getByLabel('Heads').fill('2');
    await dialog.getByLabel('Epochs', { exact: true }).fill('1');
    await dialog.getByRole('button', { name: 'Create and start' }).click();
    await eventually(() => page.locator('h1').textContent()).toBe('started from the form');
    await expect.poll(() => page.locator('.facts .badge').textContent(), { timeout: 90_000 }).toBe('completed');
  });

  test('Curriculum lists the ICoT-SI runs with their schedule in the paper\'s terms', async () => {
    await open('#/curriculum');
    const table = page.locator('table[aria-label="ICoT-SI runs"]');
    const row = table.locator('tbody tr').filter({ hasText: '4×4 mult, Δ=8' });
    await eventually(() => row.count()).toBe(1);
    expect(await table.locator('thead th').allTextContents()).toEqual([
      'Plot', 'Name', 'Status', 'Δ per epoch', 'Smoothing λ', 'Side', 'Reset optimizer', 'Remove all at K', 'CoT epochs',
    ]);
    const cells = (await row.locator('td').allTextContents()).map((t) => t.trim());
    // Left out of the config: the trainer's defaults apply, shown as —.
    expect(cells.slice(1, 9)).toEqual(['4×4 mult, Δ=8 edit', 'queued', '8', '∞ (off)', 'left', 'yes', '—', '—']);
    await shoot('curriculum');
  });

  test('Compare sets the ticked runs side by side', async () => {
    await open('#/compare');
    await page.getByLabel('4×4 mult, Δ=8').check();
    await page.getByLabel('MultiArith student').check();
    const table = page.locator('table[aria-label="Selected runs compared"]');
    await table.waitFor();
    const headers = await table.locator('thead th').allTextContents();
    expect(headers).toEqual(['Metric', 'MultiArith student', '4×4 mult, Δ=8']); // in list order, newest first
    const row = async (name: string) =>
      (await table.locator('tbody tr').filter({ has: page.getByRole('rowheader', { name, exact: true }) }).locator('td').allTextContents()).map((t) => t.trim());
    expect(await row('Method')).toEqual(['Fine-tune-CoT', 'ICoT-SI']);
    expect(await row('task')).toEqual(['multiarith', '—']);
    expect(await row('curriculum.removePerEpoch')).toEqual(['—', '8']);
    expect(await table.locator('tr.differs').count()).toBe(5); // every setting differs: one run has none of the other's
    expect(seeded).toHaveLength(2);
    await shoot('compare');
  });
});

describe('a data folder with a model, a dataset and finished runs', () => {
  let trained: Run;
  let failed: Run;

  // The contract has no procedures that add models, datasets or metrics (the
  // trainer and importers write them), so they go in through the store, as a
  // second connection beside the server's, the way the CLI would.
  beforeAll(async () => {
    trained = storeRun(server, { method: 'icot-si', name: 'gpt2-tiny 4×4, internalized', config: { curriculum: { removePerEpoch: 8 } } });
    failed = storeRun(server, { method: 'bitune', name: 'Bitune that ran out of memory', config: {} });
    const store = openStore(join(server.dataDir, DATABASE_FILE));
    try {
      store.models.add({
        name: 'gpt2-tiny',
        architecture: { family: 'gpt2', nLayer: 2, nHead: 4, nEmbd: 32, vocabSize: 20, blockSize: 32 },
        paramCount: 26_464,
        path: 'models/gpt2-tiny',
        bytesOnDisk: 105_856,
        source: { kind: 'imported', from: '/home/ada/gpt2-tiny' },
        runId: null,
      });
      store.datasets.add({
        name: '4×4 multiplication',
        kind: 'multiplication',
        contentHash: 'a3f1c2d4e5b6978812345678abcdef0123456789abcdef0123456789abcdef01',
        splitCounts: { train: 808_000, valid: 1_000, test: 1_000 },
        path: 'datasets/4x4',
        preview: ['5 6 3 2 * 7 4 3 4||5 5 5 3 1 + 0 0 2 4 5 0 ( 5 5 7 7 6 0 ) #### 5 5 7 7 6 0 1 1'],
      });
      store.runs.setStatus(trained.id, 'running');
      for (let step = 0; step <= 40; step += 4) {
        store.metrics.record(trained.id, step, { 'train/loss': 3 * Math.exp(-step / 12), 'valid/accuracy': step === 20 ? NaN : step / 40 });
      }
      store.logs.append(trained.id, 'info', 'epoch 1: removing 8 CoT tokens');
      store.logs.append(trained.id, 'warn', 'validation accuracy dropped after the optimizer reset');
      store.checkpoints.add({ runId: trained.id, step: 40, path: `runs/${trained.id}/step-40.safetensors`, bytes: 317_440 });
      store.runs.setStatus(trained.id, 'completed');
      store.runs.setStatus(failed.id, 'running');
      store.runs.setStatus(failed.id, 'failed', { error: 'Out of memory at step 12: lower batchSize (now 64) or blockSize.' });
    } finally {
      store.close();
    }
  });

  test('Library lists the model with its architecture, size and source', async () => {
    await open('#/library');
    const row = page.locator('table[aria-label="Models"] tbody tr');
    await eventually(() => row.count()).toBe(1);
    const cells = (await row.locator('td').allTextContents()).map((t) => t.trim());
    expect(cells.slice(0, 5)).toEqual([
      'gpt2-tiny',
      'gpt2 · 2 layers · 4 heads · width 32',
      '26,464',
      'Imported from /home/ada/gpt2-tiny',
      '103 KiB',
    ]);
    await shoot('library');
  });

  test('deleting a model asks first, then removes it and says how much was freed', async () => {
    const store = openStore(join(server.dataDir, DATABASE_FILE));
    store.models.add({
      name: 'scratch copy',
      architecture: { family: 'gpt2' },
      paramCount: 10,
      path: 'models/scratch-copy',
      bytesOnDisk: 0,
      source: { kind: 'imported', from: '/tmp/nowhere' },
      runId: null,
    });
    store.close();
    await open('#/library');
    const rows = page.locator('table[aria-label="Models"] tbody tr');
    await eventually(() => rows.count()).toBe(2);
    await page.getByRole('button', { name: 'Delete scratch copy' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete “scratch copy”?' });
    await dialog.getByRole('button', { name: 'Delete model' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await eventually(() => rows.count()).toBe(1);
    expect(await rows.textContent()).toContain('gpt2-tiny');
    expect(await page.getByRole('status').textContent()).toBe('Deleted scratch copy; 0 B freed.');
  });

  test('Datasets shows each dataset with its splits and first examples', async () => {
    await open('#/datasets');
    const card = page.getByRole('article', { name: '4×4 multiplication' });
    await card.waitFor();
    const text = ((await card.textContent()) ?? '').replace(/\s+/g, ' ');
    expect(text).toContain('multiplication');
    expect(text).toContain('train 808,000 · valid 1,000 · test 1,000');
    expect(text).toContain('5 6 3 2 * 7 4 3 4||');
    expect(text).toContain('sha256 a3f1c2d4e5b69788…');
    await shoot('datasets');
  });

  test('Generate multiplication adds a dataset in the paper\'s format', async () => {
    await open('#/datasets');
    await page.getByRole('button', { name: 'Generate multiplication…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Generate multiplication' });
    await dialog.getByLabel('Digits (first)').fill('3');
    await dialog.getByLabel('Digits (second)').fill('3');
    await dialog.getByLabel('Train examples').fill('20');
    await dialog.getByLabel('Valid examples').fill('5');
    await dialog.getByLabel('Test examples').fill('5');
    await dialog.getByLabel('Seed').fill('1');
    await shoot('generate-dataset');
    await dialog.getByRole('button', { name: 'Generate', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    const card = page.getByRole('article', { name: '3×3 multiplication' });
    await card.waitFor();
    const text = ((await card.textContent()) ?? '').replace(/\s+/g, ' ');
    expect(text).toContain('train 20 · valid 5 · test 5');
    expect(text).toMatch(/\d \d \d \* \d \d \d\|\|.* #### /); // input||cot #### answer
    expect(await page.getByRole('status').filter({ hasText: 'Added 3×3 multiplication' }).count()).toBe(1);

    // Its examples, as the trainer splits them: input, chain of thought, answer.
    await card.getByText('Browse examples').click();
    const table = card.getByRole('table', { name: '3×3 multiplication examples' });
    await eventually(() => table.locator('tbody tr').count()).toBe(20);
    const cells = (await table.locator('tbody tr').first().locator('td').allTextContents()).map((t) => t.trim());
    expect(cells[1]).toMatch(/^\d \d \d \* \d \d \d$/);
    expect(cells[2]).toContain(' + ');
    expect(cells[3]).toMatch(/^(\d ){5}\d$/); // 3×3 digits: a 6-digit product, least significant first
    expect(await card.getByRole('button', { name: 'Next' }).isDisabled()).toBe(true);
    await card.getByLabel('Split').selectOption('valid');
    await eventually(() => table.locator('tbody tr').count()).toBe(5);
    await shoot('dataset-examples');
  });

  test('Import file copies a file of examples in; a malformed one is refused naming its line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stepwise-import-'));
    const good = join(dir, 'good.txt');
    const bad = join(dir, 'bad.txt');
    writeFileSync(good, '2 1 * 3||6 3 #### 6 3\n4 * 2||8 #### 8\n');
    writeFileSync(bad, '2 1 * 3||6 3 #### 6 3\nthis line has no answer\n');
    try {
      await open('#/datasets');
      await page.getByRole('button', { name: 'Import file…' }).click();
      const dialog = page.getByRole('dialog', { name: 'Import a file' });
      await dialog.getByRole('textbox', { name: /^File/ }).fill(bad);
      await dialog.getByLabel('Name').fill('hand-written');
      await dialog.getByRole('button', { name: 'Import', exact: true }).click();
      const alert = dialog.getByRole('alert');
      await alert.waitFor();
      expect(((await alert.textContent()) ?? '').replace(/\s+/g, ' ')).toMatch(/bad\.txt:2\b/);
      await shoot('import-refused');

      await dialog.getByRole('textbox', { name: /^File/ }).fill(good);
      await dialog.getByRole('button', { name: 'Import', exact: true }).click();
      await dialog.waitFor({ state: 'hidden' });
      const card = page.getByRole('article', { name: 'hand-written' });
      await card.waitFor();
      expect(((await card.textContent()) ?? '').replace(/\s+/g, ' ')).toContain('train 2');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('Probes knows a model and a dataset are there', async () => {
    await open('#/probes');
    await eventually(() => page.locator('.empty h2').textContent()).toBe('No probes yet');
  });

  test('a run opens from the list and shows its metrics, checkpoints and log', async () => {
    await open('#/runs');
    await page.getByRole('link', { name: 'gpt2-tiny 4×4, internalized' }).click();
    await eventually(() => page.locator('h1').textContent()).toBe('gpt2-tiny 4×4, internalized');
    expect(page.url()).toContain(`#/runs/${trained.id}`);
    expect(await page.locator('.facts .badge').textContent()).toBe('completed');

    const charts = page.locator('figure');
    await eventually(() => charts.count()).toBe(2);
    expect(await charts.locator('figcaption .key').allTextContents()).toEqual(['train/loss', 'valid/accuracy']);
    const loss = ((await charts.nth(0).locator('figcaption').textContent()) ?? '').replace(/\s+/g, ' ');
    expect(loss).toContain(`${Number((3 * Math.exp(-40 / 12)).toPrecision(4))} at step 40`);
    expect(await charts.nth(1).textContent()).toContain('1 value not finite');
    const figure = (await charts.nth(0).boundingBox())!;
    const plot = (await charts.nth(0).locator('svg').boundingBox())!;
    expect(plot.x + plot.width).toBeLessThanOrEqual(figure.x + figure.width); // the plot stays inside its card

    const checkpoint = page.locator('table[aria-label="Checkpoints"] tbody tr');
    await eventually(() => checkpoint.count()).toBe(1);
    expect(await checkpoint.textContent()).toContain(`runs/${trained.id}/step-40.safetensors`);
    const log = page.getByRole('list', { name: 'Log lines' }).locator('li');
    await eventually(() => log.count()).toBe(2);
    expect(await log.nth(1).textContent()).toContain('validation accuracy dropped after the optimizer reset');
    // A line too long for its row is read whole below the list once chosen.
    await log.nth(1).getByRole('button').click();
    expect(await page.getByTestId('log-line-full').textContent()).toContain('validation accuracy dropped after the optimizer reset');
    expect(await page.getByTestId('log-line-full').evaluate((el) => getComputedStyle(el).whiteSpace)).toBe('pre-wrap');
    const config = page.getByRole('region', { name: 'Configuration' });
    expect(await config.locator('dt').allTextContents()).toEqual(['curriculum.removePerEpoch']);
    expect(await config.locator('dd').allTextContents()).toEqual(['8']);
    await shoot('run-detail');
    await page.emulateMedia({ colorScheme: 'dark' });
    await shoot('run-detail-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  test('a failed run says why', async () => {
    await open(`#/runs/${failed.id}`);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('The run failed');
    expect(await alert.textContent()).toContain('Out of memory at step 12: lower batchSize (now 64) or blockSize.');
  });

  test('notes and a new name are saved through runs.update', async () => {
    await open(`#/runs/${trained.id}`);
    await page.getByLabel('Notes', { exact: true }).waitFor();
    await page.getByLabel('Notes', { exact: true }).fill('Accuracy holds until Δ reaches 24 tokens.');
    await page.getByRole('button', { name: 'Save' }).click();
    await eventually(() => page.getByRole('status').filter({ hasText: 'Saved.' }).count()).toBe(1);
    const stored = await api<Run>('runs.get', { id: trained.id });
    expect(stored.notes).toBe('Accuracy holds until Δ reaches 24 tokens.');
    expect(stored.name).toBe('gpt2-tiny 4×4, internalized');
    expect(await page.getByRole('button', { name: 'Save' }).isDisabled()).toBe(true);
  });

  test('a run that does not exist shows the contract error, not a blank page', async () => {
    await open('#/runs/9999');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    const text = await alert.textContent();
    expect(text).toContain('Not found');
    expect(text).toContain('not_found');
    expect(text).toContain('there is no run 9999');
  });

  test('deleting a run asks first, then removes it and goes back to the list', async () => {
    await open(`#/runs/${failed.id}`);
    await page.getByRole('button', { name: 'Delete run…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete “Bitune that ran out of memory”?' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Delete run' }).click();
    await eventually(() => page.locator('h1').textContent()).toBe('Runs');
    expect(page.url()).toMatch(/#\/runs$/);
    await eventually(() => page.locator('table[aria-label="Runs"]').textContent()).not.toContain('Bitune that ran out of memory');
    await expect(api('runs.get', { id: failed.id })).rejects.toThrow(/not_found/);
  });
});

describe('training from the run page', () => {
  let dataset: { id: number; path: string };

  /** A tiny ICoT-SI run on 2×2 multiplication: one layer of width 32, about a second per few epochs. */
  function tinyConfig(epochs: number, evalEveryEpoch = true) {
    return {
      recipe: 'icot-si',
      model: { kind: 'fresh', layers: 1, dim: 32, heads: 2, seed: 1 },
      data: { train: `${dataset.path}/train.txt`, valid: `${dataset.path}/valid.txt`, test: `${dataset.path}/test.txt` },
      train: { epochs, batchSize: 16, lr: 1e-3 },
      curriculum: { removePerEpoch: 8, smoothingLambda: 4 },
      eval: { batchSize: 8, everyEpoch: evalEveryEpoch },
    };
  }

  beforeAll(async () => {
    dataset = await api('datasets.generateMult', {
      digitsA: 2,
      digitsB: 2,
      counts: { train: 64, valid: 8, test: 8 },
      seed: 7,
      name: '2×2 multiplication (tiny)',
    });
  });

  test('Start trains a queued run while the page watches: charts, log and predictions fill in, its model joins the Library', async () => {
    const run = await api<Run>('runs.create', { method: 'icot-si', name: 'tiny 2×2 ICoT-SI', config: tinyConfig(3) });
    await open(`#/runs/${run.id}`);
    await eventually(() => mainText()).toContain('No metrics recorded yet');
    await eventually(() => eventSocket?.open).toBe(true);

    await page.getByRole('group', { name: 'Run controls' }).getByRole('button', { name: 'Start' }).click();
    await expect.poll(() => page.locator('.facts .badge').textContent(), { timeout: 90_000 }).toBe('completed');

    // Nothing reloads the metrics after the page opened: these charts were drawn from run.metric events.
    const keys = page.locator('.charts').first().locator('figcaption .key');
    await eventually(() => keys.allTextContents()).toEqual(expect.arrayContaining(['loss', 'val_accuracy']));
    expect((await keys.allTextContents())[0]).toBe('loss');
    await eventually(() => page.getByRole('list', { name: 'Log lines' }).locator('li').count()).toBeGreaterThan(0);
    await eventually(() => page.getByTestId('prediction-score').textContent()).toMatch(/^\s*\d+ of 8 right/);
    expect(await page.locator('table[aria-label="Predictions"] tbody tr').count()).toBe(8);
    await eventually(() => page.locator('table[aria-label="Checkpoints"] tbody tr').count()).toBeGreaterThan(0);
    // A figure measured once (the wall time, the test accuracy) is a number, not a chart with no extent.
    for (const key of ['wall_minutes', 'test_accuracy']) {
      const once = page.locator('figure').filter({ has: page.locator('figcaption .key', { hasText: new RegExp(`^${key}$`) }) });
      await eventually(() => once.getByTestId('single-value').textContent()).toMatch(/^\s*[\d.e−-]+\s+at step \d+\s*$/);
      expect(await once.locator('svg').count()).toBe(0);
    }
    await shoot('run-trained');

    await open('#/library');
    await eventually(() => page.locator('table[aria-label="Models"]').textContent()).toContain('tiny 2×2 ICoT-SI (best)');
    expect(await page.locator('table[aria-label="Models"]').textContent()).toContain(`Trained in run #${run.id}`);
  });

  test('Curriculum plots a trained run\'s schedule beside its loss and accuracy', async () => {
    await open('#/curriculum');
    await page.getByRole('radio', { name: 'Plot tiny 2×2 ICoT-SI' }).check();
    await eventually(() => page.locator('#plots-title').textContent()).toContain('tiny 2×2 ICoT-SI');
    const keys = page.locator('.plots figcaption .key');
    await eventually(() => keys.allTextContents()).toEqual(['scheduled_removal', 'loss', 'val_accuracy', 'val_cot_tokens']);
    await shoot('curriculum-plots');
  });

  test('Compare draws each headline metric with one line per ticked run', async () => {
    await open('#/compare');
    await page.getByLabel('tiny 2×2 ICoT-SI').check();
    await page.getByLabel('started from the form').check();
    const charts = page.locator('.charts figure');
    await eventually(() => charts.locator('figcaption .key').allTextContents()).toEqual(
      expect.arrayContaining(['loss', 'val_accuracy']),
    );
    const loss = charts.filter({ has: page.locator('figcaption .key', { hasText: /^loss$/ }) });
    expect(await loss.locator('path.series').count()).toBe(2);
    expect(await loss.locator('.legend .name').allTextContents()).toEqual(['tiny 2×2 ICoT-SI', 'started from the form']); // newest first
    await shoot('compare-charts');
  });

  test('Start on a run whose config the trainer refuses shows every wrong field and starts nothing', async () => {
    // Create refuses such a config; a run queued by an older lab may still hold one.
    const run = storeRun(server, { method: 'icot-si', name: 'half-configured', config: { recipe: 'icot-si' } });
    await open(`#/runs/${run.id}`);
    await page.getByRole('group', { name: 'Run controls' }).getByRole('button', { name: 'Start' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    const text = ((await alert.textContent()) ?? '').replace(/\s+/g, ' ');
    expect(text).toContain('The request was not valid');
    expect(text).toContain('config.model');
    expect(text).toContain('config.data');
    expect(await page.locator('.facts .badge').textContent()).toBe('queued');
    await shoot('run-start-refused');

    // Its settings are edited in the New run form, checked as Start checks them, and kept.
    await page.getByRole('button', { name: 'Edit settings…' }).click();
    const dialog = page.getByRole('dialog', { name: `Edit queued run #${run.id}` });
    await dialog.waitFor();
    expect(await dialog.getByLabel('Name').inputValue()).toBe('half-configured');
    await dialog.getByLabel('Dataset').selectOption(String(dataset.id));
    await dialog.getByRole('button', { name: 'Save', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    const stored = await api<Run>('runs.get', { id: run.id });
    expect([stored.status, (stored.config as { data: { train: string } }).data.train]).toEqual(['queued', `${dataset.path}/train.txt`]);
  });

  test('Pause holds a run at a step and Resume lets it go on; Cancel stops it and Continue picks it up again', async () => {
    const run = await api<Run>('runs.create', { method: 'icot-si', name: 'long 2×2 run', config: tinyConfig(2000, false) });
    await open(`#/runs/${run.id}`);
    const controls = page.getByRole('group', { name: 'Run controls' });
    await controls.getByRole('button', { name: 'Start' }).click();
    const progress = page.getByTestId('progress-text');
    await eventually(() => progress.textContent()).toMatch(/step [\d,]+ of/);

    await controls.getByRole('button', { name: 'Pause' }).click();
    await eventually(() => progress.textContent()).toMatch(/^\s*Paused at step/);
    // The job stops between two steps, so the step in flight still lands;
    // after that the count holds (progress is sent every 200 ms while a run moves).
    let heldAt = await progress.textContent();
    await eventually(async () => {
      const before = heldAt;
      await page.waitForTimeout(600);
      heldAt = await progress.textContent();
      return heldAt === before;
    }).toBe(true);
    expect(heldAt).toMatch(/^\s*Paused at step/);
    // The badge says so too, and the run's time keeps counting (a paused run is still running).
    expect(await page.locator('.facts .badge').textContent()).toBe('paused');
    const ran = page.locator('.facts span', { hasText: /^ran / });
    const ranBefore = await ran.textContent();
    await eventually(() => ran.textContent(), 5_000).not.toBe(ranBefore);
    await shoot('run-paused');

    await controls.getByRole('button', { name: 'Resume' }).click();
    await eventually(() => progress.textContent()).not.toBe(heldAt);
    expect(await progress.textContent()).not.toMatch(/Paused/);
    expect(await page.locator('.facts .badge').textContent()).toBe('running');

    await controls.getByRole('button', { name: 'Cancel' }).click();
    await eventually(() => page.locator('.facts .badge').textContent()).toBe('cancelled');
    await controls.getByRole('button', { name: 'Continue' }).click();
    await eventually(() => page.locator('.facts .badge').textContent()).toBe('running');
    await controls.getByRole('button', { name: 'Cancel' }).click();
    await eventually(() => page.locator('.facts .badge').textContent()).toBe('cancelled');
  });
});

describe('transport', () => {
  test('with a preload-style window.stepwise the app calls through it, not HTTP, and shows the same runs', async () => {
    // Stands in for the Electron preload: a Transport { call, on } that
    // records each call (and here forwards it to the server).
    const tab = await browser.context.newPage();
    await tab.addInitScript(() => {
      const calls: string[] = [];
      Object.assign(globalThis, {
        preloadCalls: calls,
        stepwise: {
          async call(name: string, input: unknown) {
            calls.push(name);
            const response = await fetch(`/api/call/${name}`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: input === undefined ? '' : JSON.stringify(input),
            });
            return response.json();
          },
          on: () => () => {},
        },
      });
    });
    const sockets: string[] = [];
    tab.on('websocket', (ws) => sockets.push(ws.url()));

    await tab.goto(`${server.origin}/#/runs`);
    const rows = tab.locator('table[aria-label="Runs"] tbody tr');
    await eventually(() => rows.count()).toBeGreaterThanOrEqual(3);
    expect(await tab.locator('footer').textContent()).toContain('Desktop');
    const calls = await tab.evaluate(() => (globalThis as unknown as { preloadCalls: string[] }).preloadCalls);
    expect(calls).toEqual(expect.arrayContaining(['app.info', 'runs.list']));
    expect(sockets).toEqual([]); // events come through the preload's `on`, not a WebSocket
    await tab.close();
  });
});

describe('theme and keyboard', () => {
  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);

  test('the theme follows the OS until a choice is made, and the choice survives a reload', async () => {
    await page.emulateMedia({ colorScheme: 'light' });
    await open('#/library');
    const light = await background();
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await background();
    expect(dark).not.toBe(light);

    await page.getByRole('radio', { name: 'Light' }).check();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('light');
    expect(await background()).toBe(light); // OS says dark, the choice says light

    await page.getByRole('radio', { name: 'Dark' }).check();
    await page.emulateMedia({ colorScheme: 'light' });
    await page.reload();
    await page.locator('h1').waitFor();
    expect(await page.evaluate(() => localStorage.getItem('stepwise.theme'))).toBe('dark');
    expect(await background()).toBe(dark);
    expect(await page.getByRole('radio', { name: 'Dark' }).isChecked()).toBe(true);
    await open('#/runs');
    await shoot('runs-dark');

    await page.getByRole('radio', { name: 'System' }).check();
    expect(await page.evaluate(() => localStorage.getItem('stepwise.theme'))).toBeNull();
    expect(await background()).toBe(light);
  });

  test('Tab reaches the skip link, then every nav item in order, each with a visible focus ring', async () => {
    await open('#/library');
    await page.reload(); // focus starts at the top of a freshly loaded document
    await page.locator('h1').waitFor();

    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent?.trim())).toBe('Skip to content');
    // Every page's nav item, whatever pages other areas add (their order in the rail).
    const items = (await page.locator('nav[aria-label="Main"] a').allTextContents()).map((t) => t.trim());
    expect(items.slice(0, 4)).toEqual(['Library', 'Datasets', 'Runs', 'Curriculum']);
    expect(items).toContain('Compare');
    const labels: string[] = [];
    for (let i = 0; i < items.length; i++) {
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() => {
        const el = document.activeElement!;
        const style = getComputedStyle(el);
        return { text: el.textContent?.trim() ?? '', inNav: !!el.closest('nav'), outline: style.outlineStyle, width: style.outlineWidth };
      });
      expect(focused.inNav).toBe(true);
      expect(focused.outline).toBe('solid');
      expect(focused.width).toBe('2px');
      labels.push(focused.text);
    }
    expect(labels).toEqual(items);

    // Enter on the focused item navigates, marks it current and moves focus to the new page's heading.
    await page.keyboard.press('Enter');
    const last = items.at(-1)!;
    await eventually(() => page.locator('h1').textContent()).toBe(last);
    expect(await page.locator('nav a[aria-current="page"]').textContent()).toContain(last);
    await eventually(() => page.evaluate(() => document.activeElement?.id)).toBe('page-title');
  });

  test('the shell has one of each landmark: navigation, main, contentinfo', async () => {
    await open('#/runs');
    expect(await page.getByRole('navigation', { name: 'Main' }).count()).toBe(1);
    expect(await page.getByRole('main').count()).toBe(1);
    expect(await page.getByRole('contentinfo').count()).toBe(1);
    expect(await page.getByRole('heading', { level: 1 }).count()).toBe(1);
  });

  test('the skip link moves focus to the main content without changing the page', async () => {
    await open('#/datasets');
    await page.reload();
    await page.locator('h1').waitFor();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    expect(await page.locator('h1').textContent()).toBe('Datasets');
  });

  test('no console errors, CSP violations or failed requests other than the ones provoked', () => {
    expect(problems).toEqual([]);
    // The failures provoked on `page`: New run with a blank name, a malformed import, a run that does not exist,
    // a run the trainer refuses.
    expect(failedResponses).toEqual([
      '400 /api/call/runs.create',
      '400 /api/call/datasets.import',
      '404 /api/call/runs.get',
      '400 /api/call/runs.start',
    ]);
  });
});

describe('when the server goes away', () => {
  test('pages say contact was lost and what to check, instead of hanging or going blank', async () => {
    await open('#/library');
    await server.stop();
    await page.getByRole('link', { name: 'Runs' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    const text = ((await alert.textContent()) ?? '').replace(/\s+/g, ' ');
    expect(text).toContain('Lost contact with Stepwise');
    expect(text).toContain('no answer from Stepwise');
    expect(text).toContain('Is stepwise serve (or the desktop app) still running?');
    expect(await alert.locator('.hint code').textContent()).toBe('stepwise serve');
    expect(await page.locator('footer').textContent()).toContain('Disconnected');
    await shoot('server-gone');
  });
});
