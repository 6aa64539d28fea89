/**
 * train.py trains a Bitune run (peft lora) as Stepwise does (issue 25): the prompt read twice, with the
 * `prefill` set bidirectionally and the `default` set causally, the two caches mixed per layer by the learned
 * α = |θ| / (|θ| + s_init), the answer read with the `default` set; both sets and θ in one clipped AdamW group,
 * the dropout masks of each pass. Over a whole tiny run the losses stay within 1e-4 of Stepwise's, validation
 * and test answer alike (generated from the mixed cache), and every checkpoint is a Stepwise adapters folder:
 * both sets in PEFT's layout and θ in bitune.safetensors, close to Stepwise's own, which Stepwise loads.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { JsonObject } from '../../src-main/contract/entities.ts';
import { readSafetensors } from '../../src-main/engine/safetensors.ts';
import { TrainerControl, type PredictionRow, type TrainerEvent } from '../../src-main/engine/trainer.ts';
import { runBitune } from '../../src-main/methods/bitune/run.ts';
import { loadSavedAdapters } from '../../src-main/methods/bitune/saved.ts';
import { MIX_K, MIX_V } from '../../src-main/methods/bitune/variant.ts';
import { exportJob } from '../../src-main/services/job-export.ts';
import { importJob } from '../../src-main/services/job-import.ts';
import { openLab } from '../../src-main/services/lab.ts';
import { relDiff } from '../fixtures/compare.ts';
import { PYTHON, python } from './python.ts';
import { readMetrics, stepRecords } from './tiny-job.ts';

let dir: string;
let files: { train: string; valid: string; test: string };

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-bitune-job-'));
  const rows = (n: number, off: number) =>
    Array.from({ length: n }, (_, i) => {
      const a = (i * 7 + off) % 10;
      const b = (i * 3 + off) % 10;
      // Prompts of different lengths, so rows are left-padded differently.
      return JSON.stringify({ question: i % 3 ? `What is ${a} plus ${b} ?` : `add ${a} ${b}`, answer: String(a + b) });
    }).join('\n') + '\n';
  files = { train: path.join(dir, 'train.jsonl'), valid: path.join(dir, 'valid.jsonl'), test: path.join(dir, 'test.jsonl') };
  fs.writeFileSync(files.train, rows(64, 0));
  fs.writeFileSync(files.valid, rows(8, 5));
  fs.writeFileSync(files.test, rows(8, 3));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const bituneConfig = (family: 'gpt2' | 'llama', extra: Record<string, unknown> = {}) =>
  ({
    method: 'bitune',
    model: { kind: 'fresh', family, layers: 2, dim: 32, heads: 2, seed: 2 },
    // GPT-2's sets train under dropout (three passes, each with its own sites), Llama's without.
    lora: { r: 4, alpha: 8, seed: 1, dropout: family === 'gpt2' ? 0.1 : 0 },
    data: files,
    // A large s_init keeps θ's steps (about ±lr) from flipping α's side: the mixing stays a smooth function to compare.
    bitune: { sInit: 0.1 },
    train: { epochs: 2, batchSize: 16, lr: 1e-2 },
    eval: { batchSize: 8, maxNewTokens: 4 },
    runtime: { threads: 1 },
    ...extra,
  }) as unknown as JsonObject;

function exportRun(name: string, method: 'bitune' | 'lora', config: JsonObject) {
  const lab = openLab(path.join(dir, name, 'lab'));
  try {
    const run = lab.store.runs.create({ method, name, config });
    return exportJob(lab, { runId: run.id, out: path.join(dir, name, 'job') });
  } finally {
    lab.close();
  }
}

/** The GPT-2 job, trained whole (for the resume test). */
let gpt2Job: string;

