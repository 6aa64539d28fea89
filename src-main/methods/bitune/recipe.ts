/**
 * A Bitune or LoRA run's configuration: one typed object, validated once,
 * stored with the run and shown in the UI. The same object serves both
 * methods so a LoRA baseline and a Bitune run differ only in `method` (and
 * `bitune`), with the same base, data and budget. Defaults follow the Bitune
 * paper where it gives them (LoRA r 8 on the attention and MLP projections,
 * s_init 0.01, the `Question: …\n\nAnswer:` template).
 *
 * `peft` is the fine-tuning type (the Bitune code's `ft_type`): LoRA, DoRA
 * (LoRA with a learned magnitude; `lora.*` apply), IA3 (learned scaling
 * vectors on keys, values and the feed-forward input; `lora.targets` only,
 * PEFT's IA3 modules by default) or full fine-tuning (every base weight
 * trains; Bitune keeps one copy of the model per pass; `lora.*` unused).
 */
import { z } from 'zod';
import { evalFields, folderModel, freshModelFields, headsDivideDim, parseRunConfig, positiveInt, runtimeFields, trainFields } from '../run-config.ts';
import { PEFT_TYPES, type LoraConfig, type WeightLayout } from '../../engine/lora.ts';
import type { FamilyName } from '../../engine/models/family.ts';
import { ABLATIONS, PREFILL_MASKS, type Variant } from './variant.ts';

export const BituneRunConfigSchema = z.strictObject({
  method: z.enum(['bitune', 'lora']),
  /** The fine-tuning type, alone or under Bitune's two passes: lora, dora, ia3 or full. */
  peft: z.enum(PEFT_TYPES).default('lora'),
  model: z.discriminatedUnion('kind', [
    /** A fresh model (GPT-2, or Llama-shaped with family: "llama") with a word-level tokenizer from the data (small experiments and tests). */
    z.strictObject(freshModelFields({ layers: 2, dim: 64 })).refine(...headsDivideDim),
    /** A Hugging Face folder (GPT-2, or a Llama-family model where the engine loads them). */
    folderModel,
  ]),
  lora: z.strictObject({
    r: positiveInt.max(1024).default(8),
    alpha: z.number().positive().default(16),
    dropout: z.number().min(0).lt(1).default(0),
    /** Module name patterns; default: every attention and MLP projection of the family. */
    targets: z.array(z.string().min(1)).min(1).optional(),
    seed: z.number().int().nonnegative().default(0),
  }).prefault({}),
  bitune: z.strictObject({
    ablation: z.enum(ABLATIONS).default('full'),
    sInit: z.number().positive().default(0.01),
    prefillMask: z.enum(PREFILL_MASKS).default('bidirectional'),
  }).prefault({}),
  data: z.strictObject({
    /** JSONL instruction–answer files (see methods/shared/instruct/format.ts). */
    train: z.string().min(1),
    valid: z.string().min(1).optional(),
    test: z.string().min(1).optional(),
    trainLimit: positiveInt.optional(),
    validLimit: positiveInt.optional(),
    testLimit: positiveInt.optional(),
  }),
  train: z.strictObject({
    epochs: positiveInt.max(10_000).default(1),
    ...trainFields({ batchSize: 8, lr: 3e-4, weightDecay: 0 }),
  }),
  eval: z.strictObject({
    ...evalFields,
    maxNewTokens: positiveInt.max(4096).default(16),
    /** Zero-shot multiple-choice files scored at the end (PIQA / ARC / CSQA / SIQA / MMLU-style JSONL). */
    choices: z.array(z.string().min(1)).default([]),
  }).prefault({}),
  runtime: z.strictObject({
    ...runtimeFields,
    /** How the frozen base is held: float32, or float16 (half the memory; widened to float32 where used; adapters stay float32). */
    baseDtype: z.enum(['float32', 'float16']).default('float32'),
  }).prefault({}),
});

export type BituneRunConfig = z.infer<typeof BituneRunConfigSchema>;

export function parseBituneConfig(json: unknown, where = 'config'): BituneRunConfig {
  return parseRunConfig(BituneRunConfigSchema, json, where, 'Bitune/LoRA');
}

/** The default LoRA targets of a family: every attention and MLP projection. */
export const DEFAULT_TARGETS: Record<FamilyName, string[]> = {
  gpt2: ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'],
  llama: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
};

/** GPT-2 stores Conv1D weights [in, out]; Llama's nn.Linear [out, in]. */
export const WEIGHT_LAYOUT: Record<FamilyName, WeightLayout> = { gpt2: 'in_out', llama: 'out_in' };

/** PEFT names GPT-2's modules under `transformer.` (GPT2LMHeadModel); Llama's names already start with `model.`. */
export const PEFT_PREFIX: Record<FamilyName, string> = { gpt2: 'transformer.', llama: '' };

/** PEFT's default IA3 modules (TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING): keys and values, and the feed-forward output projection. */
export const IA3_TARGETS: Record<FamilyName, string[]> = {
  gpt2: ['attn.c_attn', 'mlp.c_proj'],
  llama: ['k_proj', 'v_proj', 'down_proj'],
};

/** PEFT's IA3 feed-forward modules (their input is scaled): GPT-2's mlp.c_proj, Llama's down_proj. */
export const IA3_FEEDFORWARD: Record<FamilyName, string[]> = { gpt2: ['mlp.c_proj'], llama: ['down_proj'] };

export function loraOf(c: BituneRunConfig, family: FamilyName): LoraConfig {
  if (c.peft === 'ia3') return { r: c.lora.r, alpha: c.lora.alpha, dropout: 0, targets: c.lora.targets ?? IA3_TARGETS[family], feedforward: IA3_FEEDFORWARD[family] };
  return { r: c.lora.r, alpha: c.lora.alpha, dropout: c.lora.dropout, targets: c.lora.targets ?? DEFAULT_TARGETS[family] };
}

export function variantOf(c: BituneRunConfig): Variant {
  return { method: c.method, ablation: c.bitune.ablation, sInit: c.bitune.sInit, prefillMask: c.bitune.prefillMask };
}

