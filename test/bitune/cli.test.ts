/**
 * `stepwise train`, `stepwise eval` and `stepwise results` on Bitune and LoRA
 * runs, in child processes as a person runs them: a tiny fresh GPT-2 on the
 * late-answer task (late-task.ts), the store in a temporary data folder, read
 * back afterwards through a lab.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { AdapterResultRow } from '../../src-main/contract/areas/adapters.ts';
import { evaluateAdapters } from '../../src-main/services/adapters-eval.ts';
import { openLab } from '../../src-main/services/lab.ts';
import { expectResumedSteps, untilCheckpointRecorded } from '../services/interrupted.ts';
import { lateTask, writeLateTask } from './late-task.ts';

const BIN = fileURLToPath(new URL('../../bin/stepwise.js', import.meta.url));

let work: string;
let dataDir: string;
let files: ReturnType<typeof writeLateTask>;

function stepwise(args: string[], dir = dataDir) {
  const { STEPWISE_DATA_DIR: _, ...env } = process.env;
  const r = spawnSync(process.execPath, [BIN, ...args, '--data-dir', dir], { cwd: work, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function inStore<T>(read: (lab: ReturnType<typeof openLab>) => T | Promise<T>, dir = dataDir): Promise<T> {
  const lab = openLab(dir);
  return Promise.resolve(read(lab)).finally(() => lab.close());
}

const config = (method: 'bitune' | 'lora') => ({
  method,
  model: { kind: 'fresh', layers: 1, dim: 32, heads: 2, seed: 0 },
  lora: { r: 4, alpha: 8 },
  data: { train: 'late/train.jsonl', test: 'late/test.jsonl' },
  train: { epochs: 2, batchSize: 16, lr: 3e-3, seed: 1 },
  eval: { everyEpoch: false, maxNewTokens: 4 },
  runtime: { threads: 1 },
});

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-bitune-cli-'));
  dataDir = path.join(work, 'lab');
  files = writeLateTask(path.join(work, 'late'), { train: 64, valid: 8, test: 24 });
  // GSM8K-style: the gold answer after ####, compared by the extracted number.
  fs.writeFileSync(path.join(work, 'late', 'gsm.jsonl'), lateTask(96, 0).slice(72).map((x) => JSON.stringify({ question: x.question, answer: `so it is #### ${x.answer}` })).join('\n'));
  for (const method of ['lora', 'bitune'] as const) fs.writeFileSync(path.join(work, `${method}.json`), JSON.stringify(config(method)));
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('stepwise on Bitune and LoRA runs', () => {
  test('train runs both methods from their configs; eval scores instruction, GSM8K-style and multiple-choice files into the store; results prints the table', async () => {
    for (const method of ['lora', 'bitune'] as const) {
      const r = stepwise(['train', path.join(work, `${method}.json`)]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^Run \d completed at step 8\.$/m);
      // The result is a library model: the base with the default adapter merged in.
      const id = method === 'lora' ? 1 : 2;
      expect(r.stdout).toContain(`Model ${id} "${method} (merged)": ${path.join(dataDir, 'runs', String(id), 'merged')}\n`);
    }
    const { models, logs } = await inStore((lab) => ({ models: lab.store.models.list(10, 0).items, logs: [1, 2].map((id) => lab.store.logs.after(id, 0, 1000).map((l) => l.message)) }));
    expect(models.map((m) => [m.id, m.runId, m.path, m.architecture.family, m.source])).toEqual([1, 2].map((id) => [id, id, `runs/${id}/merged`, 'gpt2', {
      kind: 'trained', runId: id, recipe: id === 1 ? 'lora' : 'bitune', step: 8, base: `runs/${id}/base`, adapters: `runs/${id}/adapters`, adapterFormat: 'peft', peft: 'lora',
      merged: id === 1 ? 'the default adapter merged into the base' : "the default adapter merged into the base (Bitune's decoder: it reads the prompt causally, without the mixed cache)",
    }]).sort((x, y) => Number(y[0]) - Number(x[0])));
    for (const [i, id] of [1, 2].entries()) {
      const done = logs[i].find((m) => m.startsWith('completed at step 8: '))!;
      expect(done).toMatch(new RegExp(`^completed at step 8: lora adapters in runs/${id}/adapters, merged model in runs/${id}/merged, registered as model ${id}; test accuracy \\d+\\.\\d% \\(\\d+/24\\)$`));
      expect(done).not.toContain('CoT');
    }

    const answers = stepwise(['eval', '--run', '2', '--data', files.test]);
    expect(answers.code, answers.stderr).toBe(0);
    const acc = /accuracy {2}(\d+\.\d)% \((\d+)\/24\)/.exec(answers.stdout);
    expect(acc, answers.stdout).not.toBeNull();
    expect(answers.stdout).toContain('stored    eval_acc.test under run 2 at step 8, predictions as split "eval:test.jsonl"');

    const mc = stepwise(['eval', '--run', '1', '--data', files.choices, '--limit', '10']);
    expect(mc.code, mc.stderr).toBe(0);
    const mcAcc = /acc {7}(\d+\.\d)% \((\d+)\/10\)\nacc_norm {2}(\d+\.\d)%/.exec(mc.stdout);
    expect(mcAcc, mc.stdout).not.toBeNull();
    expect(mc.stdout).toContain('stored    mc_acc.choices, mc_acc_norm.choices under run 1 at step 8');

    // The run's adapters folder, named as a folder: the same adapters, stored under the same run.
    const folder = stepwise(['eval', '--adapters', path.join(dataDir, 'runs', '2', 'adapters'), '--data', files.test]);
    expect(folder.code, folder.stderr).toBe(0);
    expect(folder.stdout).toContain(`accuracy  ${acc![1]}% (${acc![2]}/24)`);
    expect(folder.stdout).toContain('under run 2 at step 8');

    // The other sources, through the service the command calls (in this process: fewer slow process starts).
    fs.cpSync(path.join(dataDir, 'runs', '2', 'adapters'), path.join(work, 'copied'), { recursive: true });
    const trainedAcc = await inStore(async (lab) => {
      const evaluate = (source: Parameters<typeof evaluateAdapters>[1]['source'], dataFile = files.test, maxNewTokens?: number) => evaluateAdapters(lab, { source, dataFile, batchSize: 16, maxNewTokens });
      const gsm = await evaluate({ runId: 2 }, path.join(work, 'late', 'gsm.jsonl'));
      expect(gsm).toMatchObject({ kind: 'answers', name: 'gsm', total: 24, stored: { runId: 2, step: 8, keys: ['eval_acc.gsm'], split: 'eval:gsm.jsonl' } });
      // Copied out of the data folder, they belong to no run; their base is the one the adapters name.
      const copied = await evaluate({ adapters: path.join(work, 'copied') });
      expect([copied.correct, copied.stored]).toEqual([Number(acc![2]), null]);
      // An earlier checkpoint's adapters, stored at its step.
      const early = await evaluate({ runId: 2, checkpoint: 4 });
      expect(early.model).toBe('run 2 (bitune), checkpoint of step 4');
      expect(early.stored).toEqual({ runId: 2, step: 4, keys: ['eval_acc.test'], split: 'eval:test.jsonl' });
      await expect(evaluate({ runId: 2, checkpoint: 5 })).rejects.toThrow('run 2 has no checkpoint at step 5 (checkpoints: 4, 8)');
      // A single PEFT adapter folder (the LoRA run's) with its base given: the run's own test accuracy.
      const single = await evaluate({ adapters: path.join(dataDir, 'runs', '1', 'adapters', 'default'), base: path.join(dataDir, 'runs', '1', 'base') }, files.test, 4);
      expect(single.model).toMatch(/^lora adapters in /);
      const stored = lab.store.metrics.series(1, { keys: ['test_accuracy'] })[0].values[0] as number;
      expect(single.accuracy).toBe(stored);
      return stored;
    });
    expect(trainedAcc).toBeGreaterThanOrEqual(0);

    const { rows, evalFiles, choiceFiles, predictions } = await inStore(async (lab) => {
      const answer = await lab.dispatch('adapters.results', {});
      if (!answer.ok) throw new Error(answer.error.message);
      return { ...(answer.result as { rows: AdapterResultRow[]; choiceFiles: string[]; evalFiles: string[] }), predictions: lab.store.predictions.list(2, 'eval:test.jsonl', 8) };
    });
    expect(evalFiles).toEqual(['gsm', 'test']);
    expect(choiceFiles).toEqual(['choices']);
    const bitune = rows.find((r) => r.runId === 2)!;
    expect(bitune.evals.test).toBeCloseTo(Number(acc![1]) / 100, 3);
    expect(rows.find((r) => r.runId === 1)!.choices.choices.acc).toBeCloseTo(Number(mcAcc![1]) / 100, 3);
    expect(rows.find((r) => r.runId === 1)!.choices.choices.accNorm).toBeCloseTo(Number(mcAcc![3]) / 100, 3);
    expect(predictions.length).toBe(24);
    expect(predictions.filter((p) => p.correct).length).toBe(Number(acc![2]));

    const table = stepwise(['results']);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.split('\n');
    expect(lines[0]).toBe('fresh 1×32 · late/train.jsonl · 2 epochs × batch 16');
    expect(lines[1].split(/ {2,}/)).toEqual(['run', 'name', 'method', 'peft', 'variant', 'seed', 'steps', 'test acc', 'gsm acc', 'test acc', 'choices acc', 'choices acc_norm', 'final α (keys)']);
    const row2 = lines.find((l) => /^\s*2 {2}bitune /.test(l))!;
    expect(row2).toContain(`${acc![1]}%`);
    expect(row2).toMatch(/Bitune {2}lora {2}full, s_init 0\.01, bidirectional {2}model 0 · lora 0 · train 1 /);
    // One seed each: the summary under the runs has their figures and no interval.
    expect(lines.find((l) => l.startsWith('Bitune − LoRA'))).toMatch(/^Bitune − LoRA +1 +[+−±]\d+\.\d +— +[+−±]\d+\.\d +— +[01] \/ [01] +one seed$/);
    const row1 = lines.find((l) => /^\s*1 {2}lora /.test(l))!;
    expect(row1).toContain(`${mcAcc![1]}%`);
    const json = JSON.parse(stepwise(['results', '--json', '--run', '1']).stdout) as { rows: AdapterResultRow[] };
    expect(json.rows.map((r) => r.runId)).toEqual([1]);
  }, 480_000);

  test('eval refuses what it cannot evaluate, naming it', () => {
    fs.mkdirSync(dataDir, { recursive: true });
    const missing = stepwise(['eval', '--adapters', path.join(work, 'nowhere'), '--data', files.test]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`${path.join(work, 'nowhere')}: no such folder`);
    const notAdapters = stepwise(['eval', '--adapters', path.join(work, 'late'), '--data', files.test]);
    expect(notAdapters.code).toBe(2);
    expect(notAdapters.stderr).toContain('not an adapter folder');
    fs.writeFileSync(path.join(work, 'bad.json'), JSON.stringify({ ...config('bitune'), lora: { r: 0 }, bitune: { sInit: -1 } }));
    const badConfig = stepwise(['train', path.join(work, 'bad.json')]);
    expect(badConfig.code).toBe(2);
    expect(badConfig.stderr).toBe(`stepwise train: ${path.join(work, 'bad.json')} is not a valid Bitune run configuration:\n  lora.r: Too small: expected number to be >0\n  bitune.sInit: Too small: expected number to be >0\n`);
    const best = stepwise(['eval', '--run', '1', '--checkpoint', 'best', '--data', files.test]);
    expect(best.code).toBe(2);
    expect(best.stderr).toContain('Bitune and LoRA runs keep no best model');
    const badRun = stepwise(['results', '--run', 'x']);
    expect(badRun.code).toBe(2);
    expect(badRun.stderr).toContain('--run expects a run id');
  }, 300_000);
});

describe('a Bitune run whose process is killed', () => {
  test('train --resume continues it from its last checkpoint and ends with the adapters of a run that never stopped, byte for byte', async () => {
    const dir = path.join(work, 'crash-lab');
    const long = { ...config('bitune'), lora: { r: 4, alpha: 8, dropout: 0.1 }, train: { ...config('bitune').train, epochs: 30 } }; // 120 steps
    fs.writeFileSync(path.join(work, 'long.json'), JSON.stringify(long));
    const child = spawn(process.execPath, [BIN, 'train', path.join(work, 'long.json'), '--data-dir', dir], { cwd: work, stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('close', resolve));
    // Killed once a checkpoint is recorded, so the steps before it are too.
    await untilCheckpointRecorded(dir, { timeoutMs: 60_000, failure: () => 'no checkpoint was recorded', gone: () => child.exitCode !== null });
    child.kill('SIGKILL');
    await exited;

    const resumed = stepwise(['train', '--resume', '1'], dir);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout.split('\n')[0]).toBe('Run 1 completed at step 120.');
    const whole = stepwise(['train', path.join(work, 'long.json')], dir);
    expect(whole.code, whole.stderr).toBe(0);
    const { messages, steps } = await inStore((lab) => ({
      messages: lab.store.logs.after(1, 0, 5000).map((l) => l.message),
      steps: lab.store.metrics.series(1, { keys: ['loss'] })[0].steps,
    }), dir);
    expectResumedSteps(steps, messages, 120);
    for (const file of ['default/adapter_model.safetensors', 'prefill/adapter_model.safetensors', 'bitune.safetensors']) {
      const [a, b] = [1, 2].map((id) => fs.readFileSync(path.join(dir, 'runs', String(id), 'adapters', file)));
      expect(a.equals(b), file).toBe(true);
    }
  }, 480_000);
});
