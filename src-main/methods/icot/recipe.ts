/**
 * An ICoT run's configuration: one typed object, validated once, stored with
 * the run, and shown field by field in the UI. Defaults are the paper's
 * (Deng et al. 2024): AdamW with PyTorch's defaults, clipping at 1.0, Δ = 8
 * tokens per epoch, λ = 4, removal from the left, optimizer reset at each
 * removal. In JSON, `null` stands for ∞ (no smoothing / never remove all).
 */
import { z } from 'zod';
import { evalFields, folderModel, freshModelFields, headsDivideDim, parseRunConfig, positiveInt, runtimeFields, trainFields } from '../run-config.ts';
import { everHolds, highestHold, type CurriculumConfig } from './curriculum.ts';

const infinity = z.number().positive().nullable(); // null = ∞

export const IcotRunConfigSchema = z.strictObject({
  /** Optional: names the method for `stepwise train` (a config without one is ICoT-SI's when it has a `recipe`). */
  method: z.literal('icot-si').optional(),
  /** cot: explicit CoT; nocot: `input EOS EOS #### answer EOS`; icot-si: stepwise internalization. */
  recipe: z.enum(['cot', 'nocot', 'icot-si']),
  model: z.discriminatedUnion('kind', [
    /** context defaults to the longest training example. */
    z.strictObject(freshModelFields()).refine(...headsDivideDim),
    folderModel,
  ]),
  data: z.strictObject({
    /** Files in the paper's `input||cot #### answer` format or JSONL {question, rationale, answer}. */
    train: z.string().min(1),
    valid: z.string().min(1),
    test: z.string().min(1).optional(),
    trainLimit: positiveInt.optional(),
    validLimit: positiveInt.optional(),
    testLimit: positiveInt.optional(),
  }),
  train: z.strictObject({
    epochs: positiveInt.max(10_000),
    ...trainFields({ batchSize: 32, lr: 5e-5, weightDecay: 0.01 }),
  }),
  curriculum: z.strictObject({
    removePerEpoch: z.number().nonnegative().default(8),
    smoothingLambda: infinity.default(4),
    side: z.enum(['left', 'right']).default('left'),
    resetOptimizer: z.boolean().default(true),
    removeAllWhenBeyond: infinity.default(null),
    pretrainEpochs: z.number().int().nonnegative().default(0),
    /** Tokens after removed CoT keep their original position ids (the paper's --keep_position). */
    keepPosition: z.boolean().default(false),
    /**
     * Hold the removal while the last validation accuracy is below this fraction (0: never; not in the paper), or a
     * schedule [[tokens removed, fraction], …] from 0 tokens on, by increasing tokens. Needs validation every epoch.
     */
    holdBelow: z.union([
      z.number().min(0).max(1),
      z.array(z.tuple([z.number().int().nonnegative(), z.number().min(0).max(1)])).min(1).max(64)
        .refine((pairs) => pairs[0][0] === 0, { error: 'must start at 0 tokens removed, e.g. [[0, 0.5], [37, 0.25]]' })
        .refine((pairs) => pairs.every((p, i) => i === 0 || p[0] > pairs[i - 1][0]), { error: 'its token counts must increase, e.g. [[0, 0.5], [37, 0.25]]' }),
    ]).default(0),
    /** Remove the next token at once after an epoch whose validation accuracy reached this fraction (0: never; not in the paper). Needs validation every epoch. */
    advanceAbove: z.number().min(0).max(1).default(0),
  }).prefault({}),
  /**
   * No CoT only: the running-sum auxiliary loss (Bai et al. 2025): a linear probe on the hidden
   * states, trained with the model, predicts ĉ_k at each answer digit of a multiplication
   * (running-sum.ts). Absent: no probe.
   */
  runningSum: z.strictObject({
    /** 'heads': a probe per attention head of `layer` (before the output projection), as the paper's; 'residual': the residual stream after block `layer`. */
    read: z.enum(['heads', 'residual']).default('heads'),
    /** 1-based block; default the last. */
    layer: positiveInt.optional(),
    /** 'digit': ĉ_k read at the token of answer digit k (the paper's probe); 'before-digit': at the token that predicts it. */
    at: z.enum(['digit', 'before-digit']).default('digit'),
    /** λ: the auxiliary loss (mean squared error on ĉ standardized per digit) weighs this much beside the language-model loss. */
    weight: z.number().positive().max(1000).default(1),
    /** The probe weights' own L2 penalty (they are exempt from the optimizer's weight decay). */
    l2: z.number().nonnegative().max(10).default(0),
  }).optional(),
  /** maxNewTokens defaults to the longest training example's length in tokens. */
  eval: z.strictObject({
    ...evalFields,
    /** ICoT-SI: the first this many test problems time the internalized model against the explicit-CoT one at batch size 1 (the paper's speed protocol). */
    speedExamples: positiveInt.max(100_000).default(200),
  }).prefault({}),
  runtime: z.strictObject({
    ...runtimeFields,
  }).prefault({}),
}).refine((c) => !c.runningSum || c.recipe === 'nocot', {
  message: "is an option of the No-CoT recipe (recipe: 'nocot')",
  path: ['runningSum'],
}).refine((c) => !everHolds(c.curriculum.holdBelow) || c.eval.everyEpoch, {
  message: 'holds on validation accuracy, so it needs validation every epoch (eval.everyEpoch: true)',
  path: ['curriculum', 'holdBelow'],
}).refine((c) => c.curriculum.advanceAbove === 0 || c.eval.everyEpoch, {
  message: 'advances on validation accuracy, so it needs validation every epoch (eval.everyEpoch: true)',
  path: ['curriculum', 'advanceAbove'],
}).refine((c) => c.curriculum.advanceAbove === 0 || c.curriculum.advanceAbove >= highestHold(c.curriculum.holdBelow), {
  message: 'must be at least curriculum.holdBelow (an accuracy cannot both hold the removal and advance it)',
  path: ['curriculum', 'advanceAbove'],
});

export type IcotRunConfig = z.infer<typeof IcotRunConfigSchema>;

/** Validate a config, naming every problem by its path (e.g. `train.lr: Too small`). */
export function parseIcotConfig(json: unknown, where = 'config'): IcotRunConfig {
  return parseRunConfig(IcotRunConfigSchema, json, where, 'ICoT');
}

/** The curriculum a config's fields describe (null → ∞). */
export function curriculumOf(k: Omit<IcotRunConfig['curriculum'], 'keepPosition'> & { keepPosition?: boolean }): CurriculumConfig {
  return {
    removePerEpoch: k.removePerEpoch,
    smoothingLambda: k.smoothingLambda ?? Infinity,
    side: k.side,
    resetOptimizer: k.resetOptimizer,
    removeAllWhenBeyond: k.removeAllWhenBeyond ?? Infinity,
    pretrainEpochs: k.pretrainEpochs,
    keepPosition: k.keepPosition ?? false,
    holdBelow: k.holdBelow,
    advanceAbove: k.advanceAbove,
  };
}

