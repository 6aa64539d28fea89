/**
 * `stepwise ftcot …` and `stepwise train` with a Fine-tune-CoT config, in
 * child processes as a person runs them, against a real HTTP teacher on
 * 127.0.0.1 (a small OpenAI-compatible adder in this process): a task is
 * generated and the paper's file imported, a D = 2 generation job is
 * interrupted with Ctrl-C (SIGINT) and resumed with --resume (nothing
 * duplicated or lost), the key comes from the variable --key-env names, a
 * student trains on the kept rationales, and `ftcot table` prints the
 * table. The store is checked afterwards through a lab.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openLab } from '../../src-main/services/lab.ts';

const BIN = fileURLToPath(new URL('../../bin/stepwise.js', import.meta.url));
const SHARED_COIN_FLIP = fileURLToPath(new URL('../../../shared/data/fine-tune-cot/tasks/coin_flip.jsonl', import.meta.url));
const KEY = 'sk-cli-test-key-0123456789';

let work: string;
let dataDir: string;
let server: http.Server;
let baseUrl: string;
/** Stage-2 requests answered so far, and what to do when one arrives (before answering it). */
let answered = 0;
let onStage2: ((n: number) => Promise<void>) | null = null;
const prompts: string[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-ftcot-cli-'));
  dataDir = path.join(work, 'lab');
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', async () => {
      res.setHeader('content-type', 'application/json');
      if (req.headers.authorization !== `Bearer ${KEY}`) {
        res.statusCode = 401;
        res.end(JSON.stringify({ error: { message: 'bad key' } }));
        return;
      }
      const { prompt, temperature } = JSON.parse(body) as { prompt: string; temperature: number };
      prompts.push(prompt);
      const [, a, b] = /What is (\d+) \+ (\d+)\?/.exec(prompt) ?? [];
      const sum = Number(a) + Number(b);
      let text: string;
      if (/Therefore/.test(prompt)) {
        answered++;
        if (onStage2) await onStage2(answered);
        text = ` ${sum}.`;
      } else {
        // Two wordings at T > 0, so D = 2 keeps both or drops a duplicate.
        text = temperature > 0 && prompts.length % 3 === 0 ? ` ${b} + ${a} = ${sum}.` : ` ${a} + ${b} = ${sum}.`;
      }
      res.end(JSON.stringify({ choices: [{ text, finish_reason: 'stop', index: 0 }], usage: { prompt_tokens: 12, completion_tokens: 5 } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(work, { recursive: true, force: true });
});

/** `stepwise …` as a child process (async: the teacher answers from this process meanwhile). */
function stepwise(args: string[], env: Record<string, string> = {}) {
  const { STEPWISE_DATA_DIR: _, ...rest } = process.env;
  const child = spawn(process.execPath, [BIN, ...args, '--data-dir', dataDir], { cwd: work, env: { ...rest, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const out = { stdout: '', stderr: '' };
  child.stdout!.on('data', (d) => (out.stdout += d));
  child.stderr!.on('data', (d) => (out.stderr += d));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, ...out })));
  const waitFor = async (pattern: RegExp) => {
    while (!pattern.test(out.stderr)) {
      if (child.exitCode !== null) throw new Error(`no ${pattern} in:\n${out.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { child, exited, waitFor };
}

describe('stepwise ftcot', () => {
  test('tasks, an interrupted and resumed D = 2 generation job, a student through stepwise train, and the results table', async () => {
    // Tasks: generated, and the paper's file imported.
    const made = await stepwise(['ftcot', 'task', '--generate', 'arithmetic', '--train', '12', '--test', '4', '--size', '1', '--seed', '4', '--name', 'add']).exited;
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toMatch(/^Dataset 1 "add": 12 train, 4 test questions in /);
    const imported = await stepwise(['ftcot', 'task', SHARED_COIN_FLIP]).exited;
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toMatch(/^Dataset 2 "coin_flip": 350 train, 150 test questions/);

    // Refused inputs say what is wrong, and create nothing.
    const noKey = await stepwise(['ftcot', 'teach', '--dataset', '1', '--base-url', baseUrl, '--model', 'adder', '--key-env', 'STEPWISE_UNSET_KEY_VAR']).exited;
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('the environment variable STEPWISE_UNSET_KEY_VAR (--key-env) is not set');
    const badUrl = await stepwise(['ftcot', 'teach', '--dataset', '1', '--base-url', 'localhost:11434', '--model', 'adder']).exited;
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toMatch(/baseUrl.*http:\/\/ or https:\/\//);
    const noTask = await stepwise(['ftcot', 'teach', '--dataset', '9', '--base-url', baseUrl, '--model', 'adder']).exited;
    expect(noTask.code).toBe(2);
    expect(noTask.stderr).toContain('there is no dataset 9');

    // D = 2 at T = 0.7, interrupted after the 6th answer: Ctrl-C stops it after the samples in flight.
    const env = { TEACHER_KEY: KEY };
    const args = ['ftcot', 'teach', '--dataset', '1', '--base-url', baseUrl, '--model', 'adder', '--key-env', 'TEACHER_KEY', '--samples', '2', '--temperature', '0.7', '--concurrency', '1', '--name', 'adder D=2'];
    const first = stepwise(args, env);
    onStage2 = async (n) => {
      if (n !== 6) return;
      first.child.kill('SIGINT');
      await first.waitFor(/Stopping job 1/);
    };
    const stopped = await first.exited;
    onStage2 = null;
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.stderr).toContain('Generating job 1 "adder D=2": 24 samples (0 stored)');
    const done = Number(/Job 1 stopped: (\d+)\/24 samples/.exec(stopped.stdout)?.[1]);
    expect(done).toBeGreaterThanOrEqual(5); // the sample in flight may be dropped (it is asked again on resume)
    expect(done).toBeLessThan(24);
    expect(stopped.stdout).toContain('Continue with: stepwise ftcot teach --resume 1');
    const asked = answered;

    const resumed = await stepwise(['ftcot', 'teach', '--resume', '1'], env).exited;
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`Resuming job 1 "adder D=2": 24 samples (${done} stored)`);
    expect(resumed.stdout).toMatch(/^Job 1 completed: 24\/24 samples, (\d+) kept, (\d+) filtered \(/);
    expect(resumed.stdout).toContain('prompt + ');
    expect(resumed.stdout).toContain('Teacher accuracy 100.00%.');
    expect(answered - asked).toBe(24 - done); // only what was missing was asked again
    const keptDataset = Number(/Kept rationales: dataset (\d+)\./.exec(resumed.stdout)?.[1]);
    expect(keptDataset).toBe(3);

    // The teacher's accuracy on the test split, for the results table.
    const onTest = await stepwise(['ftcot', 'teach', '--dataset', '1', '--split', 'test', '--base-url', baseUrl, '--model', 'adder', '--key-env', 'TEACHER_KEY', '--name', 'adder test'], env).exited;
    expect(onTest.code, onTest.stderr).toBe(0);

    // A student through stepwise train: a Fine-tune-CoT config with D = 2 rationales, relative paths.
    fs.writeFileSync(
      path.join(work, 'student.json'),
      JSON.stringify({
        method: 'fine-tune-cot', format: 'ft-cot', answerType: 'number', task: 'arithmetic', rationales: { generationId: 1, samples: 2 },
        model: { kind: 'fresh', layers: 1, dim: 16, heads: 2, seed: 0 },
        data: { train: 'lab/datasets/3/train.jsonl', test: 'lab/datasets/3/test.jsonl' },
        train: { epochs: 1, batchSize: 8 }, runtime: { threads: 1 },
      }),
    );
    const trained = await stepwise(['train', 'student.json']).exited;
    expect(trained.code, trained.stderr).toBe(0);
    expect(trained.stdout).toMatch(/Run 1 completed at step \d+\./);
    expect(trained.stdout).toMatch(/Test accuracy [\d.]+% \(\d+\/4\)/);

    const table = await stepwise(['ftcot', 'table']).exited;
    expect(table.code, table.stderr).toBe(0);
    const row = table.stdout.split('\n').find((l) => l.startsWith('arithmetic'))!;
    expect(row).toMatch(/^arithmetic\s+100\.00 \(4\/4\)\s+–\s+–\s+[\d.]+ \(\d+\/4\) D=2/);
    const json = await stepwise(['ftcot', 'table', '--json']).exited;
    const rows = (JSON.parse(json.stdout) as { rows: { task: string; diverse: { runId: number } | null; paper: unknown }[] }).rows;
    expect(rows.find((r) => r.task === 'arithmetic')!.diverse!.runId).toBe(1);

    // The store: every (question, sample) once, and the key nowhere.
    const lab = openLab(dataDir);
    try {
      const all = await lab.dispatch('finetune.rationales', { generationId: 1, limit: 100 });
      expect(all.ok).toBe(true);
      const items = (all as { result: { items: { index: number; sample: number; temperature: number }[] } }).result.items;
      expect(items.length).toBe(24);
      expect(new Set(items.map((r) => `${r.index}/${r.sample}`)).size).toBe(24);
      expect(items.every((r) => r.temperature === 0.7)).toBe(true);
      const g = await lab.dispatch('finetune.generation', { id: 1 });
      expect(JSON.stringify(g)).not.toContain(KEY);
      expect(JSON.stringify(g)).toContain('"keyName":"TEACHER_KEY"');
    } finally {
      lab.close();
    }
    for (const f of fs.readdirSync(dataDir)) if (fs.statSync(path.join(dataDir, f)).isFile()) expect(fs.readFileSync(path.join(dataDir, f)).includes(KEY), f).toBe(false);
  }, 300_000);
});
