/**
 * The outline every supervised method's run follows (ICoT-SI's three recipes,
 * Fine-tune-CoT's students): record the run, train, validate at each epoch's
 * end, keep the best model, test it. The method brings what is its own (its
 * data, batches and tokenizer, how it scores a model, and hooks at the
 * epoch's end and after the test); this file brings the rest, the same for
 * every method and every model family.
 *
 * Run folder layout: `checkpoints/` (resumable checkpoints), `best/` (the best
 * model as a Hugging Face folder of the model's family, with
 * `stepwise-tokenizer.json`), `run.json` (config, tokenizer, architecture, device).
 *
 * Wall time is counted over every process of a run (a resumed run adds to what
 * its checkpoint recorded) and written as `wall_minutes` when the run ends.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BatchSource } from '../../engine/batches.ts';
import { Generator } from '../../engine/generate.ts';
import { deviceRecord } from '../../engine/gpu-adapter.ts';
import { exportModelFolder, loadModelFolder, type HfModel } from '../../engine/hf/model-folder.ts';
import { initModel } from '../../engine/init.ts';
import { modelFamily, type ModelArch } from '../../engine/models/family.ts';
import type { TensorMap } from '../../engine/safetensors.ts';
import { hasTokenizer } from '../../engine/tokenizers/hf.ts';
import type { SeqTokenizer } from '../../engine/tokenizers/seq-tokenizer.ts';
import { TOKENIZER_SPEC_FILE } from '../../engine/tokenizers/spec.ts';
import { train, type CompiledStep, type TrainerControl, type TrainerEvent } from '../../engine/trainer.ts';
import { freshArch, trainerConfigOf, type BestModel, type MethodJob, type MethodOutcome, type MethodSettings } from '../run-config.ts';
import type { LibraryEntry } from '../method.ts';
import type { EvalResult } from './eval-result.ts';

/** What the outline reads of a method's config. */
export interface SupervisedConfig extends MethodSettings {
  model: { kind: 'fresh'; seed: number } | { kind: 'folder'; path: string };
  train: MethodSettings['train'] & { epochs: number };
  eval: { everyEpoch: boolean };
}

export type SupervisedOutcome = MethodOutcome<Omit<EvalResult, 'predictions'>>;

/** A supervised run's best model as the Library takes it (methods' `library`), named by its recipe; null when it kept none. */
export function bestInLibrary(outcome: SupervisedOutcome, recipe: string): LibraryEntry | null {
  const b = outcome.best;
  return b ? { path: b.path, suffix: '(best)', recipe, step: b.step, epoch: b.epoch, valAccuracy: b.accuracy } : null;
}

/** The completion log's words on a supervised run's best model (methods' `summary`); `none` when it kept none. */
export function bestSummary(outcome: SupervisedOutcome, none = 'no best model'): string {
  return outcome.best ? `best validation accuracy ${(100 * outcome.best.accuracy).toFixed(1)}% at step ${outcome.best.step}` : none;
}

/** The model a run starts from: a folder's (any family, with its tokenizer), or none yet (a fresh one, once the data has sized it). */
export function loadStartFolder(model: SupervisedConfig['model']): HfModel | null {
  return model.kind === 'folder' ? loadModelFolder(model.path) : null;
}

/** The architecture and first weights: the folder's, or a fresh model of the config's family for `vocabSize` tokens and `context` positions (rounded up to a multiple of 8). */
export function startModel(config: { model: SupervisedConfig['model'] & Record<string, unknown> }, folder: HfModel | null, vocabSize: number, context: number): { arch: ModelArch; init: TensorMap } {
  if (folder) return { arch: folder.config, init: folder.params };
  const arch = freshArch(config as Parameters<typeof freshArch>[0], vocabSize, Math.ceil(context / 8) * 8);
  return { arch, init: initModel(arch, config.model.kind === 'fresh' ? config.model.seed : 0) };
}

/** Positions the architecture holds (any family). */
export const positionsOf = (arch: ModelArch): number => modelFamily(arch).maxPositions;

/** What one epoch's end gives a method's hooks. */
export interface EpochEnd {
  epoch: number;
  step: number;
  trainStep: CompiledStep;
}

export interface SupervisedRun<C extends SupervisedConfig, E> {
  job: MethodJob<C>;
  emit: (e: TrainerEvent) => void;
  control: TrainerControl;
  arch: ModelArch;
  init: TensorMap;
  tok: SeqTokenizer;
  batches: BatchSource;
  valid: E[];
  test: E[];
  /** The run's first log line: what it trains on and with what. */
  describe(steps: number): string;
  /** Scores a model on examples of a split (greedy generation, the method's answer reading). */
  evaluate?(gen: Generator<ModelArch>, examples: E[], split: 'valid' | 'test'): Promise<EvalResult>;
  /** Scores a model from its parameters, for a method that generates its own way (Coconut's continuous thoughts); instead of evaluate. */
  scoreModel?(params: TensorMap, examples: E[], split: 'valid' | 'test'): Promise<EvalResult>;
  /** At every epoch's end, before validation (ICoT-SI keeps its explicit-CoT model here; the running-sum probe is scored here). */
  onEpochEnd?(end: EpochEnd): void | Promise<void>;
  /** The compiled step, when the method trains more than the model (the running-sum probe); default the trainer's TrainStep. */
  createStep?(init: TensorMap): Promise<CompiledStep>;
  /**
   * After a validation, before its metrics are written: the method's own
   * figures for the metric row, and whether this model may become the best
   * (ICoT-SI's only once no CoT is shown). Default: eligible, no figures.
   */
  afterValidation?(r: EvalResult, end: EpochEnd): { eligible: boolean; values?: Record<string, number> };
  /** Method state saved with every checkpoint beside the outline's own (the best model, the wall time). */
  extraState?(): Record<string, unknown>;
  restoreExtra?(extra: Record<string, unknown>): void;
  /** After the test, on a completed run with a best model (ICoT-SI's speed comparison). */
  afterTest?(best: BestModel, step: number): Promise<void>;
}

