// A run's round trip through a cluster job, in Chromium through `stepwise serve` (issue 25, "Done
// when"): a tiny ICoT-SI run trains in the lab; its page exports it as a job folder; train.py runs
// the job under torchrun with two processes on the CPU (gloo); the Runs page imports the folder; the
// imported run's page says where it trained and opens Compare beside its parent run. Then a job
// folder written by hand, half-finished and later progressed, is imported and brought up to date.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Run } from '../../src-main/contract/entities.ts';
import { writeJob } from '../jobs/import-fixture.ts';
import { PYTHON, python } from '../jobs/python.ts';
import { tinyJobConfig } from '../jobs/tiny-job.ts';
import { writeTinyMult } from '../services/tiny-run.ts';
import { callApi, eventually, freshDir, screenshotPath, startApp, type Server } from './harness.ts';

let server: Server;
let page: Page;
let stop: () => Promise<void>;
let parent: Run;
let work: string;

beforeAll(async () => {
  work = freshDir('cluster-job');
  ({ server, page, stop } = await startApp());
  const data = await writeTinyMult(path.join(server.dataDir, 'mult'));
  parent = await callApi<Run>(server, 'runs.start', { method: 'icot-si', name: 'tiny 2×2', config: tinyJobConfig(data, 'gpt2') });
  for (const until = Date.now() + 120_000; (await callApi<Run>(server, 'runs.get', { id: parent.id })).status !== 'completed'; ) {
    if (Date.now() > until) throw new Error(`the tiny run did not complete in 2 minutes:\n${server.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}, 180_000);

afterAll(async () => {
  await stop?.();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

async function importThroughTheRunsPage(folder: string): Promise<void> {
  await page.goto(`${server.origin}/#/runs`);
  await page.getByRole('button', { name: 'Import a cluster job…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Import a cluster job' });
  await dialog.getByLabel(/Job folder/).fill(folder);
  await dialog.getByRole('button', { name: 'Import', exact: true }).click();
}

describe('a run through a cluster job, in the app', () => {
  test.skipIf(!PYTHON)('exported from its page, trained by torchrun on 2 CPU processes, imported from Runs, and compared beside its parent', async () => {
    const job = path.join(work, 'job');
    await page.goto(`${server.origin}/#/runs/${parent.id}`);
    await page.getByRole('button', { name: 'Export as a cluster job…' }).click();
    const exportDialog = page.getByRole('dialog', { name: 'Export as a cluster job' });
    await exportDialog.getByLabel(/Job folder/).fill(job);
    await exportDialog.getByRole('button', { name: 'Export', exact: true }).click();
    await eventually(() => page.getByTestId('export-written').textContent()).toMatch(new RegExp(`files in ${job}: icot-si, 8 steps`));
    await page.getByRole('dialog', { name: 'Exported as a cluster job' }).getByRole('button', { name: 'Done' }).click();
    expect(JSON.parse(fs.readFileSync(path.join(job, 'job.json'), 'utf8')).parent).toEqual({ runId: parent.id, name: 'tiny 2×2', lab: server.dataDir });

    // --redirects 1 --tee 1: Debian's torch 1.13 under Python 3.11 cannot parse torchrun's default (no redirection).
    await python(['-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', '--redirects', '1', '--tee', '1', 'train.py', 'job.json', '--threads', '1'], job);
    expect(JSON.parse(fs.readFileSync(path.join(job, 'out', 'run.json'), 'utf8'))).toMatchObject({ status: 'completed', worldSize: 2, step: 8 });

    await importThroughTheRunsPage(job);
    await eventually(() => page.locator('h1').textContent()).toBe('tiny 2×2 (cluster job)');
    const imported = Number(/#\/runs\/(\d+)$/.exec(page.url())![1]);
    expect(await page.getByTestId('origin-machine').textContent()).toBe(os.hostname());
    expect((await page.getByTestId('origin-hardware').textContent())!.replace(/\s+/g, ' ').trim()).toBe('CPU, 2 processes');
    expect(await page.getByTestId('origin-folder').textContent()).toBe(job);
    expect((await page.getByTestId('origin-parent').textContent())!.replace(/\s+/g, ' ')).toContain(`run #${parent.id} “tiny 2×2”`);
    // What the job recorded: its checkpoints (one per epoch) and its metrics, drawn.
    await eventually(() => page.locator('table[aria-label="Checkpoints"] tbody tr td.num:first-child').allTextContents()).toEqual(['4', '8']);
    await eventually(() => page.locator('.charts figure').count()).toBeGreaterThan(0);
    await page.screenshot({ path: screenshotPath('cluster-job-run'), fullPage: true });

    await page.getByRole('link', { name: `Compare with run #${parent.id}` }).click();
    await eventually(() => page.locator('h1').textContent()).toBe('Compare');
    const compared = page.locator('table[aria-label="Selected runs compared"] thead th.run');
    await eventually(() => compared.allTextContents()).toEqual(['tiny 2×2 (cluster job)', 'tiny 2×2']);
    // Both runs' losses on one chart.
    const loss = page.locator('.charts figure').filter({ has: page.locator('figcaption .key', { hasText: /^loss$/ }) });
    await eventually(() => loss.locator('path.series').count()).toBe(2);
    await page.screenshot({ path: screenshotPath('cluster-job-compare'), fullPage: true });

    // Its best model is in the Library, saying where it trained.
    await page.goto(`${server.origin}/#/library`);
    const row = page.locator('table[aria-label="Models"] tbody tr').filter({ hasText: 'tiny 2×2 (cluster job) (best)' });
    await eventually(() => row.locator('.source').textContent()).toMatch(new RegExp(`^Trained in run #${imported} on ${os.hostname()} \\(CPU, \\d+ s\\)$`));

    // The same folder again: refused, naming the run it became.
    await importThroughTheRunsPage(job);
    await eventually(() => page.getByRole('dialog', { name: 'Import a cluster job' }).getByRole('alert').textContent()).toContain(
      `was already imported as run ${imported} “tiny 2×2 (cluster job)” (step 8, completed); the job has not progressed since`,
    );
    await page.getByRole('dialog', { name: 'Import a cluster job' }).getByRole('button', { name: 'Cancel' }).click();
  }, 240_000);

  test('a half-finished job imports what it has; once it has progressed, the dialog offers to update the run it became', async () => {
    const job = path.join(work, 'by-hand');
    const spec = { parent: { runId: parent.id, name: 'tiny 2×2', lab: server.dataDir }, step: 6, status: 'running' as const, checkpoints: [4], machine: 'gpu-node-7', gpus: 4 };
    writeJob(job, spec);
    await importThroughTheRunsPage(job);
    await eventually(() => page.locator('h1').textContent()).toBe('tiny 2×2 (cluster job)');
    const imported = Number(/#\/runs\/(\d+)$/.exec(page.url())![1]);
    expect((await page.getByTestId('origin-hardware').textContent())!.replace(/\s+/g, ' ').trim()).toBe('4 GPUs (NVIDIA H100 80GB HBM3), 4 processes');
    expect(await page.locator('.facts').getByText('cancelled').count()).toBe(1);
    // An imported run goes on on the cluster, not here: no Resume.
    expect(await page.getByRole('button', { name: 'Resume' }).count()).toBe(0);
    await eventually(() => page.locator('table[aria-label="Checkpoints"] tbody tr').count()).toBe(1);

    writeJob(job, { ...spec, step: 12, status: 'completed', checkpoints: [4, 8, 12], best: true });
    await importThroughTheRunsPage(job);
    const dialog = page.getByRole('dialog', { name: 'Import a cluster job' });
    await eventually(() => dialog.getByRole('alert').textContent()).toContain(`the job has progressed since (step 12, completed)`);
    await dialog.getByRole('button', { name: 'Update that run' }).click();
    await eventually(() => page.url()).toMatch(new RegExp(`#/runs/${imported}$`));
    await eventually(() => page.locator('table[aria-label="Checkpoints"] tbody tr').count()).toBe(3);
    expect(await page.locator('.facts').getByText('completed').count()).toBe(1);
  }, 120_000);
});
