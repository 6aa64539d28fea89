/** Start a Fine-tune-CoT student run in a worker thread. */
import { startJob, type Job } from '../../engine/train-job.ts';
import type { TrainerEvent } from '../../engine/trainer.ts';
import { workerUrl } from '../../engine/worker-url.ts';
import type { FtCotJob, FtCotOutcome } from './run.ts';

export function startFtCotJob(job: FtCotJob, onEvent: (e: TrainerEvent) => void): Job<FtCotOutcome> {
  return startJob<FtCotOutcome>(workerUrl(import.meta.url, './worker.ts', 'ftcot-worker'), job, onEvent);
}