export async function runSupervised<C extends SupervisedConfig, E>(run: SupervisedRun<C, E>): Promise<SupervisedOutcome> {
  const { job, emit, arch, tok, batches } = run;
  const { config } = job;
  const t = config.train;
  const positions = positionsOf(arch);
  const steps = t.epochs * batches.batchesPerEpoch;
  const checkpointDir = path.join(job.runDir, 'checkpoints');
  const bestDir = path.join(job.runDir, 'best');
  mkdirSync(checkpointDir, { recursive: true });
  const device = await deviceRecord(config.runtime.provider);
  writeFileSync(path.join(job.runDir, 'run.json'), JSON.stringify({ config, tokenizer: tok.spec(), arch, device: { provider: device.provider, adapter: device.adapter } }, null, 2));
  emit({ type: 'log', level: 'info', message: run.describe(steps) });
  if (device.adapter) emit({ type: 'log', level: 'info', message: device.summary });

  const score = async (params: TensorMap, examples: E[], split: 'valid' | 'test'): Promise<EvalResult> => {
    if (run.scoreModel) return run.scoreModel(params, examples, split);
    if (!run.evaluate) throw new Error('a supervised run needs evaluate or scoreModel');
    const gen = Generator.create(arch, params, { provider: config.runtime.provider, threads: config.runtime.threads });
    try {
      return await run.evaluate(gen, examples, split);
    } finally {
      await gen.release();
    }
  };
  let best: BestModel | null = null;
  const saveBest = (params: TensorMap, step: number, epoch: number, accuracy: number) => {
    // A self-contained model folder: the source folder's tokenizer files travel with it.
    const source = config.model.kind === 'folder' && hasTokenizer(config.model.path) ? config.model.path : undefined;
    exportModelFolder(bestDir, { arch, params, tokenizerFrom: source });
    writeFileSync(path.join(bestDir, TOKENIZER_SPEC_FILE), JSON.stringify(tok.spec()));
    best = { step, epoch, accuracy, path: bestDir };
  };

  const started = performance.now();
  let earlierMs = 0;
  const wallMinutes = () => (earlierMs + performance.now() - started) / 60e3;

  const result = await train({
    config: trainerConfigOf(config, { arch, seq: positions, steps, batchesPerEpoch: batches.batchesPerEpoch, checkpointDir }),
    data: batches,
    init: job.resumeFrom ? { resumeFrom: job.resumeFrom } : { params: run.init },
    emit,
    control: run.control,
    extraState: () => ({ ...run.extraState?.(), best, wallMs: wallMinutes() * 60e3 }),
    restoreExtra: (extra) => {
      run.restoreExtra?.(extra);
      best = (extra.best as BestModel | undefined) ?? null;
      earlierMs = typeof extra.wallMs === 'number' ? extra.wallMs : 0;
    },
    ...(run.createStep ? { createStep: (init: TensorMap) => run.createStep!(init) } : {}),
    onEpochEnd: async (end) => {
      await run.onEpochEnd?.(end);
      const { epoch, step, trainStep } = end;
      if (run.valid.length === 0 || (!config.eval.everyEpoch && step < steps)) return;
      const params = trainStep.snapshot();
      const r = await score(params, run.valid, 'valid');
      const own = run.afterValidation?.(r, end) ?? { eligible: true };
      emit({ type: 'metric', step, epoch, values: { val_accuracy: r.accuracy, val_cot_tokens: r.meanCotTokens, val_examples_per_s: r.examplesPerS, ...own.values } });
      emit({ type: 'predictions', step, split: 'valid', rows: r.predictions });
      if (own.eligible && (!best || r.accuracy >= best.accuracy)) {
        saveBest(params, step, epoch, r.accuracy);
        emit({ type: 'log', level: 'info', message: `epoch ${epoch + 1}: best validation accuracy so far ${(100 * r.accuracy).toFixed(1)}%, saved to ${bestDir}` });
      }
    },
  });

  let test: SupervisedOutcome['test'] = null;
  if (result.status === 'completed') {
    // Without validation the last model is the one kept.
    if (run.valid.length === 0) saveBest(result.params, result.step, t.epochs - 1, Number.NaN);
    const kept = best as BestModel | null;
    if (run.test.length) {
      const params = kept ? loadModelFolder(bestDir).params : result.params;
      const { predictions, ...summary } = await score(params, run.test, 'test');
      test = summary;
      emit({ type: 'metric', step: result.step, epoch: t.epochs - 1, values: { test_accuracy: summary.accuracy, test_cot_tokens: summary.meanCotTokens, test_examples_per_s: summary.examplesPerS } });
      emit({ type: 'predictions', step: result.step, split: 'test', rows: predictions });
      if (run.valid.length === 0 && kept) best = { ...kept, accuracy: summary.accuracy };
      if (kept && run.afterTest) await run.afterTest(kept, result.step);
    }
    emit({ type: 'metric', step: result.step, epoch: t.epochs - 1, values: { wall_minutes: wallMinutes() } });
    emit({ type: 'log', level: 'info', message: `wall time ${wallMinutes().toFixed(1)} minutes over every process of the run` });
  }
  return { status: result.status, step: result.step, best, test };
}
