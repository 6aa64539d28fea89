/**
 * Worker-thread entry of an ICoT run (see run.ts): receives the job in
 * workerData, posts TrainerEvents, obeys pause / resume / cancel between steps.
 */
import { workerData } from 'node:worker_threads';
import { serveJob } from '../../engine/train-job.ts';
import { runIcot, type IcotJob } from './run.ts';

await serveJob((emit, control) => runIcot(workerData as IcotJob, emit, control));
