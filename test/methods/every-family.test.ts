/**
 * Every method on every model family, through the lab as the app runs them
 * (runs.start, the worker, the store): ICoT-SI's three recipes, Fine-tune-CoT
 * students, Bitune and LoRA, each on a fresh GPT-2, a fresh Llama (rotary
 * positions, RMSNorm, SwiGLU, grouped-query attention, tied embeddings) and a
 * Qwen2 folder (a Llama-family Hugging Face folder: untied lm_head, its own
 * byte-level BPE tokenizer). Each run completes and registers its model in the
 * Library under the right family; the evaluation service scores the run's
 * model as the run itself scored it (ICoT-SI's No CoT with kept positions,
 * which rotary positions must honour as learned ones do; a student in its own
 * format, and served as text the way the OpenAI-compatible endpoints serve
 * it); and a probe job captures it (hidden states, logit lens through the
 * family's final norm and output projection, attention per query head) and
 * fits a probe grid cell. Tiny models (1 layer, width 32), one thread.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Probe, ProbeOutputs, ProbeRequestInput } from '../../src-main/contract/areas/probes.ts';
import type { Model, Run } from '../../src-main/contract/entities.ts';
import { llamaConfigFromHf } from '../../src-main/engine/hf/llama-folder.ts';
import { exportModelFolder } from '../../src-main/engine/hf/model-folder.ts';
import { initModel, Rng } from '../../src-main/engine/init.ts';
import { TextModel } from '../../src-main/methods/finetune-cot/text-model.ts';
import { evaluateAdapters } from '../../src-main/services/adapters-eval.ts';
import { evaluateFile } from '../../src-main/services/evaluation.ts';
import { openLab, type Lab } from '../../src-main/services/lab.ts';
import { probeDone } from '../../src-main/services/probes.ts';
import { writeLateTask } from '../bitune/late-task.ts';
import { byteBpeJson } from '../fixtures/byte-bpe.ts';
import { tinyConfig, writeTinyMult } from '../services/tiny-run.ts';

/** A Qwen2 (Llama family) of the same size as the fresh models, written as a Hugging Face folder. */
const QWEN2 = {
  model_type: 'qwen2', vocab_size: 259, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 4,
  num_key_value_heads: 2, max_position_embeddings: 128, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: false,
};

interface Family {
  label: string;
  /** What the Library says of it (architecture.family). */
  family: 'gpt2' | 'llama';
  heads: number;
  model(): Record<string, unknown>;
  /** What the registered model's architecture also says. */
  architecture: Record<string, unknown>;
}

let tmp: string;
let lab: Lab;
let labDir: string;
let folder: string;
let mult: { train: string; valid: string; test: string };
let late: ReturnType<typeof writeLateTask>;
let sums: { train: string; test: string };

const FAMILIES: Family[] = [
  { label: 'a fresh GPT-2', family: 'gpt2', heads: 2, model: () => ({ kind: 'fresh', layers: 1, dim: 32, heads: 2, seed: 1 }), architecture: { nLayer: 1, nEmbd: 32 } },
  {
    label: 'a fresh Llama', family: 'llama', heads: 4, model: () => ({ kind: 'fresh', family: 'llama', layers: 1, dim: 32, heads: 4, kvHeads: 2, seed: 1 }),
    architecture: { nLayer: 1, hiddenSize: 32, nKvHead: 2, tiedEmbeddings: true },
  },
  { label: 'a Qwen2 folder', family: 'llama', heads: 4, model: () => ({ kind: 'folder', path: folder }), architecture: { nLayer: 1, hiddenSize: 32, nKvHead: 2, tiedEmbeddings: false } },
];

