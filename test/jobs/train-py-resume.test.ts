/**
 * A job resumes (issue 25, part 5): `train.py --resume` continues from the last checkpoint in
 * out/checkpoints (the model, the optimizer, the data position and the curriculum), so a job
 * stopped or killed part-way ends with the metrics of a job never interrupted, bit for bit.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PYTHON, python } from './python.ts';
import { exportTinyJob, readMetrics, tinyJobConfig, type JobMetric } from './tiny-job.ts';

let dir: string;
let job: string;
let whole: JobMetric[];

/** What must not change with an interruption: every record's step, epoch and values but the measured speeds and times. */
const figures = (metrics: JobMetric[]) =>
  metrics.map((m) => ({ step: m.step, epoch: m.epoch, values: Object.fromEntries(Object.entries(m.values).filter(([k]) => !/per_s$|^wall_minutes$/.test(k))) }));

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-resume-'));
  if (!PYTHON) return;
  ({ job } = await exportTinyJob(dir, 'job', (d) => tinyJobConfig(d, 'gpt2')));
  await python(['train.py', 'job.json', '--threads', '1', '--out', 'whole'], job);
  whole = readMetrics(job, 'whole');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!PYTHON)('train.py --resume', () => {
  test('stopped after step 6 (mid-epoch), then resumed: the metrics of the uninterrupted job, bit for bit', async () => {
    const out = await python(['train.py', 'job.json', '--threads', '1', '--out', 'stopped', '--stop-after', '6'], job);
    expect(out).toContain('stopped after step 6 of 8');
    expect(fs.readdirSync(path.join(job, 'stopped/checkpoints')).sort()).toEqual(['step-4', 'step-6']);
    expect(JSON.parse(fs.readFileSync(path.join(job, 'stopped/run.json'), 'utf8'))).toMatchObject({ status: 'running', step: 6 });
    expect(await python(['train.py', 'job.json', '--threads', '1', '--out', 'stopped', '--resume'], job)).toContain('at step 6');
    expect(figures(readMetrics(job, 'stopped'))).toEqual(figures(whole));
  });

  test('killed after step 6 with its last checkpoint at step 4 (the end of epoch 1): resumed from step 4, steps 5 and 6 trained again, the same metrics', async () => {
    await python(['train.py', 'job.json', '--threads', '1', '--out', 'killed', '--stop-after', '6'], job);
    // A job killed after step 6 has the checkpoints of its interval (every epoch) and the metrics of every step.
    fs.rmSync(path.join(job, 'killed/checkpoints/step-6'), { recursive: true });
    expect(readMetrics(job, 'killed').at(-1)!.step).toBe(6);
    expect(await python(['train.py', 'job.json', '--threads', '1', '--out', 'killed', '--resume'], job)).toContain('at step 4');
    expect(figures(readMetrics(job, 'killed'))).toEqual(figures(whole));
    expect(JSON.parse(fs.readFileSync(path.join(job, 'killed/run.json'), 'utf8'))).toMatchObject({ status: 'completed', step: 8 });
  });

  test('--resume with no checkpoint says there is none to continue from', async () => {
    await expect(python(['train.py', 'job.json', '--out', 'empty', '--resume'], job)).rejects.toThrow(/--resume: .*empty\/checkpoints holds no checkpoint/);
  });
});
