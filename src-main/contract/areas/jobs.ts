/**
 * Cluster jobs (issue 25): a run exported as a job folder that plain PyTorch
 * trains elsewhere, and such a folder imported back as a run. The folder's
 * format is docs/JOB-FORMAT.md.
 *
 * Spread into the contract's procedures (../procedures.ts); field schemas come
 * from ../fields.ts. Additive only, like the rest of the contract.
 */
import { z } from 'zod';
import type { Model, Run } from '../entities.ts';
import { absolutePath, id, text } from '../fields.ts';

/** What jobs.import did. */
export interface JobImportResult {
  /** The run the job became (or brought up to date), with its origin. */
  run: Run;
  /** The job's best model (out/best) in the Library; null when it has none yet, or only adapters. */
  model: Model | null;
  /** Whether an earlier import's run was brought up to date. */
  updated: boolean;
  checkpoints: number;
  /** Lines of metrics.jsonl and prediction files read. */
  metricRecords: number;
  evaluations: number;
  /** What was passed over (a checkpoint cut short, a last line cut off), in words. */
  warnings: string[];
}

/** What jobs.export wrote. */
export interface JobExportResult {
  /** The job folder (absolute). */
  dir: string;
  method: string;
  /** Every file written, relative to `dir`. */
  files: string[];
  /** Optimizer steps the job trains. */
  steps: number;
}

export const jobsProcedures = {
  'jobs.export': {
    summary:
      "Write a run as a job folder for a cluster (docs/JOB-FORMAT.md): its config, data files and starting model, the examples as Stepwise tokenized them, " +
      'a PyTorch train.py that trains it as Stepwise does (torchrun, DDP), and launch files for one machine, several, Slurm and SkyPilot. ' +
      'ICoT-SI runs, Fine-tune-CoT students, and LoRA and Bitune runs with LoRA adapters; the folder must be new or empty.',
    input: z.strictObject({
      runId: id(),
      out: absolutePath(),
      bf16: z.boolean({ error: 'must be true or false' }).optional(),
    }),
  },
  'jobs.import': {
    summary:
      'Read a cluster job folder (job.json and the out/ the job wrote, finished or not) into the lab as a run beside the run it was exported from: ' +
      'metrics, predictions, checkpoints and the best model, with the job, machine, GPU count and wall time as its origin. ' +
      'A folder of another format version or an unknown method, or with a bad line, imports nothing. A job imported before is refused, naming its run, ' +
      'unless it has progressed since and `update` is given: then that run is brought up to date.',
    input: z.strictObject({
      path: absolutePath(),
      update: z.boolean({ error: 'must be true or false' }).optional(),
      name: text(200).optional(),
    }),
  },
  'jobs.cancelImport': {
    summary: 'Stop importing the job folder at `path` (a jobs.import in progress): its jobs.import call then answers a conflict error, and nothing of it is kept.',
    input: z.strictObject({ path: absolutePath() }),
  },
} as const;

export interface JobsOutputs {
  'jobs.export': JobExportResult;
  'jobs.import': JobImportResult;
  /** Whether an import of that folder was in progress (and is now stopping). */
  'jobs.cancelImport': { cancelled: boolean };
}
