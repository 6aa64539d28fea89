/**
 * Coconut (issue 21): its curriculum preview, for the New run form's Coconut
 * section. Spread into the contract's procedures (../procedures.ts). Additive
 * only, like the rest of the contract.
 */
import { z } from 'zod';

/** One stage as the preview shows it. */
export interface CoconutStagePreview {
  stage: number;
  /** First and last epoch (1-based, inclusive); null when the run ends before the stage. */
  epochs: [number, number] | null;
  /** Continuous thoughts between <bot> and <eot>. */
  thoughts: number;
  /** Per reasoning step of the example: replaced by thoughts ('latent') or still written ('text'). */
  steps: ('latent' | 'text')[];
}

const whole = (what: string, max: number) => z.int({ error: `must be a whole number of ${what}` }).min(0, { error: 'must be 0 or more' }).max(max, { error: `must be at most ${max}` });

export const coconutProcedures = {
  'coconut.preview': {
    summary: "Coconut's stages for a curriculum, computed by the trainer's own code: when each stage runs, how many continuous thoughts it has, and which reasoning steps of an example are continuous there.",
    input: z.strictObject({
      curriculum: z.strictObject({
        thoughtsPerStep: whole('thoughts', 16),
        epochsPerStage: whole('epochs', 1000).min(1, { error: 'must be at least 1' }),
        cotEpochs: whole('epochs', 10_000).optional(),
        maxLatentStage: whole('stages', 32),
      }),
      epochs: whole('epochs', 10_000).min(1, { error: 'must be at least 1' }),
      /** An example's chain of thought, split into steps as the trainer splits it (default: a 4×4 product's). */
      cot: z.string().max(20_000).optional(),
    }),
  },
} as const;

export interface CoconutOutputs {
  'coconut.preview': {
    /** The example's steps as the trainer splits them. */
    steps: string[];
    stages: CoconutStagePreview[];
  };
}
