/** Start any method's run in a worker thread (./worker.ts), seen from the main process as a Job. */
import { startJob, type Job } from '../engine/train-job.ts';
import type { TrainerEvent } from '../engine/trainer.ts';
import { workerUrl } from '../engine/worker-url.ts';
import type { MethodDefinition } from './method.ts';
import type { MethodJob, MethodOutcome } from './run-config.ts';
import type { MethodWorkerData } from './worker.ts';

export function startMethodJob(method: MethodDefinition, job: MethodJob<unknown>, onEvent: (e: TrainerEvent) => void): Job<MethodOutcome> {
  const data: MethodWorkerData = { method: method.id, module: method.module, job };
  return startJob<MethodOutcome>(workerUrl(import.meta.url, './worker.ts', 'method-worker'), data, onEvent);
}