describe.skipIf(!PYTHON).each(['gpt2', 'llama'] as const)('train.py on a Bitune run (%s; GPT-2 with dropout 0.1)', (family) => {
  test("a whole run of 8 steps: losses within 1e-4 of Stepwise's, the same answers, both sets and θ saved as Stepwise saves them", async () => {
    const report = exportRun(family, 'bitune', bituneConfig(family));
    const job = report.dir;
    if (family === 'gpt2') gpt2Job = job;
    expect(report.files).toEqual(expect.arrayContaining([
      'model/adapters/default/adapter_config.json', 'model/adapters/default/adapter_model.safetensors',
      'model/adapters/prefill/adapter_config.json', 'model/adapters/prefill/adapter_model.safetensors', 'model/adapters/stepwise-adapters.json',
    ]));
    await python(['train.py', 'job.json', '--threads', '1'], job);
    const theirs = readMetrics(job);

    const events: TrainerEvent[] = [];
    const runDir = path.join(dir, family, 'stepwise');
    fs.mkdirSync(runDir, { recursive: true });
    const out = await runBitune({ config: bituneConfig(family) as never, runDir }, (e) => events.push(e), new TrainerControl());
    expect(out.status).toBe('completed');
    const steps = events.flatMap((e) => (e.type === 'step' ? [e] : []));
    const ours = stepRecords(theirs);
    expect(ours.map((m) => [m.step, m.epoch])).toEqual(steps.map((e) => [e.step, e.epoch]));
    expect(steps.length).toBe(8);
    ours.forEach((m, k) => {
      expect(Math.abs(m.values.loss - steps[k].loss), `loss at step ${m.step}`).toBeLessThanOrEqual(1e-4 * steps[k].loss);
      expect(Math.abs(m.values.grad_norm - steps[k].gradNorm), `gradient norm at step ${m.step}`).toBeLessThanOrEqual(1e-3 * steps[k].gradNorm);
    });
    // The loss moved: the run trained (not a comparison of two untrained models).
    expect(steps[7].loss).toBeLessThan(0.9 * steps[0].loss);
    const metric = (key: string) => events.flatMap((e) => (e.type === 'metric' && key in e.values ? [[e.step, e.values[key]]] : []));
    expect(theirs.filter((m) => 'val_accuracy' in m.values).map((m) => [m.step, m.values.val_accuracy])).toEqual(metric('val_accuracy'));
    expect(theirs.filter((m) => 'test_accuracy' in m.values).map((m) => [m.step, m.values.test_accuracy])).toEqual(metric('test_accuracy'));
    const fields = (rows: PredictionRow[]) => rows.map((r) => [r.index, r.input, r.target, r.generated, r.answer, r.correct]);
    const stepwiseTest = events.flatMap((e) => (e.type === 'predictions' && e.split === 'test' ? [e] : [])).at(-1)!;
    const written = fs.readFileSync(path.join(job, 'out/predictions/test-8.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as PredictionRow);
    expect(fields(written)).toEqual(fields(stepwiseTest.rows));

    // The last checkpoint is a Stepwise adapters folder: both sets in PEFT's layout and θ, close to Stepwise's own.
    const last = path.join(job, 'out/checkpoints/step-8');
    expect(fs.readdirSync(last).sort()).toEqual(['bitune.safetensors', 'default', 'prefill', 'stepwise-adapters.json', 'trainer.pt']);
    for (const set of ['default', 'prefill']) {
      expect(fs.readdirSync(path.join(last, set)).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
      const mine = readSafetensors(path.join(last, set, 'adapter_model.safetensors')).tensors;
      const stepwise = readSafetensors(path.join(runDir, 'adapters', set, 'adapter_model.safetensors')).tensors;
      expect([...mine.keys()].sort()).toEqual([...stepwise.keys()].sort());
      for (const [name, t] of stepwise) {
        // The prefill set's modules after the last layer's keys and values get no gradient: their B stays 0 in both.
        if (t.data.every((x) => x === 0)) expect([...mine.get(name)!.data].every((x) => x === 0), `${set} ${name} stays 0`).toBe(true);
        else expect(relDiff(mine.get(name)!.data, t.data), `${set} ${name}`).toBeLessThanOrEqual(1e-3);
      }
    }
    const theta = readSafetensors(path.join(last, 'bitune.safetensors')).tensors;
    const stepwiseTheta = readSafetensors(path.join(runDir, 'adapters/bitune.safetensors')).tensors;
    for (const name of [MIX_K, MIX_V]) {
      expect(theta.get(name)!.shape).toEqual([2]);
      expect(relDiff(theta.get(name)!.data, stepwiseTheta.get(name)!.data), name).toBeLessThanOrEqual(1e-3);
      // θ trained away from its start (s_init).
      expect(Math.max(...[...theta.get(name)!.data].map((x) => Math.abs(x - 0.1)))).toBeGreaterThan(1e-3);
    }
    // α per layer with each step, as Stepwise reports it.
    const alpha = steps.map((e) => e.info?.alpha_k_1);
    expect(alpha[0]).toBeCloseTo(0.5, 6);
    ours.forEach((m, k) => expect(Math.abs(m.values.alpha_k_1 - alpha[k]!), `α_k of layer 1 at step ${m.step}`).toBeLessThanOrEqual(1e-4));
    // Stepwise reads the checkpoint back as a Bitune adapters folder over the job's base.
    const saved = loadSavedAdapters(last, { base: path.join(job, 'model') });
    expect(saved.variant).toEqual({ method: 'bitune', ablation: 'full', sInit: 0.1, prefillMask: 'bidirectional' });
    expect(saved.adapters.map((a) => a.name)).toEqual(['default', 'prefill']);
    expect(saved.trained.get(MIX_V)!.data).toEqual(theta.get(MIX_V)!.data);
    // import-job takes both checkpoints (steps 4 and 8) back into the lab.
    const lab = openLab(path.join(dir, family, 'lab'));
    try {
      const imported = await importJob(lab, job);
      expect([imported.run.method, imported.checkpoints, imported.warnings]).toEqual(['bitune', 2, []]);
    } finally {
      lab.close();
    }
  });
});

test.skipIf(!PYTHON)('killed after step 6 with its last checkpoint at step 4, then resumed: both sets, θ and the optimizer continue, the metrics of the uninterrupted run bit for bit', async () => {
  const figures = (out: string) =>
    readMetrics(gpt2Job, out).map((m) => ({ step: m.step, values: Object.fromEntries(Object.entries(m.values).filter(([k]) => !/per_s$|^wall_minutes$/.test(k))) }));
  await python(['train.py', 'job.json', '--threads', '1', '--out', 'killed', '--stop-after', '6'], gpt2Job);
  fs.rmSync(path.join(gpt2Job, 'killed/checkpoints/step-6'), { recursive: true });
  expect(await python(['train.py', 'job.json', '--threads', '1', '--out', 'killed', '--resume'], gpt2Job)).toContain('at step 4');
  const resumed = figures('killed');
  expect(resumed.filter((m) => 'loss' in m.values).map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  expect(resumed).toEqual(figures('out'));
});

// The ablations are choices of the passes (variant.ts passesOf), which the job carries: one epoch of two on GPT-2, with dropout
// (naive-bidirectional and only-causal are the same code paths: one pass with the default set; full with a causal prefill mask).
describe.skipIf(!PYTHON).each([
  { ablation: 'no-mixing', prefillMask: 'anti-causal', saved: ['default', 'prefill', 'stepwise-adapters.json', 'trainer.pt'] },
  { ablation: 'shared-adapter', prefillMask: 'bidirectional', saved: ['bitune.safetensors', 'default', 'stepwise-adapters.json', 'trainer.pt'] },
])('train.py on the $ablation ablation ($prefillMask prefill)', ({ ablation, prefillMask, saved }) => {
  test("4 steps: losses within 1e-4 of Stepwise's, the same validation answers, the variant's sets saved", async () => {
    const config = () => bituneConfig('gpt2', { bitune: { sInit: 0.1, ablation, prefillMask }, train: { epochs: 1, batchSize: 16, lr: 1e-2 } });
    const job = exportRun(ablation, 'bitune', config()).dir;
    await python(['train.py', 'job.json', '--threads', '1'], job);
    const theirs = readMetrics(job);
    const events: TrainerEvent[] = [];
    const runDir = path.join(dir, ablation, 'stepwise');
    fs.mkdirSync(runDir, { recursive: true });
    expect((await runBitune({ config: config() as never, runDir }, (e) => events.push(e), new TrainerControl())).status).toBe('completed');
    const steps = events.flatMap((e) => (e.type === 'step' ? [e] : []));
    const ours = stepRecords(theirs);
    expect(ours.map((m) => m.step)).toEqual([1, 2, 3, 4]);
    expect(steps.map((e) => e.step)).toEqual([1, 2, 3, 4]);
    ours.forEach((m, k) => expect(Math.abs(m.values.loss - steps[k].loss), `loss at step ${m.step}`).toBeLessThanOrEqual(1e-4 * steps[k].loss));
    const valid = (rows: PredictionRow[]) => rows.map((r) => [r.index, r.generated, r.correct]);
    const stepwiseValid = events.flatMap((e) => (e.type === 'predictions' && e.split === 'valid' ? [e] : [])).at(-1)!;
    const written = fs.readFileSync(path.join(job, 'out/predictions/valid-4.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as PredictionRow);
    expect(valid(written)).toEqual(valid(stepwiseValid.rows));
    expect(fs.readdirSync(path.join(job, 'out/checkpoints/step-4')).sort()).toEqual(saved);
  });
});

test('export-job refuses a Bitune run with DoRA, IA3 or full fine-tuning, naming the field', () => {
  for (const peft of ['dora', 'ia3', 'full']) {
    expect(() => exportRun(`bitune-${peft}`, 'bitune', bituneConfig('gpt2', { peft }))).toThrow(
      new RegExp(`peft: is ${peft}; train\\.py trains LoRA and Bitune with peft lora \\(a float32 base, no eval\\.choices\\) for now`),
    );
  }
  expect(() => exportRun('bitune-as-lora', 'bitune', { ...bituneConfig('gpt2'), method: 'lora' })).toThrow(/method: is lora in a bitune run's config/);
});
