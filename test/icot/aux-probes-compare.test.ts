// The running sums ĉ_k probed in two models side by side on the Probes page, in Chromium against a
// real `stepwise serve`: a tiny No-CoT run with the running-sum loss and the same run without it,
// each probed for chat0…chat3 at the answer's tokens; the page shows both R² tables with the
// values probes.results holds.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import type { Probe, ProbeResults } from '../../src-main/contract/areas/probes.ts';
import type { Run } from '../../src-main/contract/entities.ts';
import { assertRendererBuilt, callApi, launchBrowser, screenshotPath, startServer, type Browser, type Server } from '../browser/harness.ts';
import { tinyConfig, writeTinyMult } from '../services/tiny-run.ts';

let server: Server;
let browser: Browser;
let page: Page;
const jobs: Probe[] = [];

const api = <T>(name: string, input?: unknown) => callApi<T>(server, name, input);
async function until<T>(read: () => Promise<T>, done: (x: T) => boolean): Promise<T> {
  for (;;) {
    const x = await read();
    if (done(x)) return x;
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  assertRendererBuilt();
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  const data = await writeTinyMult(join(server.dataDir, 'mult'));
  const base = tinyConfig(data, 2);
  for (const [name, runningSum] of [['No CoT + running sum', { weight: 1 }], ['No CoT', undefined]] as const) {
    const config = { ...base, recipe: 'nocot', model: { ...base.model, layers: 2 }, runtime: { threads: 1 }, ...(runningSum ? { runningSum } : {}) };
    const started = await api<Run>('runs.start', { method: 'icot-si', name, config });
    const run = await until(() => api<Run>('runs.get', { id: started.id }), (r) => r.status !== 'running' && r.status !== 'queued');
    expect(run.status).toBe('completed');
    const probe = await api<Probe>('probes.start', {
      name: `ĉ in ${name}`,
      source: { runId: run.id, checkpoints: 'best' },
      data: { file: data.train },
      targets: ['chat0', 'chat1', 'chat2', 'chat3'],
      slots: ['answer.0', 'answer.1', 'answer.2', 'answer.3', 'answer.4'],
      seeds: 1,
      randomBaseline: false,
      attention: false,
    });
    jobs.push(await until(() => api<Probe>('probes.get', { id: probe.id }), (p) => p.status !== 'running'));
  }
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('running sums side by side on the Probes page', () => {
  test('two probe jobs of ĉ_k show as two R² tables (ĉ_0…ĉ_3 × layers), read at the answer digits, with the values the probes hold', async () => {
    expect(jobs.map((j) => j.status)).toEqual(['completed', 'completed']);
    await page.goto(`${server.url.split('#')[0]}#/probes`);
    const section = page.locator('section.compare');
    await section.getByText('Running sums ĉ_k side by side').waitFor();
    await section.getByLabel('Model 1').selectOption({ label: jobs[0].name });
    await section.getByLabel('Model 2').selectOption({ label: jobs[1].name });
    const figures = section.locator('figure');
    await expect.poll(() => figures.locator('table').count()).toBe(2);
    for (const [i, job] of jobs.entries()) {
      const figure = figures.nth(i);
      expect(await figure.locator('figcaption').textContent()).toContain(job.name);
      expect(await figure.locator('tbody th').allTextContents()).toEqual(['ĉ_0', 'ĉ_1', 'ĉ_2', 'ĉ_3']);
      const r = await api<ProbeResults>('probes.results', { id: job.id, point: 0 });
      expect(await figure.locator('thead th').allTextContents()).toEqual(['ĉ_k', ...Array.from({ length: r.layers }, (_, l) => `L${l}`)]);
      // ĉ_1 at the token of answer digit 1 (answer.2; answer.0 is ####), last layer.
      const last = r.layers - 1;
      const score = r.targets.find((t) => t.name === 'chat1')!.cells[last][r.slots.indexOf('answer.2')]!.score;
      expect(await figure.locator('tbody tr').nth(1).locator('td').nth(last).textContent()).toBe(score.toFixed(2));
    }
    // Read before the digit instead: ĉ_1 at answer.1.
    await section.getByLabel('Read at').selectOption('before-digit');
    const r = await api<ProbeResults>('probes.results', { id: jobs[0].id, point: 0 });
    const before = r.targets.find((t) => t.name === 'chat1')!.cells[0][r.slots.indexOf('answer.1')]!.score;
    expect(await figures.nth(0).locator('tbody tr').nth(1).locator('td').nth(0).textContent()).toBe(before.toFixed(2));
    await section.screenshot({ path: screenshotPath('probes-running-sums-side-by-side') });
  });
});
