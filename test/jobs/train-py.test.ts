/**
 * The exported job's train.py trains as Stepwise trains (issue 25, part 3): on a tiny GPT-2 and a
 * tiny Llama, its first step matches Stepwise's compiled step within the PyTorch references'
 * tolerances (test/engine/*-reference.test.ts: 1e-5 relative for the loss, 1e-4 relative for the
 * gradient norm and the parameters after AdamW), and a whole ICoT-SI run of 8 steps sees the same
 * batches (Stepwise's seeded order, the curriculum's removal with its smoothing draws and optimizer
 * resets) with the same validation accuracies and losses within 1e-3 relative. Why not 1e-4 over a
 * whole run: this curriculum resets AdamW before every batch, and a first AdamW step moves each
 * parameter by about ±lr whatever the size of its gradient, so gradients that are rounding noise in
 * both (GPT-2's biases) move parameters by the full rate in directions the noise picks, and the
 * float32 differences of the two implementations grow with every reset (scripts/job-parity.ts:
 * 1.8e-4 on GPT-2 after 16 steps, 7e-7 on Llama, which has no biases).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ADAMW_DEFAULTS } from '../../src-main/engine/optim.ts';
import { readSafetensors, type TensorMap } from '../../src-main/engine/safetensors.ts';
import { TrainStep } from '../../src-main/engine/train-step.ts';
import { TrainerControl, type TrainerEvent } from '../../src-main/engine/trainer.ts';
import { CurriculumBatches } from '../../src-main/methods/icot/batches.ts';
import { curriculumOf, parseIcotConfig } from '../../src-main/methods/icot/recipe.ts';
import { prepare, runIcot } from '../../src-main/methods/icot/run.ts';
import { positionsOf } from '../../src-main/methods/shared/supervised-run.ts';
import { relDiff } from '../fixtures/compare.ts';
import { PYTHON, python } from './python.ts';
import { exportTinyJob, readMetrics, stepRecords, tinyJobConfig } from './tiny-job.ts';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-train-py-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Stepwise's own first step of a config: its first batch through the compiled step. */
async function stepwiseFirstStep(configJson: unknown) {
  const config = parseIcotConfig(configJson);
  const p = prepare(config);
  const t = config.train;
  const batches = new CurriculumBatches(p.laid, { batch: t.batchSize, maxSeq: positionsOf(p.arch), seed: t.seed, padId: p.tok.padId, recipe: config.recipe, curriculum: curriculumOf(config.curriculum) });
  const ts = await TrainStep.create({ arch: p.arch, batch: t.batchSize, seq: positionsOf(p.arch), adamw: { ...ADAMW_DEFAULTS, weightDecay: t.weightDecay }, init: p.init, threads: 1 });
  try {
    const b = batches.next();
    const r = await ts.run(b.inputIds, b.labels, t.lr, b.seq, b.positionIds);
    return { loss: r.loss, gradNorm: r.gradNorm, params: ts.snapshot() };
  } finally {
    await ts.release();
  }
}

/** A whole Stepwise run of a config: its step events and validation metrics. */
async function stepwiseRun(configJson: unknown, runDir: string) {
  const events: TrainerEvent[] = [];
  const out = await runIcot({ config: parseIcotConfig(configJson), runDir }, (e) => events.push(e), new TrainerControl());
  expect(out.status).toBe('completed');
  return {
    steps: events.flatMap((e) => (e.type === 'step' ? [e] : [])),
    validations: events.flatMap((e) => (e.type === 'metric' && 'val_accuracy' in e.values ? [e] : [])),
  };
}

/**
 * The key third of GPT-2's c_attn.bias has a zero true gradient (softmax is shift-invariant), so
 * AdamW's first step moves it by ±lr on rounding noise alone: the reference tests leave it out of
 * the relative comparison, and so does this one.
 */
const keyBias = (name: string, C: number) => (name.endsWith('attn.c_attn.bias') ? (i: number) => i >= C && i < 2 * C : undefined);

function expectParamsClose(ours: TensorMap, ref: TensorMap, tolerance: number, width: number) {
  expect([...ours.keys()].sort()).toEqual([...ref.keys()].sort());
  for (const [name, t] of ref) expect(relDiff(ours.get(name)!.data, t.data, keyBias(name, width)), name).toBeLessThanOrEqual(tolerance);
}

describe.skipIf(!PYTHON).each(['gpt2', 'llama'] as const)('train.py against Stepwise on a tiny %s', (family) => {
  test("one step: the loss within 1e-5, the gradient norm and every parameter after clipped AdamW within 1e-4 of Stepwise's (GPT-2's key bias aside, as in the references)", async () => {
    const { job, data } = await exportTinyJob(path.join(dir, `one-${family}`), family, (d) => tinyJobConfig(d, family));
    await python(['train.py', 'job.json', '--threads', '1', '--stop-after', '1'], job);
    const [first] = stepRecords(readMetrics(job));
    const ours = await stepwiseFirstStep(tinyJobConfig(data, family));
    expect(first.step).toBe(1);
    expect(Math.abs(first.values.loss - ours.loss)).toBeLessThanOrEqual(1e-5 * ours.loss);
    expect(Math.abs(first.values.grad_norm - ours.gradNorm)).toBeLessThanOrEqual(1e-4 * ours.gradNorm);
    expectParamsClose(readSafetensors(path.join(job, 'out/checkpoints/step-1/model.safetensors')).tensors, ours.params, 1e-4, 32);
  });

  test("a whole ICoT-SI run (8 steps, a token removed and the optimizer reset at every batch): the same removal and smoothing draws, and losses within 1e-3 of Stepwise's", async () => {
    const { job, data } = await exportTinyJob(path.join(dir, `run-${family}`), family, (d) => tinyJobConfig(d, family));
    await python(['train.py', 'job.json', '--threads', '1'], job);
    const theirs = readMetrics(job);
    const ours = await stepwiseRun(tinyJobConfig(data, family), path.join(dir, `run-${family}`, 'stepwise'));
    const steps = stepRecords(theirs);
    expect(steps.map((m) => m.step)).toEqual(ours.steps.map((e) => e.step));
    expect(steps.map((m) => [m.epoch, m.values.scheduled_removal, m.values.mean_cot_removed, m.values.all_cot_removed]))
      .toEqual(ours.steps.map((e) => [e.epoch, e.info!.scheduledRemoval, e.info!.meanCotRemoved, e.info!.allCotRemoved]));
    steps.forEach((m, k) => {
      expect(Math.abs(m.values.loss - ours.steps[k].loss), `loss at step ${m.step}`).toBeLessThanOrEqual(1e-3 * ours.steps[k].loss);
      expect(m.values.lr).toBe(ours.steps[k].lr);
    });
    const validations = theirs.filter((m) => 'val_accuracy' in m.values);
    expect(validations.map((m) => [m.step, m.values.val_accuracy, m.values.cot_removed])).toEqual(ours.validations.map((e) => [e.step, e.values.val_accuracy, e.values.cot_removed]));
    const run = JSON.parse(fs.readFileSync(path.join(job, 'out/run.json'), 'utf8')) as Record<string, unknown>;
    expect(run).toMatchObject({ format: 'stepwise-job-run', version: 1, status: 'completed', step: 8, epoch: 1, worldSize: 1, error: null });
    expect(fs.readdirSync(path.join(job, 'out/checkpoints')).sort()).toEqual(['step-4', 'step-8']);
    expect(fs.readdirSync(path.join(job, 'out/predictions')).sort()).toEqual(['test-8.jsonl', 'valid-4.jsonl', 'valid-8.jsonl']);
  });
});
