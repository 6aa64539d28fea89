/**
 * A training job in a worker thread, seen from the main process: start it,
 * listen to its events, pause, resume or cancel it, await its end. Any worker
 * module that speaks WorkerMessage can run behind it (in the app, the one
 * method worker: methods/worker.ts).
 */
import { parentPort, Worker } from 'node:worker_threads';
import { TrainerControl, type TrainerEvent } from './trainer.ts';

export type WorkerMessage<R = unknown> =
  | { type: 'event'; event: TrainerEvent }
  | { type: 'done'; result: R }
  | { type: 'error'; message: string };

/** Control messages a job worker obeys between steps. */
export type ControlMessage = { type: 'pause' | 'resume' | 'cancel' };

export interface Job<R> {
  pause(): void;
  resume(): void;
  cancel(): void;
  /** Resolves with the worker's result; rejects with its error message if it fails or dies. */
  done: Promise<R>;
}

export function startJob<R>(workerUrl: URL, workerData: unknown, onEvent: (e: TrainerEvent) => void): Job<R> {
  const worker = new Worker(workerUrl, { workerData });
  const done = new Promise<R>((resolve, reject) => {
    let settled = false;
    worker.on('message', (m: WorkerMessage<R>) => {
      if (m.type === 'event') onEvent(m.event);
      else if (m.type === 'done') {
        settled = true;
        resolve(m.result);
      } else {
        settled = true;
        reject(new Error(m.message));
      }
    });
    worker.on('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(`training worker exited with code ${code} before finishing`));
    });
  });
  const send = (m: ControlMessage) => worker.postMessage(m);
  return { pause: () => send({ type: 'pause' }), resume: () => send({ type: 'resume' }), cancel: () => send({ type: 'cancel' }), done };
}

/**
 * The worker side of a Job: run `work` in this worker thread, posting its
 * TrainerEvents and its result (or its error message) to the parent, and
 * obeying pause / resume / cancel between steps. Every worker entry
 * (train-worker.ts and each method's worker.ts) is this call.
 */
export async function serveJob<R>(work: (emit: (e: TrainerEvent) => void, control: TrainerControl) => Promise<R>): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('serveJob: not in a worker thread');
  const control = new TrainerControl();
  port.on('message', (m: ControlMessage) => {
    if (m.type === 'pause') control.pause();
    else if (m.type === 'resume') control.resume();
    else control.cancel();
  });
  const post = (m: WorkerMessage<R>) => port.postMessage(m);
  try {
    post({ type: 'done', result: await work((event) => post({ type: 'event', event }), control) });
  } catch (err) {
    post({ type: 'error', message: (err as Error).message });
  } finally {
    port.close();
  }
}
