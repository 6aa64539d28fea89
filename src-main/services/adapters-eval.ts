/**
 * Evaluating trained adapters outside training (`stepwise eval` on a Bitune
 * or LoRA run, or on a saved adapters folder): on an instruction file (greedy
 * answers, exact match; GSM8K-style golds `… #### 42` compare the extracted
 * numbers), or a multiple-choice file (log-likelihood acc and acc_norm, as
 * lm-evaluation-harness reports them). The results land in the store under
 * the run the adapters belong to, as the metrics the results table reads
 * (`eval_acc.<file>`, `mc_acc.<file>`, `mc_acc_norm.<file>`, at the step the
 * adapters were saved at) and, for answers, as predictions.
 */
import fs from 'node:fs';
import path from 'node:path';
import { StepwiseError } from '../contract/errors.ts';
import type { Run } from '../contract/entities.ts';
import { listCheckpoints, loadCheckpoint } from '../engine/checkpoint.ts';
import type { ProviderName } from '../engine/runtime.ts';
import { BituneModel } from '../methods/bitune/infer.ts';
import { parseBituneConfig, variantOf } from '../methods/bitune/recipe.ts';
import { evaluateAnswers, evaluateChoices } from '../methods/bitune/run.ts';
import { loadSavedAdapters, type SavedAdapters } from '../methods/bitune/saved.ts';
import { normaliseChoice, parseChoiceJsonl, type ChoiceQuestion } from '../methods/shared/instruct/choices.ts';
import { readInputTextSync } from '../methods/input-file.ts';
import { parseInstructJsonl, readInstructFile, type InstructExample } from '../methods/shared/instruct/format.ts';
import { ADAPTER_METHODS } from './adapters.ts';
import type { LabContext } from './lab.ts';
import { runFolder } from './paths.ts';

