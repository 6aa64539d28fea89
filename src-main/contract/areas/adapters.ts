/**
 * LoRA adapters, Llama-family models and Bitune (issue 8).
 *
 * Spread into the contract's procedures (../procedures.ts); field schemas come
 * from ../fields.ts. Additive only, like the rest of the contract.
 */
import { z } from 'zod';
import { id } from '../fields.ts';
import type { ProcedureSpec } from '../fields.ts';

export const adapterProcedures = {
  'adapters.results': {
    summary:
      'The evaluation table of Bitune and LoRA runs, from their stored metrics: method, ablation, PEFT type, seed, base model, data and budget, test accuracy, multiple-choice acc / acc_norm per file, accuracy on files evaluated later (stepwise eval), and the final mixing α per layer; runs that differ only in method or seed share a group, summarised per method (mean, spread, 95% bootstrap interval) with the paired difference from its baseline over the same seeds.',
    input: z.strictObject({ runIds: z.array(id()).max(500, { error: 'must name at most 500 runs' }).optional() }).default({}),
  },
} as const satisfies Record<string, ProcedureSpec>;

/** One run in the Bitune / LoRA results table. */
export interface AdapterResultRow {
  runId: number;
  name: string;
  status: string;
  method: 'bitune' | 'lora';
  /** How the adapters are parametrised (the config's `peft`: 'lora', 'dora', 'ia3', 'full'; absent is 'lora'). */
  peft: string;
  /** What the run is compared as: method, PEFT type and Bitune variant, e.g. 'LoRA', 'Bitune', 'Bitune (no-mixing) + DoRA'. */
  arm: string;
  /** The run's seeds (model, adapters, data order): '1' when they are all 1, else 'model 0 · lora 1 · train 1'. Runs of two arms with the same seed are paired. */
  seed: string;
  /** Bitune's ablation ('full', 'naive-bidirectional', …); null for LoRA. */
  ablation: string | null;
  sInit: number | null;
  prefillMask: string | null;
  /** The frozen base, e.g. 'fresh 2×64' or a folder's name. */
  base: string;
  /** The training file's name. */
  data: string;
  /** Epochs × batch size, and steps done. */
  budget: string;
  steps: number | null;
  /** Runs that differ only in method or seed share a group, named by base, data and budget (and what else tells two groups apart). */
  group: string;
  testAccuracy: number | null;
  valAccuracy: number | null;
  /** Per multiple-choice file: acc and acc_norm. */
  choices: Record<string, { acc: number | null; accNorm: number | null }>;
  /** Per instruction / GSM8K-style file evaluated after training (`stepwise eval`): exact-match accuracy. */
  evals: Record<string, number | null>;
  /** The last logged α per layer (Bitune with mixing only). */
  alphaK: number[];
  alphaV: number[];
}

/** One method (arm) of a group over its seeds, on one metric: one value per seed (the mean of a seed's runs where it has several). */
export interface AdapterArmSummary {
  arm: string;
  method: 'bitune' | 'lora';
  peft: string;
  runIds: number[];
  seeds: string[];
  n: number;
  mean: number;
  /** Sample standard deviation over seeds; null for one seed. */
  sd: number | null;
  min: number;
  max: number;
  /** 95% percentile bootstrap interval of the mean (10,000 seeded resamples); null for one seed. */
  ci: [number, number] | null;
}

/** An arm against its baseline over the seeds both have: the summary of the per-seed differences (arm − baseline). */
export interface AdapterComparison {
  arm: string;
  /** Bitune's baseline is LoRA-method training with the same PEFT type; another PEFT type's is LoRA. */
  baseline: string;
  seeds: string[];
  n: number;
  mean: number;
  sd: number | null;
  min: number;
  max: number;
  ci: [number, number] | null;
  /** Seeds where the arm scored higher / lower than its baseline. */
  higher: number;
  lower: number;
  /** The interval excludes 0. */
  separated: boolean;
}

/** A group's statistics per metric key ('test_accuracy', 'eval_acc.FILE', 'mc_acc.FILE', 'mc_acc_norm.FILE'). */
export interface AdapterGroupStats {
  group: string;
  metrics: Record<string, { arms: AdapterArmSummary[]; comparisons: AdapterComparison[] }>;
}

/** What each of these procedures answers. */
export interface AdapterOutputs {
  'adapters.results': {
    rows: AdapterResultRow[];
    choiceFiles: string[];
    evalFiles: string[];
    /** The metric keys some run has a value for, test accuracy first. */
    metrics: string[];
    groups: AdapterGroupStats[];
  };
}
