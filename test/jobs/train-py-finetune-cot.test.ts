/**
 * train.py trains a Fine-tune-CoT student as Stepwise does (issue 25, part 2): the same batches
 * (Stepwise's order, padded to the context, the loss on the completion), losses within 1e-4 of
 * Stepwise's over a whole tiny run, and validation that reads the answer after `-->` by the task's
 * rule to the same accuracy and the same answers.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TrainerControl, type PredictionRow, type TrainerEvent } from '../../src-main/engine/trainer.ts';
import { generateTask } from '../../src-main/methods/finetune-cot/generators.ts';
import { parseFtCotConfig } from '../../src-main/methods/finetune-cot/recipe.ts';
import { runFtCot } from '../../src-main/methods/finetune-cot/run.ts';
import type { JsonObject } from '../../src-main/contract/entities.ts';
import { PYTHON, python } from './python.ts';
import { exportTinyJob, readMetrics, stepRecords } from './tiny-job.ts';

let dir: string;
let files: { train: string; valid: string; test: string };

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-ftcot-job-'));
  // A small last-digit arithmetic task with its rationales, in JSONL.
  const task = generateTask({ kind: 'arithmetic', counts: { train: 64, test: 16 }, seed: 5, size: 1, terms: 3, lastDigit: true });
  const lines = (split: string) => task.examples.filter((e) => e.split === split).map((e) => JSON.stringify({ question: e.question, rationale: e.rationale, answer: e.answer })).join('\n') + '\n';
  files = { train: path.join(dir, 'train.jsonl'), valid: path.join(dir, 'valid.jsonl'), test: path.join(dir, 'test.jsonl') };
  fs.writeFileSync(files.train, lines('train'));
  fs.writeFileSync(files.valid, lines('test'));
  fs.writeFileSync(files.test, lines('test'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const studentConfig = (family: 'gpt2' | 'llama') =>
  ({
    format: 'ft-cot', answerType: 'number', task: 'last digit',
    model: { kind: 'fresh', family, layers: 1, dim: 32, heads: 2, seed: 3 },
    data: files,
    train: { epochs: 2, batchSize: 16, lr: 1e-2, seed: 4 },
    eval: { batchSize: 8 },
    runtime: { threads: 1 },
  }) as unknown as JsonObject;

describe.skipIf(!PYTHON).each(['gpt2', 'llama'] as const)('train.py on a Fine-tune-CoT student (%s)', (family) => {
  test("a whole run of 8 steps: losses within 1e-4 of Stepwise's, the same validation accuracy, answers, predictions and rationale lengths", async () => {
    const { job } = await exportTinyJob(path.join(dir, family), 'student', () => studentConfig(family), 'fine-tune-cot');
    await python(['train.py', 'job.json', '--threads', '1'], job);
    const theirs = readMetrics(job);

    const events: TrainerEvent[] = [];
    const out = await runFtCot({ config: parseFtCotConfig(studentConfig(family)), runDir: path.join(dir, family, 'stepwise') }, (e) => events.push(e), new TrainerControl());
    expect(out.status).toBe('completed');
    const steps = events.flatMap((e) => (e.type === 'step' ? [e] : []));
    const ours = stepRecords(theirs);
    expect(ours.map((m) => [m.step, m.epoch])).toEqual(steps.map((e) => [e.step, e.epoch]));
    ours.forEach((m, k) => expect(Math.abs(m.values.loss - steps[k].loss), `loss at step ${m.step}`).toBeLessThanOrEqual(1e-4 * steps[k].loss));

    const validations = events.flatMap((e) => (e.type === 'metric' && 'val_accuracy' in e.values ? [e] : []));
    expect(theirs.filter((m) => 'val_accuracy' in m.values).map((m) => [m.step, m.values.val_accuracy])).toEqual(validations.map((e) => [e.step, e.values.val_accuracy]));
    const predictions = events.flatMap((e) => (e.type === 'predictions' && e.split === 'valid' ? [e] : [])).at(-1)!;
    const written = fs.readFileSync(path.join(job, `out/predictions/valid-${predictions.step}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as PredictionRow);
    const fields = (rows: PredictionRow[]) => rows.map((r) => [r.index, r.input, r.target, r.generated, r.answer, r.correct, r.cotTokens]);
    expect(fields(written)).toEqual(fields(predictions.rows));
    expect(JSON.parse(fs.readFileSync(path.join(job, 'out/run.json'), 'utf8'))).toMatchObject({ status: 'completed', step: 8 });
  });
});