/** "What is the last digit of 7 + 5?" → "7 + 5 = 12." → 2: a Fine-tune-CoT task with a short rationale. */
function writeSums(dir: string): { train: string; test: string } {
  const rng = new Rng(5);
  const line = () => {
    const a = Math.floor(rng.next() * 10);
    const b = Math.floor(rng.next() * 10);
    return JSON.stringify({ question: `What is the last digit of ${a} + ${b}?`, rationale: `${a} + ${b} = ${a + b}.`, answer: String((a + b) % 10) });
  };
  const files = { train: path.join(dir, 'sums-train.jsonl'), test: path.join(dir, 'sums-test.jsonl') };
  fs.writeFileSync(files.train, `${Array.from({ length: 32 }, line).join('\n')}\n`);
  fs.writeFileSync(files.test, `${Array.from({ length: 4 }, line).join('\n')}\n`);
  return files;
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-every-family-'));
  const tokDir = path.join(tmp, 'tok');
  fs.mkdirSync(tokDir);
  fs.writeFileSync(path.join(tokDir, 'tokenizer.json'), JSON.stringify(byteBpeJson({ special: { '<|endoftext|>': 256, '<|im_start|>': 257, '<|im_end|>': 258 } })));
  fs.writeFileSync(path.join(tokDir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<|endoftext|>' }));
  const arch = llamaConfigFromHf(QWEN2);
  folder = path.join(tmp, 'qwen2-tiny');
  exportModelFolder(folder, { arch, params: initModel(arch, 3), hfExtra: QWEN2, tokenizerFrom: tokDir });
  mult = await writeTinyMult(path.join(tmp, 'mult'));
  late = writeLateTask(path.join(tmp, 'late'), { train: 16, valid: 0, test: 4 });
  sums = writeSums(tmp);
  labDir = path.join(tmp, 'lab');
  lab = openLab(labDir);
});

afterAll(() => {
  lab?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function call<T>(name: string, input: unknown): Promise<T> {
  const r = await lab.dispatch(name, input);
  if (!r.ok) throw new Error(`${name}: ${r.error.message}`);
  return r.result as T;
}

/** Trains a run to the end; answers it and the model it registered. */
async function trained(method: string, name: string, config: Record<string, unknown>, f: Family): Promise<{ run: Run; model: Model }> {
  const started = await call<Run>('runs.start', { method, name, config });
  const end = await lab.training.whenDone(started.id)!;
  const log = () => lab.store.logs.after(started.id, 0, 1000).map((l) => l.message).join('\n');
  expect(end.run.status, `${end.run.error ?? ''}\n${log()}`).toBe('completed');
  const model = lab.store.models.list(1000, 0).items.find((m) => m.runId === started.id);
  expect(model, `a model registered in the Library; the run's log:\n${log()}`).toBeDefined();
  expect(model!.architecture).toMatchObject({ family: f.family, ...f.architecture });
  return { run: end.run, model: model! };
}

/** A probe job to its end: the capture (hidden states, logit lens, attention) and one grid cell. */
async function probed(request: ProbeRequestInput, f: Family, target: string): Promise<void> {
  const started = await call<Probe>('probes.start', { slots: ['eos.0'], targets: [target], seeds: 1, ...request });
  const job = (await probeDone(labDir, started.id)) ?? (await call<Probe>('probes.get', { id: started.id }));
  expect(job.status, job.error ?? '').toBe('completed');
  const results = await call<ProbeOutputs['probes.results']>('probes.results', { id: job.id, point: 0 });
  expect(results.layers).toBe(2);
  expect(results.targets.map((t) => t.name)).toEqual([target]);
  const cell = results.targets[0].cells[1][0]!; // after the block, at the first EOS
  expect(cell.n).toBeGreaterThan(0);
  expect(cell.score).toBeGreaterThanOrEqual(0);
  expect(cell.score).toBeLessThanOrEqual(1);
  expect(results.targets[0].random).not.toBeNull();
  const lens = await call<ProbeOutputs['probes.lens']>('probes.lens', { id: job.id, point: 0, example: 0 });
  expect(lens.top).toHaveLength(2); // embeddings and the block, each through the final norm and the output projection
  for (const layer of lens.top) {
    expect(layer).toHaveLength(lens.tokens.length);
    for (const position of layer) {
      const sum = position.reduce((s, x) => s + x.p, 0);
      expect(sum).toBeGreaterThan(0);
      expect(sum).toBeLessThanOrEqual(1 + 1e-5);
    }
  }
  const attention = await call<ProbeOutputs['probes.attention']>('probes.attention', { id: job.id, point: 0, example: 0, layer: 0 });
  expect(attention.heads).toBe(f.heads); // query heads, grouped-query attention or not
  for (const head of attention.weights) for (const [q, row] of head.entries()) expect(row.slice(0, q + 1).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
}

describe.each(FAMILIES)('every method on $label', (f) => {
  const RECIPES = ['cot', 'nocot', 'icot-si'] as const;
  test.each(RECIPES)('ICoT-SI, recipe %s: trains, registers, evaluates as the run did, probes', async (recipe) => {
    const { curriculum: _, ...base } = tinyConfig(mult, 3);
    const config = {
      // The run's decoding budget, which evaluation then takes from it.
      ...base, recipe, model: f.model(), eval: { batchSize: 8, maxNewTokens: 48 }, runtime: { threads: 1 },
      // No CoT keeps the positions the CoT held: evaluation must place the answer there too, rotary or learned.
      // ICoT-SI removes a token a step and, past 8 (the byte-level CoT is 17 tokens long), all of it, so every family ends with none.
      ...(recipe === 'icot-si' ? { curriculum: { removePerEpoch: 16, smoothingLambda: 4, removeAllWhenBeyond: 8 } } : recipe === 'nocot' ? { curriculum: { keepPosition: true } } : {}),
    };
    const { run, model } = await trained('icot-si', `${recipe} on ${f.label}`, config, f);
    expect(model.source.recipe).toBe(recipe);

    const [testEval] = lab.store.predictions.evaluations(run.id, 'test');
    const own = lab.store.predictions.list(run.id, 'test', testEval.step, 0, 100);
    expect(own).toHaveLength(8);
    const report = await evaluateFile(lab, { model: { runId: run.id }, dataFile: mult.test, batchSize: 8, split: 'again' });
    expect(report.total).toBe(8);
    expect(report.stored).toMatchObject({ runId: run.id, split: 'again' });
    const again = lab.store.predictions.list(run.id, 'again', report.stored!.step, 0, 100);
    expect(again.map((p) => p.generated)).toEqual(own.map((p) => p.generated));

    await probed({ source: { runId: run.id, checkpoints: 'latest' }, data: { file: mult.train, limit: 32 } }, f, 'pp0.d1');
  });

  test('Fine-tune-CoT: a student trains, registers, is evaluated in its own format as the run did, and probes', async () => {
    const config = {
      method: 'fine-tune-cot', format: 'ft-cot', answerType: 'number', task: 'last digit', model: f.model(),
      data: { train: sums.train, test: sums.test }, train: { epochs: 2, batchSize: 8, lr: 3e-3, seed: 0 }, eval: { batchSize: 4, maxNewTokens: 24 }, runtime: { threads: 1 },
    };
    const { run, model } = await trained('fine-tune-cot', `student on ${f.label}`, config, f);
    const [testEval] = lab.store.predictions.evaluations(run.id, 'test');
    const own = lab.store.predictions.list(run.id, 'test', testEval.step, 0, 100);
    expect(own).toHaveLength(4);
    const report = await evaluateFile(lab, { model: { runId: run.id }, dataFile: sums.test, batchSize: 4, split: 'again' });
    expect(report.total).toBe(4);
    const again = lab.store.predictions.list(run.id, 'again', report.stored!.step, 0, 100);
    expect(again.map((p) => p.generated)).toEqual(own.map((p) => p.generated));
    // The Library model completes text as the OpenAI-compatible endpoints serve it: greedily, the same as the run's test.
    const served = TextModel.load(path.join(labDir, model.path), { threads: 1 });
    try {
      const completions = await served.complete(own.map((p) => `${p.input} ###`), { maxTokens: 24, temperature: 0 });
      expect(completions.map((c) => c.text)).toEqual(own.map((p) => p.generated));
    } finally {
      await served.release();
    }

    await probed(
      { source: { runId: run.id, checkpoints: 'latest' }, data: { file: sums.train, limit: 32 }, patterns: [{ name: 'first', source: 'input', pattern: '(\\d) \\+' }] },
      f, 'first',
    );
  });

  test.each(['lora', 'bitune'] as const)('%s: adapters train, the merged model registers, the adapters evaluate, the merged model probes', async (method) => {
    const config = {
      method, model: f.model(), lora: { r: 4, alpha: 8 },
      data: { train: late.train, test: late.test }, train: { epochs: 1, batchSize: 8, lr: 1e-2, seed: 0 },
      eval: { everyEpoch: false, maxNewTokens: 4, batchSize: 8 }, runtime: { threads: 1 },
    };
    const { run, model } = await trained(method, `${method} on ${f.label}`, config, f);
    const report = await evaluateAdapters(lab, { source: { runId: run.id }, dataFile: late.test, batchSize: 4 });
    expect(report).toMatchObject({ kind: 'answers', total: 4 });
    expect(report.stored?.runId).toBe(run.id);

    await probed({ source: { modelId: model.id }, data: { file: late.train, limit: 16 }, patterns: [{ name: 'first', source: 'input', pattern: '^(\\d)' }] }, f, 'first');
  });
});
