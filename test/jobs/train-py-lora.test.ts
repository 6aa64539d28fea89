/**
 * train.py trains a LoRA run as Stepwise does (issue 25, part 2): the frozen base, the adapter Stepwise
 * initialised (exported in PEFT's layout), the instruction layout of methods/bitune/layout.ts and the
 * loss on the answer; over a whole tiny run the losses stay within 1e-4 of Stepwise's, validation and
 * test answer alike, every checkpoint holds the adapter in PEFT's layout, close to Stepwise's own, and
 * --resume continues from one bit for bit.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { JsonObject } from '../../src-main/contract/entities.ts';
import { readSafetensors } from '../../src-main/engine/safetensors.ts';
import { TrainerControl, type PredictionRow, type TrainerEvent } from '../../src-main/engine/trainer.ts';
import { runBitune } from '../../src-main/methods/bitune/run.ts';
import { exportJob } from '../../src-main/services/job-export.ts';
import { openLab } from '../../src-main/services/lab.ts';
import { relDiff } from '../fixtures/compare.ts';
import { PYTHON, python } from './python.ts';
import { readMetrics, stepRecords } from './tiny-job.ts';

let dir: string;
let files: { train: string; valid: string; test: string };

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-lora-job-'));
  const rows = (n: number, off: number) =>
    Array.from({ length: n }, (_, i) => {
      const a = (i * 7 + off) % 10;
      const b = (i * 3 + off) % 10;
      return JSON.stringify({ question: `What is ${a} plus ${b} ?`, answer: String(a + b) });
    }).join('\n') + '\n';
  files = { train: path.join(dir, 'train.jsonl'), valid: path.join(dir, 'valid.jsonl'), test: path.join(dir, 'test.jsonl') };
  fs.writeFileSync(files.train, rows(64, 0));
  fs.writeFileSync(files.valid, rows(8, 5));
  fs.writeFileSync(files.test, rows(8, 3));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const loraConfig = (family: 'gpt2' | 'llama', extra: Record<string, unknown> = {}) =>
  ({
    method: 'lora',
    model: { kind: 'fresh', family, layers: 1, dim: 32, heads: 2, seed: 2 },
    // GPT-2's adapters train under dropout (masks a hash of the step, the site and the element), Llama's without.
    lora: { r: 4, alpha: 8, seed: 1, dropout: family === 'gpt2' ? 0.1 : 0 },
    data: files,
    train: { epochs: 2, batchSize: 16, lr: 1e-2 },
    eval: { batchSize: 8, maxNewTokens: 4 },
    runtime: { threads: 1 },
    ...extra,
  }) as unknown as JsonObject;

function exportLora(name: string, config: JsonObject) {
  const lab = openLab(path.join(dir, name, 'lab'));
  try {
    const run = lab.store.runs.create({ method: 'lora', name, config });
    return exportJob(lab, { runId: run.id, out: path.join(dir, name, 'job') }).dir;
  } finally {
    lab.close();
  }
}

/** The GPT-2 job, trained whole (for the resume test). */
let gpt2Job: string;

describe.skipIf(!PYTHON).each(['gpt2', 'llama'] as const)('train.py on a LoRA run (%s; GPT-2 with dropout 0.1)', (family) => {
  test("a whole run of 8 steps: losses within 1e-4 of Stepwise's, the same answers, the adapter in PEFT's layout close to Stepwise's", async () => {
    const job = exportLora(family, loraConfig(family));
    if (family === 'gpt2') gpt2Job = job;
    await python(['train.py', 'job.json', '--threads', '1'], job);
    const theirs = readMetrics(job);

    const events: TrainerEvent[] = [];
    const runDir = path.join(dir, family, 'stepwise');
    fs.mkdirSync(runDir, { recursive: true });
    const out = await runBitune({ config: loraConfig(family) as never, runDir }, (e) => events.push(e), new TrainerControl());
    expect(out.status).toBe('completed');
    const steps = events.flatMap((e) => (e.type === 'step' ? [e] : []));
    const ours = stepRecords(theirs);
    expect(ours.map((m) => [m.step, m.epoch])).toEqual(steps.map((e) => [e.step, e.epoch]));
    ours.forEach((m, k) => {
      expect(Math.abs(m.values.loss - steps[k].loss), `loss at step ${m.step}`).toBeLessThanOrEqual(1e-4 * steps[k].loss);
      expect(Math.abs(m.values.grad_norm - steps[k].gradNorm), `gradient norm at step ${m.step}`).toBeLessThanOrEqual(1e-3 * steps[k].gradNorm);
    });
    const metric = (key: string) => events.flatMap((e) => (e.type === 'metric' && key in e.values ? [[e.step, e.values[key]]] : []));
    expect(theirs.filter((m) => 'val_accuracy' in m.values).map((m) => [m.step, m.values.val_accuracy])).toEqual(metric('val_accuracy'));
    expect(theirs.filter((m) => 'test_accuracy' in m.values).map((m) => [m.step, m.values.test_accuracy])).toEqual(metric('test_accuracy'));
    const fields = (rows: PredictionRow[]) => rows.map((r) => [r.index, r.input, r.target, r.generated, r.answer, r.correct]);
    const stepwiseTest = events.flatMap((e) => (e.type === 'predictions' && e.split === 'test' ? [e] : [])).at(-1)!;
    const written = fs.readFileSync(path.join(job, `out/predictions/test-8.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as PredictionRow);
    expect(fields(written)).toEqual(fields(stepwiseTest.rows));

    // The last checkpoint's adapter in PEFT's layout, beside Stepwise's own adapters/default.
    expect(fs.readdirSync(path.join(job, 'out/checkpoints/step-8')).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors', 'trainer.pt']);
    const mine = readSafetensors(path.join(job, 'out/checkpoints/step-8/adapter_model.safetensors')).tensors;
    const stepwise = readSafetensors(path.join(runDir, 'adapters/default/adapter_model.safetensors')).tensors;
    expect([...mine.keys()].sort()).toEqual([...stepwise.keys()].sort());
    for (const [name, t] of stepwise) expect(relDiff(mine.get(name)!.data, t.data), name).toBeLessThanOrEqual(1e-3);
    expect(fs.existsSync(path.join(job, 'out/best'))).toBe(false);
  });
});

test.skipIf(!PYTHON)('killed after step 6 with its last checkpoint at step 4, then resumed: the adapter and optimizer continue, the metrics of the uninterrupted run bit for bit', async () => {
  const figures = (out: string) =>
    readMetrics(gpt2Job, out).map((m) => ({ step: m.step, values: Object.fromEntries(Object.entries(m.values).filter(([k]) => !/per_s$|^wall_minutes$/.test(k))) }));
  await python(['train.py', 'job.json', '--threads', '1', '--out', 'killed', '--stop-after', '6'], gpt2Job);
  fs.rmSync(path.join(gpt2Job, 'killed/checkpoints/step-6'), { recursive: true });
  expect(await python(['train.py', 'job.json', '--threads', '1', '--out', 'killed', '--resume'], gpt2Job)).toContain('at step 4');
  expect(figures('killed')).toEqual(figures('out'));
});

test('export-job refuses what train.py does not train of a LoRA run, naming the field', () => {
  expect(() => exportLora('dora', loraConfig('gpt2', { peft: 'dora' }))).toThrow(
    /peft: is dora; train\.py trains LoRA and Bitune with peft lora \(a float32 base, no eval\.choices\) for now/,
  );
  expect(() => exportLora('bitune', { ...loraConfig('gpt2'), method: 'bitune' })).toThrow(/method: is bitune/);
});
