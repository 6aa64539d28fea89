/**
 * Worker-thread entry of a Bitune or LoRA run (see run.ts): receives the job in
 * workerData, posts TrainerEvents, obeys pause / resume / cancel between steps.
 */
import { workerData } from 'node:worker_threads';
import { serveJob } from '../../engine/train-job.ts';
import { runBitune, type BituneJob } from './run.ts';

await serveJob((emit, control) => runBitune(workerData as BituneJob, emit, control));
