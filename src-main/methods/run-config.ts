/**
 * What every method's run shares (ICoT-SI, Fine-tune-CoT, Bitune/LoRA): the config fields of a
 * fresh model, the optimizer and schedule, evaluation and the runtime; how a config's problems are
 * reported; the trainer's config they make; and the job a worker gets and the outcome it returns.
 * Each method's recipe.ts and run.ts add what is their own.
 */
import { z } from 'zod';
import type { ModelArch } from '../engine/models/family.ts';
import type { GPT2Config } from '../engine/models/gpt2.ts';
import type { LlamaConfig } from '../engine/models/llama.ts';
import type { AdamWConfig } from '../engine/optim.ts';
import type { TrainerConfig } from '../engine/trainer.ts';

export const positiveInt = z.number().int().positive();

/**
 * A fresh model's fields, with a method's default size (a method may add its own, and say what
 * `context` defaults to). `family` picks its shape: GPT-2 (learned positions, LayerNorm, GELU MLP)
 * or Llama (rotary positions, RMSNorm, SwiGLU MLP, grouped-query attention when kvHeads < heads,
 * tied embeddings: the shape of Llama, Qwen2 and SmolLM).
 */
export function freshModelFields(defaults: { layers: number; dim: number } = { layers: 4, dim: 128 }) {
  return {
    kind: z.literal('fresh'),
    family: z.enum(['gpt2', 'llama']).default('gpt2'),
    layers: positiveInt.max(96).default(defaults.layers),
    dim: positiveInt.max(8192).default(defaults.dim),
    heads: positiveInt.max(128).default(4),
    /** Llama only: key/value heads (default: heads; fewer is grouped-query attention, and must divide heads). */
    kvHeads: positiveInt.max(128).optional(),
    /** Positions (context length); default: what the method's longest example needs. */
    context: positiveInt.max(8192).optional(),
    seed: z.number().int().nonnegative().default(0),
  };
}

/** A fresh model's width must split into its heads, and a Llama's query heads into its key/value heads. */
export const headsDivideDim = [
  (m: { dim: number; heads: number; kvHeads?: number; family?: string }) => m.dim % m.heads === 0 && (m.kvHeads === undefined || (m.family === 'llama' && m.heads % m.kvHeads === 0)),
  { message: 'dim must be divisible by heads, and (Llama only) heads by kvHeads' },
] as const;

/** A Hugging Face model folder of any family the engine loads (a library model or a run's export). */
export const folderModel = z.strictObject({ kind: z.literal('folder'), path: z.string().min(1) });

type FreshModel = z.output<z.ZodObject<ReturnType<typeof freshModelFields>>>;

/** The model a config's fresh model describes, of its family, with the data's vocabulary and, unless the config sets one, `context` positions. */
export function freshArch(c: { model: FreshModel | z.output<typeof folderModel> }, vocabSize: number, context: number): ModelArch {
  if (c.model.kind !== 'fresh') throw new Error('freshArch: the model is not a fresh one');
  const m = c.model;
  const positions = m.context ?? context;
  if (m.family === 'llama') {
    // SmolLM's proportions: an MLP 8/3 as wide as the model (rounded up to a multiple of 8), θ 10000.
    const intermediateSize = Math.ceil((8 * m.dim) / 3 / 8) * 8;
    return {
      family: 'llama', vocabSize, hiddenSize: m.dim, intermediateSize, nLayer: m.layers, nHead: m.heads, nKvHead: m.kvHeads ?? m.heads, headDim: m.dim / m.heads,
      maxPositions: positions, rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: null, tieWordEmbeddings: true, qkvBias: false, oBias: false, mlpBias: false,
    } satisfies LlamaConfig;
  }
  return { vocabSize, nPositions: positions, nEmbd: m.dim, nLayer: m.layers, nHead: m.heads, layerNormEpsilon: 1e-5 } satisfies GPT2Config;
}

/**
 * Training fields but the epoch count: batch, learning rate and schedule, AdamW with PyTorch's
 * semantics (decoupled weight decay, bias correction), gradient clipping, and the data-order seed.
 * Defaults differ by method (the papers' values), so the method gives them.
 */
