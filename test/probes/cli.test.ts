/**
 * `stepwise probe` as a real process: it probes a run's every checkpoint into
 * the same store the app reads, says its estimate first, prints each point's
 * best probe with its baselines, and refuses a wrong call with exit code 2
 * naming what was wrong.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openLab } from '../../src-main/services/lab.ts';
import { tinyConfig, writeTinyMult } from '../services/tiny-run.ts';

const BIN = fileURLToPath(new URL('../../bin/stepwise.js', import.meta.url));

let work: string;
let dataDir: string;
let train: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-probe-cli-'));
  dataDir = path.join(work, 'lab');
  const data = await writeTinyMult(path.join(work, 'mult'));
  train = data.train;
  const lab = openLab(dataDir);
  try {
    const answer = await lab.dispatch('runs.start', { method: 'icot-si', name: 'tiny', config: tinyConfig(data, 2) });
    if (!answer.ok) throw new Error(answer.error.message);
    await lab.training.whenDone((answer.result as { id: number }).id);
  } finally {
    lab.close();
  }
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function stepwise(args: string[]) {
  const { STEPWISE_DATA_DIR: _, ...env } = process.env;
  const r = spawnSync(process.execPath, [BIN, ...args, '--data-dir', dataDir], { cwd: work, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('stepwise probe', () => {
  test('probes every checkpoint of a run into the store, estimate first, best probe per point after', () => {
    const r = stepwise(['probe', '--run', '1', '--checkpoint', 'all', '--data', train, '--target', 'pp0.d1', '--slot', 'eos.0', '--slot', 'cot.7', '--seeds', '2', '--name', 'from the CLI']);
    expect(r.stderr).toMatch(/^Probing 2 points \(step 4, step 8\) on 64 examples of up to 17 tokens: 1 target × 2 layers × 2 positions, 64 fits; captures take \d+\.\d MiB\./m);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^step 4 \(\d of 8 CoT tokens removed\):\n {2}pp0\.d1 +best at layer [01], (eos\.0|cot\.7): accuracy \d\.\d{3} ± \d\.\d{3}; majority \d\.\d{3}, control \d\.\d{3} \(selectivity -?\d\.\d{3}\), random model \d\.\d{3}$/m);
    expect(r.stdout).toMatch(/^Probe job 1 completed: .*probes[\\/]1 \(\d+\.\d MiB\)\.$/m);
    const lab = openLab(dataDir);
    try {
      const job = lab.store.probes.get(1)!;
      expect(job.name).toBe('from the CLI');
      expect(job.status).toBe('completed');
      expect(job.summary.points.map((p) => p.step)).toEqual([4, 8]);
      expect(fs.existsSync(path.join(dataDir, 'probes', '1', 'point-1', 'results.json'))).toBe(true);
    } finally {
      lab.close();
    }
  });

  test('--estimate prints what it would do and stores nothing', () => {
    const r = stepwise(['probe', '--run', '1', '--checkpoint', 'latest', '--data', train, '--estimate', '--no-random']);
    expect(r.code, r.stderr).toBe(0);
    const est = JSON.parse(r.stdout);
    expect(est.examples).toBe(64);
    expect(est.points).toHaveLength(1);
    expect(est.targets).toContain('pp1.d3');
    const lab = openLab(dataDir);
    try {
      expect(lab.store.probes.list(10, 0).total).toBe(1);
    } finally {
      lab.close();
    }
  });

  test('a wrong call exits 2 naming what was wrong', () => {
    const unknown = stepwise(['probe', '--run', '1', '--data', train, '--target', 'pp7.d0']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/stepwise probe: probes\.estimate: the data offers no target "pp7\.d0"/);
    const both = stepwise(['probe', '--run', '1', '--model', work, '--data', train]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give one of --run ID, --model DIR or --model-id ID');
    const control = stepwise(['probe', '--run', '1', '--data', train, '--control', 'word']);
    expect(control.code).toBe(2);
    expect(control.stderr).toContain('--control expects input or token (got "word")');
  });
});
