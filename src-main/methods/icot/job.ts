/** Start an ICoT run in a worker thread. */
import { startJob, type Job } from '../../engine/train-job.ts';
import type { TrainerEvent } from '../../engine/trainer.ts';
import { workerUrl } from '../../engine/worker-url.ts';
import type { IcotJob, IcotOutcome } from './run.ts';

export function startIcotJob(job: IcotJob, onEvent: (e: TrainerEvent) => void): Job<IcotOutcome> {
  return startJob<IcotOutcome>(workerUrl(import.meta.url, './worker.ts', 'icot-worker'), job, onEvent);
}
