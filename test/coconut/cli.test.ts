/**
 * `stepwise train` on Coconut configs, in a child process as a person runs it:
 * a tiny fresh GPT-2 on 2×2 multiplication (2 steps), through every stage,
 * with continuous thoughts and with the pause-token control; read back from
 * the store afterwards.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateMult } from '../../src-main/methods/icot/mult.ts';
import { formatLine } from '../../src-main/methods/shared/examples.ts';
import { openLab } from '../../src-main/services/lab.ts';

const BIN = fileURLToPath(new URL('../../bin/stepwise.js', import.meta.url));
let work: string;
let dataDir: string;

function stepwise(args: string[]) {
  const { STEPWISE_DATA_DIR: _, ...env } = process.env;
  const r = spawnSync(process.execPath, [BIN, ...args, '--data-dir', dataDir], { cwd: work, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const config = (thoughts: 'continuous' | 'pause') => ({
  method: 'coconut', thoughts,
  model: { kind: 'fresh', layers: 1, dim: 32, heads: 2, seed: 0 },
  data: { train: 'train.txt', valid: 'valid.txt', test: 'test.txt' },
  train: { epochs: 3, batchSize: 16, lr: 3e-3, seed: 1 },
  // Stage 0 (CoT) for epoch 1, stage 1 (the first step continuous) for epoch 2, stage 2 (both) for epoch 3.
  curriculum: { thoughtsPerStep: 2, epochsPerStage: 1, cotEpochs: 1, maxLatentStage: 1 },
  eval: { batchSize: 8, speedExamples: 4 },
  runtime: { threads: 1 },
});

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-coconut-cli-'));
  dataDir = path.join(work, 'lab');
  const made = [...generateMult({ digitsA: 2, digitsB: 2, counts: { train: 64, valid: 8, test: 8 }, seed: 2 })];
  for (const split of ['train', 'valid', 'test'] as const) {
    fs.writeFileSync(path.join(work, `${split}.txt`), made.filter((g) => g.split === split).map((g) => `${formatLine(g.example)}\n`).join(''));
  }
  for (const t of ['continuous', 'pause'] as const) fs.writeFileSync(path.join(work, `${t}.json`), JSON.stringify(config(t)));
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('stepwise train on a Coconut config', () => {
  test('trains through every stage with an optimizer reset at each, generates through the thoughts, and keeps the last stage’s best model', () => {
    for (const [id, t] of [[1, 'continuous'], [2, 'pause']] as const) {
      const r = stepwise(['train', path.join(work, `${t}.json`)]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Run ${id} completed at step 12\\.$`, 'm'));
      const lab = openLab(dataDir);
      try {
        const logs = lab.store.logs.after(id, 0, 1000).map((l) => l.message);
        // 4 batches an epoch: stage 1 begins at step 5, stage 2 at step 9.
        expect(logs.filter((m) => m.startsWith('optimizer reset'))).toEqual(['optimizer reset before step 5', 'optimizer reset before step 9']);
        expect(logs.some((m) => /^speed at batch size 1 on 4 test problems: \d+\.\d examples\/s/.test(m))).toBe(true);
        const series = lab.store.metrics.series(id, {});
        const last = (key: string) => series.find((s) => s.key === key)?.values.at(-1);
        expect([last('stage'), last('thoughts')]).toEqual([2, 2]);
        expect(last('test_accuracy')).toBeGreaterThanOrEqual(0);
        expect(last('speed_b1_examples_per_s')).toBeGreaterThan(0);
        const predictions = lab.store.predictions.list(id, 'test', 12);
        expect(predictions).toHaveLength(8);
        // What the model wrote after <eot>: steps (none expected at the last stage, but whatever it wrote), then its answer.
        for (const p of predictions) expect(p.generated.split(' ').every((s) => /^(\d|\+|####|<eos>|<bot>|<eot>|<latent>|<pause>|\*|<pad>|\(|\))$/.test(s))).toBe(true);
        // stepwise eval scores the run's best model through its thoughts, as the run scored its test (same batches: the same answers).
        const evaluated = stepwise(['eval', '--run', String(id), '--data', 'test.txt', '--batch-size', '8']);
        expect(evaluated.code, evaluated.stderr).toBe(0);
        expect(evaluated.stdout).toContain(`accuracy  ${(100 * last('test_accuracy')!).toFixed(1)}% (${Math.round(8 * last('test_accuracy')!)}/8)`);
        const model = lab.store.models.list(10, 0).items.find((m) => m.runId === id)!;
        expect(model.source).toMatchObject({ kind: 'trained', recipe: t === 'pause' ? 'coconut-pause' : 'coconut', step: 12 });
      } finally {
        lab.close();
      }
    }
  });
});
