// Importing a cluster job folder (docs/JOB-FORMAT.md) as a run: folders written by hand in the
// documented format, a real lab (SQLite store, data folder) and the contract's dispatcher.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { JobImportResult } from '../../src-main/contract/areas/jobs.ts';
import type { Run } from '../../src-main/contract/entities.ts';
import { StepwiseError } from '../../src-main/contract/errors.ts';
import { openLab, type Lab } from '../../src-main/services/lab.ts';
import { STARTED, lossAt, tinyJobConfig, writeJob, type JobSpec } from './import-fixture.ts';

let work: string;
let lab: Lab;
let parent: Run;
let jobDir: string;

beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-import-job-'));
  lab = openLab(path.join(work, 'lab'));
  parent = lab.store.runs.create({ method: 'icot-si', name: 'tiny 2x2', config: tinyJobConfig() as never });
  lab.store.runs.setStatus(parent.id, 'completed');
  jobDir = path.join(work, 'job');
});
afterEach(() => {
  lab.close();
  fs.rmSync(work, { recursive: true, force: true });
});

const spec = (over: Partial<JobSpec> = {}): JobSpec => ({
  parent: { runId: parent.id, name: parent.name, lab: lab.dataDir },
  step: 12,
  status: 'completed',
  checkpoints: [4, 8, 12],
  best: true,
  ...over,
});

async function imported(input: { path: string; update?: boolean; name?: string }): Promise<JobImportResult> {
  const answer = await lab.dispatch('jobs.import', input);
  if (!answer.ok) throw new StepwiseError(answer.error.code, answer.error.message, answer.error.issues);
  return answer.result as JobImportResult;
}

async function refusal(input: { path: string; update?: boolean }): Promise<{ code: string; message: string; issues?: { path: (string | number)[]; message: string }[] }> {
  const answer = await lab.dispatch('jobs.import', input);
  if (answer.ok) throw new Error('the import was not refused');
  return answer.error;
}

/** Every row count and every file under runs/: what a refused import must leave as it was. */
function labState() {
  const runsDir = path.join(lab.dataDir, 'runs');
  return {
    runs: lab.store.runs.count(),
    models: lab.store.models.count(),
    metrics: lab.store.metrics.count(),
    checkpoints: lab.store.checkpoints.recent(100, 0).total,
    files: fs.existsSync(runsDir) ? fs.readdirSync(runsDir, { recursive: true }).sort() : [],
  };
}

