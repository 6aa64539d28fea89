/**
 * The training loop. Nothing here is GPT-2- or method-specific (minGPT's
 * trainer): it pulls batches from a BatchSource, runs the compiled step,
 * follows the learning-rate schedule, writes checkpoints and emits typed
 * events. The database writer, the UI and the CLI's progress bar are all just
 * listeners. Methods hook in through their batches (e.g. ICoT-SI's ask for an
 * optimizer reset when its removal schedule grows), `onEpochEnd` (validation)
 * and `extraState` (saved with every checkpoint).
 */
import type { Batch, BatchSource } from './batches.ts';
import { listCheckpoints, loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import type { ModelArch } from './models/family.ts';
import type { AdamWConfig } from './optim.ts';
import type { ProviderName } from './runtime.ts';
import type { TensorMap } from './safetensors.ts';
import { learningRate, type LrSchedule } from './schedule.ts';
import { TrainStep } from './train-step.ts';

export interface TrainerConfig {
  /** Any model family's architecture (models/family.ts). */
  arch: ModelArch;
  batch: number;
  seq: number;
  /** Optimizer steps in the whole run. */
  steps: number;
  schedule: LrSchedule;
  adamw: AdamWConfig;
  /** Save a checkpoint every this many steps (and always at the end); 0 = only at the end. */
  checkpointEvery: number;
  checkpointDir: string;
  provider?: ProviderName;
  threads?: number;
}

/** The trainer's status events: the run's own statuses (contract/entities.ts RUN_STATUSES) as the loop sees them, plus starting and paused. */
export type TrainerStatus = 'starting' | 'running' | 'paused' | 'cancelled' | 'completed' | 'failed';

export type TrainerEvent =
  | { type: 'status'; status: TrainerStatus; message?: string }
  | {
      type: 'step';
      step: number;
      totalSteps: number;
      epoch: number;
      loss: number;
      lr: number;
      gradNorm: number;
      /** Tokens (B×T, padding included) processed per second in this step. */
      tokensPerS: number;
      stepMs: number;
      elapsedS: number;
      etaS: number;
      /** The method's figures for this batch (e.g. ICoT-SI's scheduled removal). */
      info?: Record<string, number>;
    }
  | { type: 'checkpoint'; step: number; path: string; bytes: number }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string }
  /** Figures measured outside the step (e.g. validation accuracy at an epoch's end). */
  | { type: 'metric'; step: number; epoch: number; values: Record<string, number> }
  /** A method's predictions on a split, at a step. */
  | { type: 'predictions'; step: number; split: string; rows: PredictionRow[] };

/** One evaluated example: what the model was given, what it wrote, and whether it was right. */
export interface PredictionRow {
  index: number;
  input: string;
  target: string;
  generated: string;
  correct: boolean;
  /** The answer parsed from the generation, if any. */
  answer?: string | null;
  /** Chain-of-thought tokens generated before the answer. */
  cotTokens?: number;
}

/** Pause, resume and cancel, checked between steps. */
export class TrainerControl {
  private paused = false;
  private cancelled = false;
  private wake: (() => void) | null = null;
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    this.wake?.();
  }
  cancel(): void {
    this.cancelled = true;
    this.wake?.();
  }
  get isCancelled(): boolean {
    return this.cancelled;
  }
  get isPaused(): boolean {
    return this.paused;
  }
  /** Resolves once not paused (or cancelled); true if it waited. */
  async waitWhilePaused(onPause: () => void): Promise<boolean> {
    if (!this.paused || this.cancelled) return false;
    onPause();
    while (this.paused && !this.cancelled) await new Promise<void>((r) => (this.wake = r));
    this.wake = null;
    return true;
  }
}

/** What the loop needs of a compiled step: TrainStep, or a method's own (e.g. adapters over a frozen base). */
export type CompiledStep = Pick<TrainStep, 'optimizerStep' | 'run' | 'snapshot' | 'optimizerSnapshot' | 'loadState' | 'resetOptimizer' | 'release'> &
  Partial<Pick<TrainStep, 'runMany'>>;

