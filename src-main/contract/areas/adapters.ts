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
      'The evaluation table of Bitune and LoRA runs, from their stored metrics: method, ablation, base model, data and budget, test accuracy, multiple-choice acc / acc_norm per file, accuracy on files evaluated later (stepwise eval), and the final mixing α per layer; runs with the same base, data and budget share a group.',
    input: z.strictObject({ runIds: z.array(id()).max(500, { error: 'must name at most 500 runs' }).optional() }).default({}),
  },
} as const satisfies Record<string, ProcedureSpec>;

/** One run in the Bitune / LoRA results table. */
export interface AdapterResultRow {
  runId: number;
  name: string;
  status: string;
  method: 'bitune' | 'lora';
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
  /** Runs with the same base, data and budget share a group (LoRA vs Bitune compare within one). */
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

/** What each of these procedures answers. */
export interface AdapterOutputs {
  'adapters.results': { rows: AdapterResultRow[]; choiceFiles: string[]; evalFiles: string[] };
}
