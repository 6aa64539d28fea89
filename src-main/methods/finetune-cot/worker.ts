/**
 * Worker-thread entry of a Fine-tune-CoT student run (see run.ts): receives
 * the job in workerData, posts TrainerEvents, obeys pause / resume / cancel.
 */
import { workerData } from 'node:worker_threads';
import { serveJob } from '../../engine/train-job.ts';
import { runFtCot, type FtCotJob } from './run.ts';

await serveJob((emit, control) => runFtCot(workerData as FtCotJob, emit, control));