describe('importing a cluster job', () => {
  test('a finished job becomes a completed run beside its parent, with its metrics, predictions, checkpoints, best model and where it ran', async () => {
    writeJob(jobDir, spec());
    const done = await imported({ path: jobDir });
    const { run } = done;
    expect(run).toMatchObject({ method: 'icot-si', name: 'tiny 2x2 (cluster job)', status: 'completed', parentRunId: parent.id, error: null });
    expect(run.startedAt).toBe(Date.parse(STARTED));
    expect(run.finishedAt).toBe(Date.parse(STARTED) + 95_000);
    expect(run.config).toEqual(tinyJobConfig());
    expect(run.origin).toMatchObject({
      kind: 'cluster-job', folder: jobDir, machine: 'gpu-node-7', worldSize: 2, gpus: { count: 2, name: 'NVIDIA H100 80GB HBM3' },
      wallSeconds: 95, status: 'completed', step: 12, epoch: 3, torch: '2.5.1', python: '3.11.9',
      parent: { runId: parent.id, name: 'tiny 2x2', lab: lab.dataDir },
    });
    expect(done).toMatchObject({ updated: false, checkpoints: 3, metricRecords: 15, evaluations: 3, warnings: [] });

    const [loss, valAccuracy] = lab.store.metrics.series(run.id, { keys: ['loss', 'val_accuracy'] });
    expect(loss.steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(loss.values).toEqual(loss.steps.map(lossAt));
    expect(loss.wallTimes[0]).toBe(Date.parse(STARTED) + 1000);
    expect(valAccuracy.values).toEqual([0.25, 0.5, 0.75]);
    expect(lab.store.predictions.evaluations(run.id, 'valid')).toEqual([4, 8, 12].map((step) => ({ step, total: 3, correct: 2 })));
    expect(lab.store.predictions.list(run.id, 'valid', 12)[2]).toMatchObject({ index: 2, generated: '#### 4 0 9', answer: '4 0 9', correct: false, cotTokens: 0 });

    // Checkpoints: Hugging Face folders in the run's folder, without the optimizer state, listed in the Library with their model.
    const checkpoints = lab.store.checkpoints.list(run.id);
    expect(checkpoints.map((c) => [c.step, c.path])).toEqual([4, 8, 12].map((s) => [s, path.join('runs', String(run.id), 'job', 'checkpoints', `step-${s}`)]));
    for (const c of checkpoints) {
      expect(fs.readdirSync(path.join(lab.dataDir, c.path)).sort()).toEqual(['config.json', 'model.safetensors']);
      expect(c.bytes).toBe(fs.statSync(path.join(lab.dataDir, c.path, 'model.safetensors')).size + fs.statSync(path.join(lab.dataDir, c.path, 'config.json')).size);
    }
    const listed = await lab.dispatch('models.checkpoints', { limit: 10, offset: 0 });
    expect(listed.ok && (listed.result as { items: { runId: number; runName: string; architecture: unknown; paramCount: number }[] }).items.map((c) => [c.runId, c.runName, c.architecture])).toEqual(
      [12, 8, 4].map(() => [run.id, 'tiny 2x2 (cluster job)', { family: 'gpt2', nLayer: 1, nHead: 2, nEmbd: 16, vocabSize: 32, blockSize: 32 }]),
    );

    // The best model: a Library model of this run, its provenance naming the job, the machine, the GPUs and the wall time.
    expect(done.model).toMatchObject({
      name: 'tiny 2x2 (cluster job) (best)', runId: run.id, path: path.join('runs', String(run.id), 'job', 'best'),
      source: { kind: 'trained', runId: run.id, recipe: 'icot-si', job: jobDir, machine: 'gpu-node-7', gpus: 2, gpuName: 'NVIDIA H100 80GB HBM3', worldSize: 2, wallSeconds: 95 },
    });
    expect(lab.store.models.get(done.model!.id)!.paramCount).toBeGreaterThan(0);
    const log = lab.store.logs.after(run.id, 0, 10).map((l) => l.message);
    expect(log[0]).toBe(`imported from the cluster job ${jobDir}: step 12, completed (epoch 3) on gpu-node-7, 2 GPUs (NVIDIA H100 80GB HBM3), 2 processes, wall time 1 min 35 s; torch 2.5.1, Python 3.11.9`);
    expect(log[1]).toBe(`exported from run ${parent.id} “tiny 2x2” of ${lab.dataDir} at 2026-12-07T21:55:00.000Z (Stepwise 0.1.0, commit abc1234)`);
    // Nothing is left staged.
    expect(fs.readdirSync(path.join(lab.dataDir, 'runs'))).toEqual([String(run.id)]);
  });

  test('a half-finished job imports what it has: a cancelled run, its complete checkpoints, its metrics up to a line cut off mid-write', async () => {
    writeJob(jobDir, spec({ step: 6, status: 'running', checkpoints: [4], best: false, wallSeconds: 40 }));
    // A checkpoint being written when the job was stopped (no weights yet), and a metrics line cut off.
    fs.mkdirSync(path.join(jobDir, 'out', 'checkpoints', 'step-6'));
    fs.writeFileSync(path.join(jobDir, 'out', 'checkpoints', 'step-6', 'config.json'), '{}');
    // Python's json writes a diverged value bare: NaN is a missing value, not a bad line.
    fs.appendFileSync(path.join(jobDir, 'out', 'metrics.jsonl'), '{"step": 6, "values": {"grad_norm": NaN, "note": Infinity}, "time": 1765144806000.4}\n');
    fs.appendFileSync(path.join(jobDir, 'out', 'metrics.jsonl'), '{"step": 7, "values": {"lo');
    const done = await imported({ path: jobDir });
    expect(done.run).toMatchObject({ status: 'cancelled', error: null, finishedAt: Date.parse(STARTED) + 40_000 });
    expect(done.run.origin).toMatchObject({ status: 'running', step: 6, ended: null, wallSeconds: 40 });
    expect(done.model).toBeNull();
    expect(lab.store.checkpoints.list(done.run.id).map((c) => c.step)).toEqual([4]);
    expect(lab.store.metrics.series(done.run.id, { keys: ['loss'] })[0].steps).toEqual([1, 2, 3, 4, 5, 6]);
    expect(lab.store.metrics.series(done.run.id, { keys: ['grad_norm', 'note'] }).map((m) => [m.steps, m.values, m.wallTimes])).toEqual([
      [[6], [null], [1765144806000]],
      [[6], [null], [1765144806000]],
    ]);
    expect(done.warnings).toEqual([
      `${path.join(jobDir, 'out', 'metrics.jsonl')} line 9 was cut off mid-write and is left out`,
      `${path.join(jobDir, 'out', 'checkpoints', 'step-6')} has no model weights yet (a checkpoint cut short) and is left out`,
    ]);
    expect(lab.store.logs.after(done.run.id, 0, 10).map((l) => l.message)).toContain('the job had not ended at import (step 6): import it again with update once it has progressed');
    // It goes on where it runs, not here.
    expect(await lab.dispatch('runs.resume', { id: done.run.id })).toEqual({
      ok: false,
      error: { code: 'conflict', message: `runs.resume: run ${done.run.id} was trained as a cluster job on gpu-node-7 and imported: continue the job there (train.py job.json --resume), then import it again to update this run` },
    });
  });

  test('a failed job is a failed run whose error is the job\'s', async () => {
    writeJob(jobDir, spec({ step: 5, status: 'failed', checkpoints: [4], best: false, error: 'CUDA out of memory' }));
    const { run } = await imported({ path: jobDir });
    expect(run.status).toBe('failed');
    expect(run.error).toBe('the cluster job failed on gpu-node-7 at step 5: CUDA out of memory');
  });

  test('a folder of a newer format version is refused, naming the version, and nothing is written', async () => {
    writeJob(jobDir, spec({ version: 2 }));
    const before = labState();
    expect(await refusal({ path: jobDir })).toEqual({
      code: 'invalid_input',
      message: `jobs.import: ${path.join(jobDir, 'job.json')}: is job format version 2, written by a newer Stepwise; this Stepwise reads version 1. Update Stepwise to import it.`,
      issues: [{ path: ['path'], message: expect.stringContaining('version 2') }],
    });
    expect(labState()).toEqual(before);
  });

  test('a job of a method this lab lacks, or of another method than its parent run, is refused', async () => {
    writeJob(jobDir, spec({ method: 'grpo' }));
    expect((await refusal({ path: jobDir })).message).toMatch(new RegExp(`job\\.json: method "grpo" is not one this lab has \\(it has icot-si, .*lora`));
    const lora = lab.store.runs.create({ method: 'lora', name: 'a lora run', config: {} });
    writeJob(jobDir, spec({ parent: { runId: lora.id, name: lora.name, lab: lab.dataDir } }));
    expect((await refusal({ path: jobDir })).message).toBe(
      `jobs.import: ${path.join(jobDir, 'job.json')}: method is icot-si, but run ${lora.id} “a lora run” it was exported from is lora: the job is of another recipe`,
    );
    expect(lab.store.runs.count()).toBe(2);
  });

  test('a malformed metrics line is an error naming the file and the line, and the store and data folder are left as they were', async () => {
    writeJob(jobDir, spec());
    const file = path.join(jobDir, 'out', 'metrics.jsonl');
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines[2] = '{"step": 3, "values": {"loss": "low"}, "time": 1}';
    fs.writeFileSync(file, lines.join('\n'));
    const before = labState();
    expect(await refusal({ path: jobDir })).toMatchObject({ code: 'invalid_input', message: `jobs.import: ${file} line 3: values.loss must be a number` });
    expect(labState()).toEqual(before);
    lines[2] = '{"step": 3, "values": {"loss": 1.5}';
    fs.writeFileSync(file, lines.join('\n'));
    expect((await refusal({ path: jobDir })).message).toMatch(new RegExp(`^jobs\\.import: ${file} line 3: is not a JSON object \\(`));
    expect(labState()).toEqual(before);
  });

  test('a job folder the job has not started in, or not a job folder at all, is refused saying so', async () => {
    writeJob(jobDir, spec());
    fs.rmSync(path.join(jobDir, 'out'), { recursive: true });
    expect((await refusal({ path: jobDir })).message).toBe(
      `jobs.import: ${path.join(jobDir, 'out', 'run.json')}: missing: the job has not started yet (train.py writes out/run.json at its start); there is nothing to import`,
    );
    expect((await refusal({ path: work })).message).toBe(`jobs.import: ${path.join(work, 'job.json')}: missing: is this a job folder that \`stepwise export-job\` wrote?`);
  });

  test('importing a job twice is refused naming its run; once the job has progressed, update brings that run up to date', async () => {
    writeJob(jobDir, spec({ step: 6, status: 'running', checkpoints: [4], best: false }));
    const first = await imported({ path: jobDir });
    await lab.dispatch('runs.update', { id: first.run.id, name: 'on the cluster', tags: ['cluster'] });

    expect(await refusal({ path: jobDir })).toEqual({
      code: 'conflict',
      message: `jobs.import: ${jobDir} was already imported as run ${first.run.id} “on the cluster” (step 6, running); the job has not progressed since (step 6, running), so there is nothing new to import`,
    });
    expect(await refusal({ path: jobDir, update: true })).toMatchObject({ code: 'conflict' });

    writeJob(jobDir, spec()); // the job went on to its end
    const refused = await refusal({ path: jobDir });
    const message = `${jobDir} was already imported as run ${first.run.id} “on the cluster” (step 6, running); the job has progressed since (step 12, completed): import it again with update to bring run ${first.run.id} up to date`;
    expect(refused).toEqual({ code: 'conflict', message: `jobs.import: ${message}`, issues: [{ path: ['update'], message }] });

    const second = await imported({ path: jobDir, update: true });
    expect(second.updated).toBe(true);
    expect(second.run).toMatchObject({ id: first.run.id, name: 'on the cluster', tags: ['cluster'], status: 'completed', parentRunId: parent.id });
    expect(second.run.origin).toMatchObject({ status: 'completed', step: 12 });
    expect(lab.store.runs.count()).toBe(2);
    expect(lab.store.checkpoints.list(first.run.id).map((c) => c.step)).toEqual([4, 8, 12]);
    expect(lab.store.metrics.series(first.run.id, { keys: ['loss'] })[0].steps).toHaveLength(12);
    expect(second.model).toMatchObject({ name: 'on the cluster (best)', runId: first.run.id });
    expect(fs.readdirSync(path.join(lab.dataDir, 'runs', String(first.run.id)))).toEqual(['job']);
    // The run's log keeps both imports.
    expect(lab.store.logs.after(first.run.id, 0, 20).filter((l) => /^(imported|updated) from/.test(l.message))).toHaveLength(2);
  });

  test('two copies of one job folder imported at once become one run; the other import is refused, naming it', async () => {
    writeJob(jobDir, spec());
    const copy = path.join(work, 'job-copy');
    fs.cpSync(jobDir, copy, { recursive: true });
    const answers = await Promise.all([jobDir, copy].map((p) => lab.dispatch('jobs.import', { path: p })));
    expect(answers.map((a) => a.ok).sort()).toEqual([false, true]);
    const run = (answers.find((a) => a.ok) as { result: JobImportResult }).result.run;
    const loser = answers[0].ok ? copy : jobDir;
    expect(answers.find((a) => !a.ok)).toEqual({ ok: false, error: { code: 'conflict', message: `jobs.import: ${loser} was imported as run ${run.id} “tiny 2x2 (cluster job)” while this import copied its files; nothing more was imported` } });
    expect(lab.store.runs.count()).toBe(2);
    expect(fs.readdirSync(path.join(lab.dataDir, 'runs'))).toEqual([String(run.id)]);
  });

  test('an import reports the files it copies (job.importProgress) and jobs.cancelImport stops it between two files, leaving nothing', async () => {
    writeJob(jobDir, spec());
    const before = labState();
    const seen: { path: string; done: number; total: number }[] = [];
    const cancels: Promise<unknown>[] = [];
    const off = lab.events.subscribe((event, payload) => {
      if (event !== 'job.importProgress') return;
      seen.push(payload as (typeof seen)[number]);
      if (seen.length === 1) cancels.push(lab.dispatch('jobs.cancelImport', { path: jobDir }));
    });
    try {
      expect(await refusal({ path: jobDir })).toEqual({ code: 'conflict', message: 'jobs.import: cancelled; nothing was imported' });
      expect(await Promise.all(cancels)).toEqual([{ ok: true, result: { cancelled: true } }]);
      // job.json, run.json, 3 checkpoints × (config.json, model.safetensors) and best/'s two: trainer.pt stays on the cluster.
      expect(seen[0]).toEqual({ path: jobDir, done: 0, total: 10 });
      expect(seen.at(-1)!.done).toBeLessThan(10);
      expect(labState()).toEqual(before);

      seen.length = 1; // no cancel this time
      await imported({ path: jobDir });
      expect(seen.slice(1)[0]).toEqual({ path: jobDir, done: 0, total: 10 });
      expect(seen.at(-1)).toEqual({ path: jobDir, done: 10, total: 10 });
      expect(await lab.dispatch('jobs.cancelImport', { path: jobDir })).toEqual({ ok: true, result: { cancelled: false } });
    } finally {
      off();
    }
  });
});