/**
 * Steps per session run: as many as take about CHUNK_MS (at least one, at most
 * MAX_STEPS_PER_RUN), so pause and cancel still answer within a couple of seconds.
 * Results do not depend on it: K steps in one run equal K single runs bit for bit.
 */
const CHUNK_MS = 2000;
export const MAX_STEPS_PER_RUN = 16;

/** The steps per run the trainer chooses once a step takes `msPerStep` (0: not measured yet, one step). */
export function stepsPerRun(msPerStep: number): number {
  if (!(msPerStep > 0)) return 1;
  return Math.max(1, Math.min(MAX_STEPS_PER_RUN, Math.floor(CHUNK_MS / msPerStep)));
}

export interface TrainOptions {
  config: TrainerConfig;
  data: BatchSource;
  /** Initial parameters, or a checkpoint record (.json) to resume from. */
  init: { params: TensorMap } | { resumeFrom: string };
  emit: (e: TrainerEvent) => void;
  control?: TrainerControl;
  /** After the last batch of each epoch (e.g. validation); training waits for it. */
  onEpochEnd?: (ctx: { epoch: number; step: number; trainStep: CompiledStep; emit: (e: TrainerEvent) => void }) => Promise<void>;
  /** Build the step from the initial parameters instead of a TrainStep over `config.arch` (the trained parameters only). */
  createStep?: (init: TensorMap) => Promise<CompiledStep>;
  extraState?: () => Record<string, unknown>;
  restoreExtra?: (extra: Record<string, unknown>) => void;
}

export interface TrainResult {
  status: 'completed' | 'cancelled';
  step: number;
  params: TensorMap;
  lastCheckpoint: string | null;
}

/** The newest complete checkpoint of a run, to resume after a crash. */
export function latestCheckpoint(dir: string): string | null {
  const all = listCheckpoints(dir);
  return all.length ? all[all.length - 1].path : null;
}

