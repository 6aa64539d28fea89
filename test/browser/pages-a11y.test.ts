// Every page as a user sees it, in Chromium through `stepwise serve` at
// 1280×800: a screenshot of each in light and in dark mode
// (test-results/screenshots/page-<page>-<theme>.png), and axe-core's
// accessibility check (WCAG 2 A and AA), which fails on any serious or
// critical violation, naming the rule and the elements. The lab holds a
// dataset, a finished run with metrics and a model, so the pages show content.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DATABASE_FILE } from '../../src-main/services/paths.ts';
import { openStore } from '../../src-main/store/store.ts';
import { callApi, screenshotPath, startApp, type Server } from './harness.ts';

// What the page-side callbacks use (this file is typed for Node, without the DOM's types).
declare const window: object;
declare const document: { documentElement: { dataset: Record<string, string | undefined> } };
declare function getComputedStyle(element: unknown): { colorScheme: string };

const AXE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let server: Server;
let page: Page;
let stop: () => Promise<void>;
let runId: number;

beforeAll(async () => {
  ({ server, page, stop } = await startApp(async (s) => {
    await callApi(s, 'datasets.generateMult', { digitsA: 2, digitsB: 2, counts: { train: 64, valid: 8, test: 8 }, seed: 7, name: '2×2 tiny' });
    const store = openStore(join(s.dataDir, DATABASE_FILE));
    try {
      const run = store.runs.create({ method: 'icot-si', name: '2×2 ICoT-SI, Δ=8', config: { recipe: 'icot-si', train: { epochs: 3, lr: 1e-3 } } });
      store.runs.setStatus(run.id, 'running');
      for (let step = 1; step <= 12; step++) store.metrics.record(run.id, step, { loss: 2 / step, scheduled_removal: Math.min(8, step) });
      store.metrics.record(run.id, 12, { val_accuracy: 0.75, test_accuracy: 0.7 });
      store.runs.setStatus(run.id, 'completed');
      runId = run.id;
    } finally {
      store.close();
    }
  }));
  await page.setViewportSize({ width: 1280, height: 800 });
}, 90_000);

afterAll(() => stop?.());

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

/** axe-core on the page as it is: the serious and critical violations, each as "rule (impact): help — elements". */
async function violations(p: Page): Promise<string[]> {
  // Through the DevTools protocol (the page's CSP refuses an injected <script>, rightly).
  if (!(await p.evaluate(() => 'axe' in window))) await p.evaluate(AXE);
  const found = await p.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (context: unknown, opts: object) => Promise<{ violations: Violation[] }> } }).axe;
    const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })) }));
  });
  return found
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 5).map((n) => n.target.join(' ')).join(', ')}${v.nodes.length > 5 ? ` and ${v.nodes.length - 5} more` : ''} (${(v.nodes[0]?.failureSummary ?? '').replace(/\s+/g, ' ').trim()})`);
}

const PAGES = ['library', 'datasets', 'runs', 'run', 'curriculum', 'probes', 'bitune', 'finetune-cot', 'compare', 'welcome'] as const;

describe('every page in light and dark mode', () => {
  for (const theme of ['Light', 'Dark'] as const) {
    test(`${theme.toLowerCase()}: a screenshot of each page, and no serious or critical accessibility violation`, async () => {
      const problems: Record<string, string[]> = {};
      for (const id of PAGES) {
        await page.goto(`${server.origin}/#/${id === 'run' ? `runs/${runId}` : id}`);
        await page.locator('h1').waitFor();
        await page.getByRole('radio', { name: theme }).check();
        await page.waitForLoadState('networkidle');
        await page.waitForTimeout(300); // charts and lists settle after their data arrives
        expect(await page.evaluate(() => document.documentElement.dataset.theme ?? getComputedStyle(document.documentElement).colorScheme)).toContain(theme.toLowerCase());
        await page.screenshot({ path: screenshotPath(`page-${id}-${theme.toLowerCase()}`) });
        const found = await violations(page);
        if (found.length) problems[id] = found;
      }
      expect(problems).toEqual({});
    });
  }
});

describe('every chart', () => {
  test('downloads its data as CSV: the run page\'s loss chart, one row per step with the raw and smoothed curves', async () => {
    await page.goto(`${server.origin}/#/runs/${runId}`);
    const chart = page.locator('figure').filter({ has: page.locator('figcaption .key', { hasText: /^loss$/ }) });
    const [file] = await Promise.all([page.waitForEvent('download'), chart.getByRole('button', { name: 'Download loss as CSV' }).click()]);
    expect(file.suggestedFilename()).toBe('loss.csv');
    const rows = fs.readFileSync((await file.path())!, 'utf8').trimEnd().split('\r\n');
    expect(rows[0]).toBe('step,loss (raw),loss (smoothed),scheduled_removal');
    expect(rows).toHaveLength(13);
    expect(rows[1]!.split(',').map(Number)).toEqual([1, 2, 2, 1]);
    expect(rows[12]!.split(',')[1]).toBe(String(2 / 12));
  });

  test('the run page opens with a card of each metric\'s final figure', async () => {
    await page.goto(`${server.origin}/#/runs/${runId}`);
    const summary = page.locator('dl[aria-label="Final figures"] .figure-card');
    await summary.first().waitFor();
    const texts = (await summary.allTextContents()).map((t) => t.replace(/\s+/g, ' ').trim());
    expect(texts).toEqual(['loss 0.1667 at step 12', 'val_accuracy 0.75 at step 12', 'test_accuracy 0.7 at step 12', 'scheduled_removal 8 at step 12']);
  });
});

