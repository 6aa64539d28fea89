// `stepwise import-job DIR` as a real process: what it prints, its exit codes, and --update.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DATABASE_FILE } from '../../src-main/services/paths.ts';
import { openStore } from '../../src-main/store/store.ts';
import { tinyJobConfig, writeJob, type JobSpec } from './import-fixture.ts';

const BIN = fileURLToPath(new URL('../../bin/stepwise.js', import.meta.url));
let work: string;
let lab: string;
let job: string;
let spec: JobSpec;

function stepwise(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args, '--data-dir', lab], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-import-cli-'));
  lab = path.join(work, 'lab');
  fs.mkdirSync(lab);
  const store = openStore(path.join(lab, DATABASE_FILE));
  const parent = store.runs.create({ method: 'icot-si', name: 'tiny 2x2', config: tinyJobConfig() as never });
  store.close();
  job = path.join(work, 'job');
  spec = { parent: { runId: parent.id, name: 'tiny 2x2', lab }, step: 6, status: 'running', checkpoints: [4], machine: 'gpu-node-7', gpus: 8, wallSeconds: 3725 };
  writeJob(job, spec);
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('stepwise import-job', () => {
  test('imports a job folder and says what it became, where it trained and what it holds; a second import exits 1 naming the run', () => {
    const first = stepwise('import-job', job);
    expect(first.stderr).toBe('');
    expect(first.stdout).toBe(
      'Imported run 2 "tiny 2x2 (cluster job)" (cancelled) from the job of run 1 "tiny 2x2".\n' +
        'Trained on gpu-node-7, 8 GPUs (NVIDIA H100 80GB HBM3), 8 processes: step 6, epoch 1, wall time 1 h 2 min (job running).\n' +
        '7 metric records, 1 evaluation, 1 checkpoint; no best model yet.\n',
    );
    expect(first.code).toBe(0);
    const again = stepwise('import-job', job);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`stepwise import-job: ${job} was already imported as run 2 “tiny 2x2 (cluster job)” (step 6, running); the job has not progressed since (step 6, running), so there is nothing new to import\n`);
  });

  test('--update brings the run up to date once the job has progressed; --json prints the procedure\'s output', () => {
    writeJob(job, { ...spec, step: 12, status: 'completed', checkpoints: [4, 8, 12], best: true });
    const updated = stepwise('import-job', job, '--update', '--json');
    expect(updated.code).toBe(0);
    const out = JSON.parse(updated.stdout) as { updated: boolean; run: { id: number; status: string }; checkpoints: number; model: { name: string } };
    expect(out).toMatchObject({ updated: true, run: { id: 2, status: 'completed' }, checkpoints: 3, model: { name: 'tiny 2x2 (cluster job) (best)' } });
  });

  test('a folder that is not a job folder exits 1 saying which file is missing', () => {
    expect(stepwise('import-job', work)).toMatchObject({ code: 1, stderr: `stepwise import-job: ${path.join(work, 'job.json')}: missing: is this a job folder that \`stepwise export-job\` wrote?\n` });
  });
});