export function trainFields(defaults: { batchSize: number; lr: number; weightDecay: number }) {
  return {
    batchSize: positiveInt.max(4096).default(defaults.batchSize),
    lr: z.number().positive().max(1).default(defaults.lr),
    warmupSteps: z.number().int().nonnegative().default(0),
    schedule: z.enum(['constant', 'linear', 'cosine']).default('constant'),
    /** The last this many epochs decay the rate linearly to 0 (after a constant schedule: warmup, stable, decay). */
    cooldownEpochs: z.number().int().nonnegative().default(0),
    weightDecay: z.number().nonnegative().default(defaults.weightDecay),
    beta1: z.number().min(0).lt(1).default(0.9),
    beta2: z.number().min(0).lt(1).default(0.999),
    eps: z.number().positive().default(1e-8),
    maxGradNorm: z.number().nonnegative().default(1.0),
    seed: z.number().int().nonnegative().default(0),
  };
}

/**
 * Evaluation fields every method shares: the decoding budget (each method says what its default
 * is), the evaluation batch, and whether to validate after every epoch.
 */
export const evalFields = {
  maxNewTokens: positiveInt.max(4096).optional(),
  batchSize: positiveInt.max(1024).default(16),
  /** Validate at the end of every epoch (when there is validation data). */
  everyEpoch: z.boolean().default(true),
};

/** Where and how a run trains: execution provider, intra-op threads, checkpoint cadence. */
export const runtimeFields = {
  provider: z.enum(['cpu', 'webgpu', 'cuda', 'dml', 'coreml']).default('cpu'),
  threads: positiveInt.max(256).optional(),
  /** Keep a checkpoint every this many epochs (the best and the last are always kept). */
  checkpointEveryEpochs: positiveInt.default(1),
};

/** A method's validated train and runtime fields. */
export interface MethodSettings {
  train: z.output<z.ZodObject<ReturnType<typeof trainFields>>>;
  runtime: z.output<z.ZodObject<typeof runtimeFields>>;
}

export function adamwOf({ train: t }: MethodSettings): AdamWConfig {
  return { beta1: t.beta1, beta2: t.beta2, eps: t.eps, weightDecay: t.weightDecay, maxGradNorm: t.maxGradNorm };
}

/**
 * The trainer's config of a method's run: `steps` steps of batches of `seq` tokens, in epochs of
 * `batchesPerEpoch` batches (the cool-down and the checkpoint cadence are counted in epochs).
 */
export function trainerConfigOf(c: MethodSettings, run: { arch: ModelArch; seq: number; steps: number; batchesPerEpoch: number; checkpointDir: string }): TrainerConfig {
  const { train: t, runtime: r } = c;
  return {
    arch: run.arch, batch: t.batchSize, seq: run.seq, steps: run.steps, adamw: adamwOf(c),
    schedule: { kind: t.schedule, lr: t.lr, warmupSteps: t.warmupSteps, totalSteps: run.steps, cooldownSteps: t.cooldownEpochs * run.batchesPerEpoch },
    checkpointEvery: run.batchesPerEpoch * r.checkpointEveryEpochs, checkpointDir: run.checkpointDir,
    provider: r.provider, threads: r.threads,
  };
}

/** Validate a config against a method's schema, naming every problem by its path (e.g. `train.lr: Too small`). */
export function parseRunConfig<S extends z.ZodType>(schema: S, json: unknown, where: string, what: string): z.infer<S> {
  const r = schema.safeParse(json);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new Error(`${where} is not a valid ${what} run configuration:\n${lines.join('\n')}`);
}

/** A method's run as its worker receives it (each method's run.ts names its own). */
export interface MethodJob<C> {
  config: C;
  /** The run's folder (checkpoints, best model). */
  runDir: string;
  /** A checkpoint record (.json) to resume from. */
  resumeFrom?: string;
}

/** The checkpoint that scored best on validation, exported as a model folder at `path`. */
export interface BestModel {
  step: number;
  epoch: number;
  accuracy: number;
  path: string;
}

/** The test figures every method reports (each adds its own). */
export interface TestSummary {
  accuracy: number;
  correct: number;
  total: number;
  /** Test examples answered per second. */
  examplesPerS: number;
}

/** What a method's run ends with: `test` is its test figures (without the predictions, which go to the store). */
export interface MethodOutcome<T extends TestSummary = TestSummary, B extends BestModel | null = BestModel | null> {
  status: 'completed' | 'cancelled';
  step: number;
  best: B;
  test: T | null;
}
