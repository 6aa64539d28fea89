/**
 * LoRA against Bitune with the same frozen base, data and budget, through the
 * lab as the app runs it: real SQLite in a temporary data folder, each run's
 * job in a real worker thread, ONNX Runtime on the CPU. The task's answer
 * depends on the prompt's last word (test/bitune/late-task.ts). Both must
 * train, Bitune's mixing coefficients must move from their start (α = 0.5),
 * and the results table must come from what the runs stored. No winner is
 * asserted; the two accuracies are printed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdapterResultRow } from '../../src-main/contract/areas/adapters.ts';
import type { Run } from '../../src-main/contract/entities.ts';
import { openLab, type Lab } from '../../src-main/services/lab.ts';
import { writeLateTask } from './late-task.ts';

let dataDir: string;
let lab: Lab;
const runs: Record<'lora' | 'bitune', Run> = {} as never;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-bitune-'));
  const files = writeLateTask(path.join(dataDir, 'late'), { train: 512, valid: 64, test: 200 });
  lab = openLab(dataDir);
  const config = (method: 'lora' | 'bitune') => ({
    method,
    model: { kind: 'fresh', layers: 2, dim: 64, heads: 4, seed: 0 },
    lora: { r: 8, alpha: 16 },
    data: { train: files.train, valid: files.valid, test: files.test },
    train: { epochs: 6, batchSize: 16, lr: 3e-3, seed: 1 },
    eval: { choices: [files.choices], everyEpoch: false },
    runtime: { threads: 1 },
  });
  for (const method of ['lora', 'bitune'] as const) {
    const started = await lab.dispatch('runs.start', { method, name: `${method} on late-task`, config: config(method) });
    if (!started.ok) throw new Error(started.error.message);
    runs[method] = started.result as Run;
    const end = await lab.training.whenDone(runs[method].id)!;
    expect(end.run.status, end.run.error ?? '').toBe('completed');
  }
}, 120_000);

afterAll(() => {
  lab?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const series = (run: Run, key: string) => lab.store.metrics.series(run.id, { keys: [key] })[0];

describe('LoRA vs Bitune on a task whose answer depends on the end of the prompt', () => {
  it('both train: the loss of the last 20 steps is below that of the first 20', () => {
    for (const run of Object.values(runs)) {
      const loss = series(run, 'loss').values as number[];
      expect(loss.length).toBe(6 * 32);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      expect(mean(loss.slice(-20)), run.method).toBeLessThan(mean(loss.slice(0, 20)) - 0.15);
    }
  });

  it("Bitune's mixing coefficients move from their initial 0.5 in every layer; LoRA has none", () => {
    for (const key of ['alpha_k_0', 'alpha_v_0', 'alpha_k_1', 'alpha_v_1']) {
      const a = series(runs.bitune, key).values as number[];
      expect(a[0], key).toBeCloseTo(0.5, 6); // the first step reports θ = s_init
      expect(Math.abs(a[a.length - 1] - 0.5), key).toBeGreaterThan(0.02);
    }
    expect(series(runs.lora, 'alpha_k_0').values).toEqual([]);
  });

  it('the results table comes from the stored metrics: one group, both runs, their accuracies', async () => {
    const answer = await lab.dispatch('adapters.results', {});
    expect(answer.ok).toBe(true);
    const { rows, choiceFiles, evalFiles } = (answer as { result: { rows: AdapterResultRow[]; choiceFiles: string[]; evalFiles: string[] } }).result;
    expect(rows.map((r) => r.method).sort()).toEqual(['bitune', 'lora']);
    expect(new Set(rows.map((r) => r.group)).size).toBe(1);
    expect(rows[0].group).toBe('fresh 2×64 · late/train.jsonl · 6 epochs × batch 16');
    expect(choiceFiles).toEqual(['choices']);
    expect(evalFiles).toEqual([]);
    for (const r of rows) {
      const stored = series(r.method === 'lora' ? runs.lora : runs.bitune, 'test_accuracy').values;
      expect(r.testAccuracy).toBe(stored[stored.length - 1]);
      expect(r.testAccuracy!).toBeGreaterThan(0.1); // above chance (ten digits)
      expect(r.choices.choices.acc).toBeGreaterThan(0.1);
      expect(r.steps).toBe(192);
    }
    const bitune = rows.find((r) => r.method === 'bitune')!;
    expect(bitune.ablation).toBe('full');
    expect(bitune.alphaK.length).toBe(2);
    const lora = rows.find((r) => r.method === 'lora')!;
    console.log(`late-task test accuracy (200 questions): LoRA ${(100 * lora.testAccuracy!).toFixed(1)}%, Bitune ${(100 * bitune.testAccuracy!).toFixed(1)}%; multiple choice acc LoRA ${(100 * lora.choices.choices.acc!).toFixed(1)}%, Bitune ${(100 * bitune.choices.choices.acc!).toFixed(1)}%; final α_k ${bitune.alphaK.map((a) => a.toFixed(3)).join(', ')}, α_v ${bitune.alphaV.map((a) => a.toFixed(3)).join(', ')}`);
  });

  it('each run keeps its adapters in PEFT layout, and Bitune its mixing parameters', () => {
    const dir = (run: Run) => path.join(dataDir, 'runs', String(run.id), 'adapters');
    expect(fs.readdirSync(dir(runs.lora)).sort()).toEqual(['default', 'stepwise-adapters.json']);
    expect(fs.readdirSync(dir(runs.bitune)).sort()).toEqual(['bitune.safetensors', 'default', 'prefill', 'stepwise-adapters.json']);
    expect(fs.readdirSync(path.join(dir(runs.bitune), 'prefill')).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
  });
});
