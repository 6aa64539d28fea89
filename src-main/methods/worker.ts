/**
 * The one worker-thread entry of every method's run: receives the method's id
 * (and the module that defines it, for a method registered at run time) with
 * the job in workerData, runs the method, posts TrainerEvents and the outcome,
 * and obeys pause / resume / cancel between steps (engine/train-job.ts).
 */
import { workerData } from 'node:worker_threads';
import { serveJob } from '../engine/train-job.ts';
import { methodInWorker } from './index.ts';
import type { MethodJob } from './run-config.ts';

export interface MethodWorkerData {
  method: string;
  /** The definition's module (file URL), imported when the method is not built in. */
  module: string;
  job: MethodJob<unknown>;
}

const { method, module, job } = workerData as MethodWorkerData;
await serveJob(async (emit, control) => (await methodInWorker(method, module)).run(job, emit, control));