export async function train(opts: TrainOptions): Promise<TrainResult> {
  const { config, data, emit } = opts;
  const control = opts.control ?? new TrainerControl();
  emit({ type: 'status', status: 'starting' });
  const resumeFrom = 'resumeFrom' in opts.init ? opts.init.resumeFrom : null;
  const ck = resumeFrom ? loadCheckpoint(resumeFrom) : null;
  const initParams = 'params' in opts.init ? opts.init.params : ck!.params;
  const ts = opts.createStep
    ? await opts.createStep(initParams)
    : await TrainStep.create({
      arch: config.arch, batch: config.batch, seq: config.seq, adamw: config.adamw,
      init: initParams, provider: config.provider, threads: config.threads, loop: true,
    });
  let startStep = 0;
  if (ck) {
    ts.loadState(ck.params, ck.m, ck.v, ck.record.optimizerStep);
    data.seek(ck.record.data);
    if (ck.record.extra) opts.restoreExtra?.(ck.record.extra);
    startStep = ck.record.step;
    emit({ type: 'log', level: 'info', message: `resumed from ${resumeFrom} at step ${startStep}` });
  }

  let lastCheckpoint: string | null = null;
  let lastLoss = NaN;
  const checkpoint = (step: number) => {
    const { m, v } = ts.optimizerSnapshot();
    const saved = saveCheckpoint(config.checkpointDir, {
      record: {
        format: 1, step, optimizerStep: ts.optimizerStep, data: data.position(), config, extra: opts.extraState?.(),
        loss: lastLoss, createdAt: new Date().toISOString(), tensors: '',
      },
      params: ts.snapshot(), m, v,
    });
    lastCheckpoint = saved.path;
    emit({ type: 'checkpoint', step, path: saved.path, bytes: saved.bytes });
  };

  emit({ type: 'status', status: 'running' });
  const t0 = performance.now();
  let step = startStep;
  /** A batch taken from the source that starts the next run (it resets the optimizer or changes length). */
  let held: Batch | null = null;
  let msPerStep = 0;
  const isEpochEnd = () => data.position().index >= data.batchesPerEpoch * config.batch;
  try {
    while (step < config.steps) {
      if (!held) {
        const waited = await control.waitWhilePaused(() => emit({ type: 'status', status: 'paused' }));
        if (control.isCancelled) break;
        if (waited) emit({ type: 'status', status: 'running' });
      }
      // The steps of one session run: about two seconds of them (stepsPerRun), of one length,
      // ending at an epoch's end, a checkpoint or the last step, and before a batch that resets
      // the optimizer. A held batch runs first (alone when a pause or cancel is waiting), so
      // the data position is never ahead of the steps taken when a checkpoint is written.
      const stop = control.isCancelled || control.isPaused;
      const wanted = !ts.runMany || stop ? 1 : stepsPerRun(msPerStep);
      const untilCheckpoint = config.checkpointEvery > 0 ? config.checkpointEvery - (step % config.checkpointEvery) : Infinity;
      const limit = Math.max(1, Math.min(wanted, config.steps - step, untilCheckpoint));
      const chunk: Batch[] = [];
      let epochEnd = false;
      while (chunk.length < limit) {
        const batch: Batch = held ?? data.next();
        const T = batch.seq ?? config.seq;
        if (chunk.length > 0 && (batch.resetOptimizer || T !== (chunk[0].seq ?? config.seq))) {
          held = batch;
          break;
        }
        held = null;
        chunk.push(batch);
        if (opts.onEpochEnd && isEpochEnd()) {
          epochEnd = true;
          break;
        }
      }
      if (chunk[0].resetOptimizer) {
        ts.resetOptimizer();
        emit({ type: 'log', level: 'info', message: `optimizer reset before step ${step + 1}` });
      }
      const T = chunk[0].seq ?? config.seq;
      const lrs = chunk.map((_, k) => learningRate(config.schedule, step + k + 1));
      const s0 = performance.now();
      const results = ts.runMany
        ? await ts.runMany(chunk, lrs, T)
        : [await ts.run(chunk[0].inputIds, chunk[0].labels, lrs[0], T, chunk[0].positionIds)];
      const stepMs = (performance.now() - s0) / chunk.length;
      msPerStep = stepMs;
      const elapsedS = (performance.now() - t0) / 1e3;
      results.forEach((r, k) => {
        step++;
        lastLoss = r.loss;
        if (!Number.isFinite(r.loss)) emit({ type: 'log', level: 'warn', message: `loss is ${r.loss} at step ${step}` });
        emit({
          type: 'step', step, totalSteps: config.steps, epoch: chunk[k].epoch, loss: r.loss, lr: lrs[k], gradNorm: r.gradNorm,
          tokensPerS: (config.batch * T) / (stepMs / 1e3), stepMs, elapsedS,
          etaS: (elapsedS / (step - startStep)) * (config.steps - step), info: chunk[k].info,
        });
      });
      if (epochEnd) await opts.onEpochEnd!({ epoch: chunk[chunk.length - 1].epoch, step, trainStep: ts, emit });
      if (config.checkpointEvery > 0 && step % config.checkpointEvery === 0 && step < config.steps) checkpoint(step);
      // Let pause/cancel messages in between runs (session.run holds the thread while it runs).
      await new Promise<void>((r) => setImmediate(r));
    }
    const status = control.isCancelled ? 'cancelled' : 'completed';
    if (step > startStep || status === 'completed') checkpoint(step);
    emit({ type: 'status', status, message: `${status} at step ${step}` });
    return { status, step, params: ts.snapshot(), lastCheckpoint };
  } catch (err) {
    emit({ type: 'status', status: 'failed', message: (err as Error).message });
    throw err;
  } finally {
    await ts.release();
  }
}