export interface AdapterEvalRequest {
  /** A Bitune / LoRA run (its final adapters, or a checkpoint's), or an adapters folder (with its base, when it names none). */
  source: { runId: number; checkpoint?: number | 'latest' } | { adapters: string; base?: string };
  /** Instruction JSONL, a multiple-choice JSONL (PIQA / ARC / CSQA / SIQA / MMLU shapes), or `input||cot #### answer` lines. */
  dataFile: string;
  limit?: number;
  batchSize: number;
  /** Default: the run's eval.maxNewTokens, else 32. */
  maxNewTokens?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface AdapterEvalReport {
  /** What was evaluated, in words. */
  model: string;
  kind: 'answers' | 'choices';
  /** The file's name without its extension: the key of its column in the results table. */
  name: string;
  total: number;
  /** Answers: exact-match accuracy; choices: acc. */
  accuracy: number;
  correct: number;
  /** Choices only. */
  accNorm: number | null;
  examplesPerS: number;
  /** Where the results were stored; null for adapters that belong to no run. */
  stored: { runId: number; step: number; keys: string[]; split: string | null } | null;
}

type EvalData = { kind: 'answers'; examples: InstructExample[] } | { kind: 'choices'; questions: ChoiceQuestion[] };

/** An evaluation file, told apart by its first line: multiple-choice fields, instruction JSONL, or the paper's line format. */
export function readEvalFile(file: string): EvalData {
  let text: string;
  try {
    text = readInputTextSync(file, 'evaluation file'); // a FIFO, a device or an oversized file is refused before it is opened
  } catch (error) {
    throw new StepwiseError('invalid_input', (error as Error).message);
  }
  const first = text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  try {
    if (!first.trimStart().startsWith('{')) return { kind: 'answers', examples: readInstructFile(file) };
    let row: Record<string, unknown> | null = null;
    try {
      row = JSON.parse(first) as Record<string, unknown>;
    } catch {
      // parseInstructJsonl names the line
    }
    const choiceShaped = row !== null && typeof row === 'object' && ('choices' in row || 'sol1' in row || 'answerA' in row || (typeof row.question === 'object' && row.question !== null));
    if (choiceShaped) {
      normaliseChoice(row!, `${file}:1`);
      return { kind: 'choices', questions: parseChoiceJsonl(text, file) };
    }
    return { kind: 'answers', examples: parseInstructJsonl(text, file) };
  } catch (error) {
    if (error instanceof StepwiseError) throw error;
    throw new StepwiseError('invalid_input', (error as Error).message);
  }
}

/** The run a folder lies in (`<data>/runs/<id>/…`), if the store has it. */
function runOfFolder({ store, dataDir }: LabContext, dir: string): Run | null {
  const rel = path.relative(path.join(dataDir, 'runs'), path.resolve(dir));
  const m = /^(\d+)(?:[/\\]|$)/.exec(rel);
  if (!m || rel.startsWith('..')) return null;
  const run = store.runs.get(Number(m[1]));
  return run && ADAPTER_METHODS.includes(run.method) ? run : null;
}

interface Loaded {
  saved: SavedAdapters;
  description: string;
  owner: { run: Run; step: number } | null;
  maxNewTokens?: number;
  provider?: ProviderName;
  threads?: number;
}

function loadRun(context: LabContext, runId: number, checkpoint: number | 'latest' | undefined): Loaded {
  const run = context.store.runs.get(runId);
  if (!run) throw new StepwiseError('not_found', `there is no run ${runId}`);
  if (!ADAPTER_METHODS.includes(run.method)) throw new StepwiseError('invalid_input', `run ${runId} is a ${run.method} run, not Bitune or LoRA`);
  const runDir = path.join(context.dataDir, runFolder(runId));
  let config;
  try {
    config = parseBituneConfig((JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as { config: unknown }).config, path.join(runDir, 'run.json'));
  } catch (error) {
    throw new StepwiseError('not_found', `run ${runId} has no readable ${path.join(runDir, 'run.json')} (${(error as Error).message}): it never started, so there are no adapters to evaluate`);
  }
  const base = config.model.kind === 'folder' ? config.model.path : path.join(runDir, 'base');
  const adaptersDir = path.join(runDir, 'adapters');
  const checkpoints = listCheckpoints(path.join(runDir, 'checkpoints'));
  let saved: SavedAdapters;
  let step: number;
  let description: string;
  if (checkpoint === undefined && fs.existsSync(adaptersDir)) {
    saved = loadSavedAdapters(adaptersDir, { base, variant: variantOf(config) });
    step = checkpoints.length ? checkpoints[checkpoints.length - 1].step : 0;
    description = `run ${runId} (${run.method}), adapters at step ${step}`;
  } else {
    const ck = checkpoint === undefined || checkpoint === 'latest' ? checkpoints[checkpoints.length - 1] : checkpoints.find((c) => c.step === checkpoint);
    if (!ck) {
      const have = checkpoints.map((c) => c.step).join(', ') || 'none';
      throw new StepwiseError('not_found', `run ${runId} has no ${checkpoint === undefined || checkpoint === 'latest' ? 'checkpoint' : `checkpoint at step ${checkpoint}`} (checkpoints: ${have})`);
    }
    if (!fs.existsSync(adaptersDir)) throw new StepwiseError('not_found', `run ${runId} has no ${adaptersDir} to read its adapters' layout from`);
    saved = loadSavedAdapters(adaptersDir, { base, variant: variantOf(config) });
    const state = loadCheckpoint(ck.path);
    for (const name of saved.trained.keys()) {
      const t = state.params.get(name);
      if (!t) throw new StepwiseError('invalid_input', `${ck.path}: lacks '${name}'`);
      saved.trained.set(name, t);
    }
    step = ck.step;
    description = `run ${runId} (${run.method}), checkpoint of step ${step}`;
  }
  return { saved: { ...saved, baseDtype: config.runtime.baseDtype }, description, owner: { run, step }, maxNewTokens: config.eval.maxNewTokens, provider: config.runtime.provider, threads: config.runtime.threads };
}

function loadFolder(context: LabContext, dir: string, base: string | undefined): Loaded {
  let saved: SavedAdapters;
  try {
    saved = loadSavedAdapters(path.resolve(dir), { base: base === undefined ? undefined : path.resolve(base) });
  } catch (error) {
    throw new StepwiseError('invalid_input', (error as Error).message);
  }
  const run = runOfFolder(context, dir);
  let owner: Loaded['owner'] = null;
  if (run) {
    const checkpoints = listCheckpoints(path.join(context.dataDir, runFolder(run.id), 'checkpoints'));
    owner = { run, step: checkpoints.length ? checkpoints[checkpoints.length - 1].step : 0 };
  }
  return { saved, description: `${saved.variant.method} adapters in ${dir} over ${saved.baseDir}`, owner };
}

export async function evaluateAdapters(context: LabContext, request: AdapterEvalRequest): Promise<AdapterEvalReport> {
  const loaded = 'runId' in request.source ? loadRun(context, request.source.runId, request.source.checkpoint) : loadFolder(context, request.source.adapters, request.source.base);
  const data = readEvalFile(request.dataFile);
  const name = path.basename(request.dataFile).replace(/\.(jsonl|json|txt)$/i, '');
  const { saved } = loaded;
  const model = new BituneModel(saved, { provider: loaded.provider, threads: loaded.threads });
  const t0 = performance.now();
  let report: Omit<AdapterEvalReport, 'stored' | 'examplesPerS' | 'model' | 'name'>;
  let values: Record<string, number>;
  let predictions: Awaited<ReturnType<typeof evaluateAnswers>>['predictions'] = [];
  try {
    if (data.kind === 'answers') {
      const examples = request.limit ? data.examples.slice(0, request.limit) : data.examples;
      const r = await evaluateAnswers(model, saved.tok, examples, { batchSize: request.batchSize, maxNewTokens: request.maxNewTokens ?? loaded.maxNewTokens ?? 32, template: saved.template, onProgress: request.onProgress });
      report = { kind: 'answers', total: examples.length, accuracy: r.accuracy, correct: r.correct, accNorm: null };
      values = { [`eval_acc.${name}`]: r.accuracy };
      predictions = r.predictions;
    } else {
      const questions = request.limit ? data.questions.slice(0, request.limit) : data.questions;
      const r = await evaluateChoices(model, saved.tok, questions, request.batchSize, { template: saved.template, onProgress: request.onProgress });
      report = { kind: 'choices', total: r.total, accuracy: r.acc, correct: Math.round(r.acc * r.total), accNorm: r.accNorm };
      values = { [`mc_acc.${name}`]: r.acc, [`mc_acc_norm.${name}`]: r.accNorm };
    }
  } finally {
    await model.release();
  }
  const examplesPerS = report.total / ((performance.now() - t0) / 1e3);

  let stored: AdapterEvalReport['stored'] = null;
  if (loaded.owner) {
    const { run, step } = loaded.owner;
    const split = report.kind === 'answers' ? `eval:${path.basename(request.dataFile)}` : null;
    const wallTime = Date.now();
    context.store.transaction(() => {
      context.store.metrics.record(run.id, step, values, wallTime);
      if (split) {
        context.store.predictions.record(run.id, split, step, predictions.map((r) => ({ index: r.index, input: r.input, target: r.target, generated: r.generated, correct: r.correct, answer: r.answer ?? null, cotTokens: null })));
      }
    });
    context.events.emit('run.metric', { runId: run.id, step, values, wallTime });
    const what = report.kind === 'answers'
      ? `accuracy ${(100 * report.accuracy).toFixed(1)}% (${report.correct}/${report.total}); predictions stored as split "${split}"`
      : `multiple choice acc ${(100 * report.accuracy).toFixed(1)}%, acc_norm ${(100 * report.accNorm!).toFixed(1)}% (${report.total} questions)`;
    context.events.emit('run.log', context.store.logs.append(run.id, 'info', `evaluated ${loaded.description} on ${request.dataFile}: ${what}`));
    stored = { runId: run.id, step, keys: Object.keys(values), split };
  }
  return { ...report, model: loaded.description, name, examplesPerS, stored };
}
