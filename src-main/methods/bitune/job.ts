/** Start a Bitune or LoRA run in a worker thread. */
import { startJob, type Job } from '../../engine/train-job.ts';
import type { TrainerEvent } from '../../engine/trainer.ts';
import { workerUrl } from '../../engine/worker-url.ts';
import type { BituneJob, BituneOutcome } from './run.ts';

export function startBituneJob(job: BituneJob, onEvent: (e: TrainerEvent) => void): Job<BituneOutcome> {
  return startJob<BituneOutcome>(workerUrl(import.meta.url, './worker.ts', 'bitune-worker'), job, onEvent);
}
