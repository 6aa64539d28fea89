/**
 * Coconut's curriculum (Hao et al. 2024, facebookresearch/coconut
 * `dataset.py`): the chain of thought is a list of reasoning steps; at stage
 * k the first k steps are replaced by k·c continuous thoughts (c thoughts per
 * step), one stage every `epochsPerStage` epochs after `cotEpochs` epochs of
 * explicit CoT (stage 0: the markers with no thought between them). Past
 * `maxLatentStage`, every remaining language step is dropped and the thoughts
 * stay at maxLatentStage·c (the paper's `pad_latent_to_max`, which keeps every
 * example of a stage at the same number of thoughts). The optimizer is reset
 * when a stage begins (`reset_optimizer`).
 *
 * Steps: a multiplication CoT in the ICoT format is its partial products and
 * running sums between ` + ` signs (4×4: 4 steps); a GSM8K-Aug CoT is its
 * `<<…>>` equations; any other CoT is one step. The sign that follows a step
 * belongs to it, so what is left after removing steps starts with a number.
 */

export interface CoconutCurriculum {
  /** c: continuous thoughts per removed step (the paper's c_thought; 2 on GSM8K). */
  thoughtsPerStep: number;
  /** Epochs of each latent stage (the paper's epochs_per_stage; 3 on GSM8K). */
  epochsPerStage: number;
  /** Stage 0's epochs: explicit CoT with the markers (the paper starts from a CoT model; default epochsPerStage). */
  cotEpochs: number;
  /** The last stage that replaces one more step (the paper's max_latent_stage; 3 on GSM8K); after it, all language steps go. */
  maxLatentStage: number;
  /** Reset AdamW's moments when a stage begins (the paper's reset_optimizer). */
  resetOptimizer: boolean;
}

/** The paper's GSM8K settings (args/gsm_coconut.yaml). */
export const PAPER_CURRICULUM: CoconutCurriculum = { thoughtsPerStep: 2, epochsPerStage: 3, cotEpochs: 3, maxLatentStage: 3, resetOptimizer: true };

/** The reasoning steps of a CoT, each with the separator that follows it. */
export function splitSteps(cot: string): string[] {
  const text = cot.trim();
  if (text === '') return [];
  if (/>>\s+<</.test(text)) return text.split(/(?<=>>)\s+(?=<<)/);
  const parts = text.split(/\s\+\s/);
  return parts.map((p, i) => (i < parts.length - 1 ? `${p.trim()} +` : p.trim()));
}

/** The stage at an epoch (0-based): 0 during the CoT epochs, then one more every epochsPerStage, at most maxLatentStage + 1. */
export function stageAt(c: CoconutCurriculum, epoch: number): number {
  if (epoch < c.cotEpochs) return 0;
  return Math.min(c.maxLatentStage + 1, 1 + Math.floor((epoch - c.cotEpochs) / c.epochsPerStage));
}

/** What a stage does to an example of `steps` steps: the steps it replaces and the thoughts in their place. */
export function stageLayout(c: CoconutCurriculum, stage: number, steps: number): { removed: number; thoughts: number } {
  if (stage > c.maxLatentStage) return { removed: steps, thoughts: c.maxLatentStage * c.thoughtsPerStep };
  return { removed: Math.min(stage, steps), thoughts: stage * c.thoughtsPerStep };
}

/** The last stage the curriculum reaches (every language step gone). */
export const finalStage = (c: CoconutCurriculum): number => c.maxLatentStage + 1;

/** One row of the curriculum as the editor shows it: when a stage runs and which steps are continuous. */
export interface StagePreview {
  stage: number;
  /** First and last epoch (1-based, inclusive); null when the run's epochs end before it. */
  epochs: [number, number] | null;
  thoughts: number;
  /** Per step of the example: 'latent' (replaced by thoughts) or 'text'. */
  steps: ('latent' | 'text')[];
}

/** Every stage of a run of `epochs` epochs on examples of `steps` steps. */
export function previewCurriculum(c: CoconutCurriculum, epochs: number, steps: number): StagePreview[] {
  const rows: StagePreview[] = [];
  for (let stage = 0; stage <= finalStage(c); stage++) {
    const { removed, thoughts } = stageLayout(c, stage, steps);
    const first = stage === 0 ? 0 : c.cotEpochs + (stage - 1) * c.epochsPerStage;
    const last = stage === 0 ? c.cotEpochs - 1 : stage === finalStage(c) ? epochs - 1 : first + c.epochsPerStage - 1;
    const runs = first < epochs && last >= first;
    rows.push({ stage, epochs: runs ? [first + 1, Math.min(last, epochs - 1) + 1] : null, thoughts, steps: Array.from({ length: steps }, (_, i) => (i < removed ? 'latent' : 'text')) });
  }
  return rows;
}
