/**
 * `stepwise train` and `stepwise eval` in child processes, as a person runs
 * them: a tiny config on 2×2 multiplication (test/services/tiny-run.ts), the
 * store in a temporary data folder, checked afterwards through a lab.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { writeMultFiles } from '../../src-main/methods/icot/mult.ts';
import { openLab } from '../../src-main/services/lab.ts';
import { expectResumedSteps, untilCheckpointRecorded } from '../services/interrupted.ts';
import { BATCHES_PER_EPOCH, tinyConfig, writeTinyMult } from '../services/tiny-run.ts';

const BIN = fileURLToPath(new URL('../../bin/stepwise.js', import.meta.url));

let work: string;
let dataDir: string;
const children: ChildProcess[] = [];
beforeEach(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-train-'));
  dataDir = path.join(work, 'lab');
  await writeTinyMult(path.join(work, 'mult'));
});
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  fs.rmSync(work, { recursive: true, force: true });
});

/** A config file in the work folder, its data paths relative to it. */
function writeConfig(name: string, config: unknown): string {
  const file = path.join(work, name);
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}
const relativeData = { train: 'mult/train.txt', valid: 'mult/valid.txt', test: 'mult/test.txt' };

function stepwise(args: string[]) {
  const { STEPWISE_DATA_DIR: _, ...env } = process.env;
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: work, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `stepwise …` in the background, with its output so far and a way to wait for a line of it. */
function background(args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: work, env: { ...process.env, STEPWISE_DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const out = { stdout: '', stderr: '' };
  child.stdout!.on('data', (d) => (out.stdout += d));
  child.stderr!.on('data', (d) => (out.stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const waitFor = async (pattern: RegExp) => {
    for (let waited = 0; !pattern.test(out.stderr); waited += 20) {
      if (waited > 30_000 || child.exitCode !== null) throw new Error(`no ${pattern} in:\n${out.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { child, out, exited, waitFor };
}

function inStore<T>(read: (lab: ReturnType<typeof openLab>) => T): T {
  const lab = openLab(dataDir);
  try {
    return read(lab);
  } finally {
    lab.close();
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('stepwise train', () => {
  test('CONFIG.json trains in the store the app reads, printing a line per epoch and the result, and exits 0; eval then scores it and stores its predictions', async () => {
    const config = writeConfig('tiny.json', tinyConfig(relativeData));
    const trained = stepwise(['train', config, '--data-dir', dataDir]);
    expect([trained.code, trained.stdout.split('\n')[0]]).toEqual([0, 'Run 1 completed at step 12.']);
    expect(trained.stdout).toMatch(/^Test accuracy \d+\.\d% \(\d\/8\), [\d.]+ examples\/s\.$/m);
    expect(trained.stdout).toMatch(/^Wall time \d+\.\d minutes\.$/m);
    expect(trained.stdout).toContain(`Model 1 "tiny (best)": ${path.join(dataDir, 'runs/1/best')}\n`);
    // stderr is a pipe here: plain lines, no redrawing.
    expect(trained.stderr).not.toContain('\r');
    expect(trained.stderr).toMatch(/^Training run 1 "tiny" \(icot-si\) in .+\. Ctrl-C cancels it, keeping a checkpoint to resume from\.$/m);
    for (const [epoch, step] of [[1, 4], [2, 8], [3, 12]]) {
      expect(trained.stderr).toMatch(new RegExp(`^epoch ${epoch}/3 \\(step ${step}\\) · validation accuracy \\d+\\.\\d% · CoT tokens removed \\d+`, 'm'));
    }
    expect(trained.stderr).toMatch(/^step 12\/12 100% · [\d.]+k? tok\/s · loss \d\.\d{4} · CoT removed: all$/m);

    const { run, losses, models } = inStore((lab) => ({
      run: lab.store.runs.get(1)!,
      losses: lab.store.metrics.series(1, { keys: ['loss'] })[0].steps,
      models: lab.store.models.list(10, 0).items,
    }));
    expect(run).toMatchObject({ name: 'tiny', method: 'icot-si', status: 'completed', error: null });
    expect(run.config.data).toEqual({ train: path.join(work, 'mult/train.txt'), valid: path.join(work, 'mult/valid.txt'), test: path.join(work, 'mult/test.txt') });
    expect(losses).toEqual(range(1, 12));
    expect(models.map((m) => [m.runId, m.path])).toEqual([[1, 'runs/1/best']]);

    const scored = stepwise(['eval', '--run', '1', '--data', 'mult/test.txt', '--data-dir', dataDir]);
    expect(scored.code).toBe(0);
    const [, correct] = /^accuracy {2}\d+\.\d% \((\d)\/8\)$/m.exec(scored.stdout)!;
    expect(scored.stdout).toMatch(/^speed {5}[\d.]+ examples\/s at batch size 1 \(the paper's speed protocol\)$/m);
    const bestStep = (models[0].source as { step: number }).step;
    expect(scored.stdout).toContain(`stored    predictions under run 1, split "eval:test.txt", step ${bestStep}\n`);
    const stored = inStore((lab) => lab.store.predictions.evaluations(1, 'eval:test.txt'));
    expect(stored).toEqual([{ step: bestStep, total: 8, correct: Number(correct) }]);

    const checkpoint = stepwise(['eval', '--run', '1', '--checkpoint', '4', '--data', 'mult/test.txt', '--limit', '5', '--batch-size', '4', '--split', 'probe', '--data-dir', dataDir]);
    expect(checkpoint.stdout).toMatch(/^Evaluated run 1, checkpoint of step 4 on mult\/test.txt$/m);
    expect(checkpoint.stdout).toMatch(/^speed {5}[\d.]+ examples\/s at batch size 4$/m);
    expect(inStore((lab) => lab.store.predictions.evaluations(1, 'probe').map((e) => [e.step, e.total]))).toEqual([[4, 5]]);

    const folder = stepwise(['eval', '--model', path.join(dataDir, 'runs/1/best'), '--data', 'mult/valid.txt', '--data-dir', dataDir]);
    expect(folder.stdout).toMatch(/^accuracy {2}\d+\.\d% \(\d\/8\)$/m);
    expect(folder.stdout).toContain(`stored    predictions under run 1, split "eval:valid.txt", step ${bestStep}\n`);
  });

  test('eval scores only multiplication of the digits the run trained on: another digit count or another task is refused, naming the file and example', async () => {
    expect(stepwise(['train', writeConfig('tiny.json', tinyConfig(relativeData, 1)), '--data-dir', dataDir]).code).toBe(0);
    await writeMultFiles({ digitsA: 3, digitsB: 3, counts: { train: 0, valid: 0, test: 4 }, seed: 2 }, { test: path.join(work, 'three.txt') });
    const three = stepwise(['eval', '--run', '1', '--data', 'three.txt', '--data-dir', dataDir]);
    expect(three.code, three.stderr).toBe(1);
    expect(three.stderr).toContain(`three.txt, example 1: 3×3 multiplication, but run 1 was trained on 2×2: evaluate it on 2×2 problems`);
    fs.writeFileSync(path.join(work, 'gsm.txt'), 'Janet has 3 apples and buys 2 more. How many?||<<3+2=5>> #### 5\n');
    const gsm = stepwise(['eval', '--run', '1', '--data', 'gsm.txt', '--data-dir', dataDir]);
    expect(gsm.code, gsm.stderr).toBe(1);
    expect(gsm.stderr).toContain(`gsm.txt, example 1: "Janet has 3 apples and buys 2 more. How many?" is not multiplication in the paper's format`);
    expect(stepwise(['eval', '--run', '1', '--data', 'mult/test.txt', '--data-dir', dataDir]).code).toBe(0);
    expect(inStore((lab) => lab.store.predictions.evaluations(1, 'eval:three.txt'))).toEqual([]);
  });

  test('--model starts an ICoT run from a model folder (a finished run\'s model) instead of the config\'s model; a bad --model exits 2 and creates no run', () => {
    const config = writeConfig('tiny.json', tinyConfig(relativeData));
    expect(stepwise(['train', config, '--data-dir', dataDir]).code).toBe(0);
    const from = path.join(dataDir, 'runs/1/best');
    const second = stepwise(['train', config, '--name', 'from-1', '--model', from, '--data-dir', dataDir]);
    expect([second.code, second.stdout.split('\n')[0]]).toEqual([0, 'Run 2 completed at step 12.']);
    const run2 = inStore((lab) => lab.store.runs.get(2)!);
    expect(run2.config.model).toEqual({ kind: 'folder', path: from });
    // It really started from run 1's weights: run 1's last loss is far below a fresh model's first.
    const [loss1, loss2] = inStore((lab) => [1, 2].map((id) => lab.store.metrics.series(id, { keys: ['loss'] })[0].values));
    expect(loss2[0]!).toBeLessThan(loss1[0]!);

    const missing = stepwise(['train', config, '--model', path.join(work, 'nowhere'), '--data-dir', dataDir]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`stepwise train: --model ${path.join(work, 'nowhere')}: ${path.join(work, 'nowhere')} is not a model folder (it has no config.json)\n`);
    const both = stepwise(['train', '--resume', '1', '--model', from, '--data-dir', dataDir]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--model starts a new run from a model; a resumed run continues its own');
    expect(inStore((lab) => lab.store.runs.list({ limit: 10, offset: 0 }).items.length)).toBe(2);
  });

  test('a bad config exits 2 naming the file and every bad field, and creates no run', () => {
    const config = writeConfig('bad.json', { ...tinyConfig({ train: 'mult/train.txt', valid: 'mult/nope.txt' }), recipe: 'icot', train: { epochs: 0 } });
    const { code, stdout, stderr } = stepwise(['train', config, '--data-dir', dataDir]);
    expect([code, stdout]).toEqual([2, '']);
    expect(stderr).toBe(
      `stepwise train: ${config} is not a valid ICoT-SI run configuration:\n` +
        '  recipe: Invalid option: expected one of "cot"|"nocot"|"icot-si"\n' +
        '  train.epochs: Too small: expected number to be >0\n' +
        `  data.valid: there is no file ${path.join(work, 'mult/nope.txt')}\n`,
    );
    expect(inStore((lab) => lab.store.runs.count())).toBe(0);

    fs.writeFileSync(path.join(work, 'broken.json'), '{"recipe": "cot",');
    const broken = stepwise(['train', 'broken.json', '--data-dir', dataDir]);
    expect([broken.code, broken.stderr]).toEqual([2, expect.stringMatching(/^stepwise train: broken\.json is not valid JSON: /)]);
    expect(stepwise(['train', 'missing.json', '--data-dir', dataDir])).toMatchObject({ code: 2, stderr: 'stepwise train: cannot read the config missing.json: there is no such file\n' });
    expect(stepwise(['train', '--data-dir', dataDir])).toMatchObject({ code: 2, stderr: expect.stringContaining('expected CONFIG (a run config file) or --resume RUN_ID') });
    expect(stepwise(['train', '--resume', 'x', '--data-dir', dataDir])).toMatchObject({ code: 2, stderr: expect.stringContaining('--resume expects a run id, a positive whole number (got "x")') });
    expect(stepwise(['train', '--resume', '9', '--data-dir', dataDir])).toMatchObject({ code: 2, stderr: 'stepwise train: runs.resume: there is no run 9\n' });
  });

  test('Ctrl-C cancels after the current step, keeps its checkpoint and says how to resume', async () => {
    const config = writeConfig('long.json', tinyConfig(relativeData, 40));
    const training = background(['train', config]);
    await training.waitFor(/^epoch 1\/40 /m);
    training.child.kill('SIGINT');
    expect(await training.exited).toBe(130);
    const [, step] = /^Run 1 cancelled at step (\d+); its checkpoint is kept\. Continue with: stepwise train --resume 1$/m.exec(training.out.stdout)!;
    expect(training.out.stderr).toContain('Cancelling run 1 after its current step (Ctrl-C again to quit at once)…');
    const { run, checkpoints } = inStore((lab) => ({ run: lab.store.runs.get(1)!, checkpoints: lab.store.checkpoints.list(1).map((c) => c.step) }));
    expect(run.status).toBe('cancelled');
    expect(checkpoints.at(-1)).toBe(Number(step));
    expect(Number(step)).toBeLessThan(40 * BATCHES_PER_EPOCH);
  });

  test('a killed training process leaves an interrupted run, and train --resume finishes it from its checkpoint', async () => {
    const epochs = 12;
    const config = writeConfig('crash.json', tinyConfig(relativeData, epochs));
    const training = background(['train', config]);
    // Killed once the first checkpoint is recorded, so every step before it is too (killed between the file
    // and its row, the run would continue from the file and miss a few steps in its charts).
    await untilCheckpointRecorded(dataDir, { timeoutMs: 30_000, failure: () => `no checkpoint; stderr:\n${training.out.stderr}` });
    training.child.kill('SIGKILL');
    await training.exited;

    const resumed = stepwise(['train', '--resume', '1', '--data-dir', dataDir]);
    expect([resumed.code, resumed.stdout.split('\n')[0]]).toEqual([0, `Run 1 completed at step ${epochs * BATCHES_PER_EPOCH}.`]);
    expect(resumed.stderr).toMatch(/^Resuming run 1 "crash" \(icot-si\)/m);
    const { run, messages, losses } = inStore((lab) => ({
      run: lab.store.runs.get(1)!,
      messages: lab.store.logs.after(1, 0, 5000).map((l) => l.message),
      losses: lab.store.metrics.series(1, { keys: ['loss'] })[0].steps,
    }));
    expect(run).toMatchObject({ status: 'completed', error: null });
    const from = expectResumedSteps(losses, messages, epochs * BATCHES_PER_EPOCH);
    expect(from % BATCHES_PER_EPOCH).toBe(0);
  });
});
