/** Start an ICoT run in a worker thread. */
import { startJob, type Job } from '../../engine/train-job.ts';
import type { TrainerEvent } from '../../engine/trainer.ts';
import type { IcotJob, IcotOutcome } from './run.ts';

export function startIcotJob(job: IcotJob, onEvent: (e: TrainerEvent) => void): Job<IcotOutcome> {
  return startJob<IcotOutcome>(new URL('./worker.ts', import.meta.url), job, onEvent);
}
