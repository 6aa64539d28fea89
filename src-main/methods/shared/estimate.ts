/**
 * What a run will take, before it runs: parameters, memory (weights, optimizer
 * state, activations at the chosen batch), steps, and a time from a short
 * measured warm-up on this machine. A method says what it trains (its `plan`,
 * ../method.ts); everything here is method-blind.
 *
 * Memory is the float32 training state as the engine holds it (train-step.ts:
 * parameters and AdamW's two moments in flat buffers, twice, because ONNX
 * Runtime writes the next state beside the current one, plus one gradient),
 * and activations by Korthikanti et al. 2022 ("Reducing Activation
 * Recomputation in Large Transformer Models", eq. 2: s·b·h·(34 + 5·a·s/h)
 * bytes per layer in 16-bit, doubled here for float32), plus the logits and
 * their gradient. ONNX Runtime's arena adds its own slack, so the figure is a
 * floor, said as "about".
 */
import os from 'node:os';
import { initModel } from '../../engine/init.ts';
import { modelFamily, paramCount, type ModelArch } from '../../engine/models/family.ts';
import { ADAMW_DEFAULTS } from '../../engine/optim.ts';
import { TrainStep } from '../../engine/train-step.ts';
import { freshArch } from '../run-config.ts';
import type { RunEstimate, Verdict } from '../../contract/entities.ts';

export type { RunEstimate };

/** What a run trains, as its method lays it out (MethodDefinition.plan). */
export interface RunPlan {
  arch: ModelArch;
  /** Parameters the optimizer updates (all of them for full training; the adapters' for LoRA). */
  trainable: number;
  /** Bytes per frozen base weight (4, or 2 for a float16 base); ignored when everything trains. */
  frozenBytes?: number;
  batchSize: number;
  /** The longest training sequence, in tokens (what a batch is padded to at most). */
  seqLen: number;
  /** Training examples per epoch. */
  examples: number;
  epochs: number;
  /** Forward and backward passes over the model per step (Bitune reads the prompt twice: 2). */
  passes: number;
}

/** Above these the app asks before it starts a run. */
export const CONFIRM_SECONDS = 3600;
export const CONFIRM_MEMORY_SHARE = 0.5;
/** Warm-ups of larger models would themselves take long: their time is not measured. */
const MEASURE_MAX_PARAMS = 150e6;
const MEASURE_MAX_MEMORY_SHARE = 0.25;

/**
 * The memory a run may use, in bytes: the machine's, or STEPWISE_MACHINE_MEMORY where it is set
 * (a lab that shares its machine with other work, or a test of the large-run questions).
 */
export function machineMemory(): number {
  const set = Number(process.env.STEPWISE_MACHINE_MEMORY);
  return Number.isFinite(set) && set > 0 ? set : os.totalmem();
}

const GIB = 1024 ** 3;
/** Bytes as people read them: "1.5 GiB", "640 MiB", "12 KiB". */
function gib(bytes: number): string {
  if (bytes >= GIB) return `${(bytes / GIB).toFixed(bytes < 10 * GIB ? 1 : 0)} GiB`;
  if (bytes >= 1024 ** 2) return `${Math.round(bytes / 1024 ** 2)} MiB`;
  return `${Math.max(1, Math.round(bytes / 1024))} KiB`;
}

/** Steps of the whole run: the trainers drop an epoch's last partial batch (engine/batches.ts). */
export function stepsOf(plan: RunPlan): number {
  return plan.epochs * Math.floor(plan.examples / plan.batchSize);
}

export function memoryOf(plan: RunPlan): RunEstimate['memory'] {
  const family = modelFamily(plan.arch);
  const total = paramCount(plan.arch);
  const frozen = Math.max(0, total - plan.trainable);
  const weights = plan.trainable * 4 * 2 + frozen * (plan.frozenBytes ?? 4);
  const optimizer = plan.trainable * 4 * (2 * 2 + 1); // m and v, twice (ping-pong), and one gradient
  const s = plan.seqLen, b = plan.batchSize, h = family.hiddenSize;
  const heads = 'nHead' in plan.arch ? plan.arch.nHead : 1;
  const perLayer = 2 * s * b * h * (34 + (5 * heads * s) / h);
  const logits = 3 * 4 * s * b * family.vocabSize;
  const activations = (family.nLayer * perLayer + logits) * plan.passes;
  return { weights, optimizer, activations, total: weights + optimizer + activations };
}

/**
 * Why a config's fresh model cannot train on a machine of `memory` bytes, from its shape alone
 * (its weights, twice, AdamW's moments, twice, and a gradient: 7 floats a parameter), or null. Checked
 * before the method prepares the run, which would allocate the model's first weights.
 */
export function freshModelTooLarge(config: unknown, memory: number = machineMemory()): string | null {
  const model = (config as { model?: { kind?: string; layers?: number; dim?: number; context?: number } } | null)?.model;
  if (model?.kind !== 'fresh' || !model.layers || !model.dim) return null;
  const params = paramCount(freshArch(config as Parameters<typeof freshArch>[0], 64, model.context ?? 64));
  const floor = params * 4 * 7;
  if (floor <= memory) return null;
  const size = params >= 1e9 ? `${(params / 1e9).toFixed(1)} billion` : `${(params / 1e6).toFixed(0)} million`;
  return `a new model of ${model.layers} layers × ${model.dim} has ${size} parameters; training it needs at least ${gib(floor)} of memory for its weights and optimizer state, and this machine has ${gib(memory)}. Use fewer layers or a smaller width.`;
}

/** One run's estimate; `measure` times a short warm-up (a compile and three steps of random tokens) on `provider`. */
export async function estimateRun(plan: RunPlan, options: { measure: boolean; provider?: 'cpu' | 'webgpu'; threads?: number; machineMemory?: number }): Promise<RunEstimate> {
  const available = options.machineMemory ?? machineMemory();
  const memory = memoryOf(plan);
  const steps = stepsOf(plan);
  const total = paramCount(plan.arch);
  const reasons: string[] = [];
  let verdict: Verdict = 'ok';
  if (memory.total > available) {
    verdict = 'refuse';
    reasons.push(`it needs about ${gib(memory.total)} of memory to train (weights ${gib(memory.weights)}, optimizer ${gib(memory.optimizer)}, activations ${gib(memory.activations)} at batch ${plan.batchSize} × ${plan.seqLen} tokens); this machine has ${gib(available)}. Use a smaller model, batch or sequence.`);
  } else if (memory.total > CONFIRM_MEMORY_SHARE * available) {
    verdict = 'confirm';
    reasons.push(`it needs about ${gib(memory.total)} of this machine's ${gib(available)} of memory`);
  }

  let secondsPerStep: number | null = null;
  let timing: string;
  if (!options.measure) timing = 'not measured';
  else if (verdict === 'refuse') timing = 'not measured: the run cannot fit in memory';
  else if (total > MEASURE_MAX_PARAMS || memory.total > MEASURE_MAX_MEMORY_SHARE * available) {
    timing = `not measured: a warm-up of a model this large (${(total / 1e6).toFixed(0)}M parameters) would itself take long`;
  } else {
    const measured = await measureStep(plan, options.provider ?? 'cpu', options.threads);
    secondsPerStep = measured * plan.passes;
    timing = `measured: 2 steps of batch ${plan.batchSize} × ${plan.seqLen} tokens on ${options.provider ?? 'cpu'}, after a warm-up step${plan.passes > 1 ? `, × ${plan.passes} passes` : ''}${plan.trainable < total ? ' (a full-model step: a frozen base trains faster)' : ''}`;
  }
  const seconds = secondsPerStep === null ? null : secondsPerStep * steps;
  if (seconds !== null && seconds > CONFIRM_SECONDS && verdict === 'ok') {
    verdict = 'confirm';
    reasons.push(`its ${steps.toLocaleString('en-US')} steps take about ${formatHours(seconds)} on this machine`);
  }
  return {
    parameters: { total, trainable: plan.trainable },
    memory,
    machineMemory: available,
    steps,
    tokensPerStep: plan.batchSize * plan.seqLen,
    secondsPerStep,
    seconds,
    timing,
    verdict,
    reasons,
  };
}

function formatHours(seconds: number): string {
  return seconds < 5400 ? `${Math.round(seconds / 60)} minutes` : `${(seconds / 3600).toFixed(1)} hours`;
}

/** Seconds per optimizer step of the full model at the plan's batch and length: a warm-up step, then the mean of two. */
async function measureStep(plan: RunPlan, provider: 'cpu' | 'webgpu', threads?: number): Promise<number> {
  const { arch, batchSize: B, seqLen: T } = plan;
  const step = await TrainStep.create({ arch, batch: B, seq: T, adamw: ADAMW_DEFAULTS, init: initModel(arch, 0), provider, threads });
  try {
    const vocab = modelFamily(arch).vocabSize;
    const ids = BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 7919) % vocab));
    const labels = BigInt64Array.from(ids);
    await step.run(ids, labels, 1e-4);
    const t0 = performance.now();
    await step.run(ids, labels, 1e-4);
    await step.run(ids, labels, 1e-4);
    return (performance.now() - t0) / 2 / 1000;
  } finally {
    await step.release();
  }
}
