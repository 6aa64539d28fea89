/**
 * A training job in a worker thread, seen from the main process: start it,
 * listen to its events, pause, resume or cancel it, await its end.
 */
import { Worker } from 'node:worker_threads';
import type { TokenExample } from './batches.ts';
import type { TrainerConfig, TrainerEvent } from './trainer.ts';

export interface TrainJobSpec {
  config: TrainerConfig;
  examples: TokenExample[];
  /** Seeds the per-epoch shuffle. */
  dataSeed: number;
  padId?: number;
  init: { kind: 'fresh'; seed: number } | { kind: 'safetensors'; path: string } | { kind: 'resume'; checkpoint: string };
}

export type WorkerMessage =
  | { type: 'event'; event: TrainerEvent }
  | { type: 'done'; status: 'finished' | 'cancelled'; step: number; lastCheckpoint: string | null }
  | { type: 'error'; message: string };

export interface TrainJobResult {
  status: 'finished' | 'cancelled';
  step: number;
  lastCheckpoint: string | null;
}

export interface TrainJob {
  pause(): void;
  resume(): void;
  cancel(): void;
  /** Resolves when training ends; rejects with the worker's error message if it fails. */
  done: Promise<TrainJobResult>;
}

export function startTrainJob(spec: TrainJobSpec, onEvent: (e: TrainerEvent) => void): TrainJob {
  const worker = new Worker(new URL('./train-worker.ts', import.meta.url), { workerData: spec });
  const done = new Promise<TrainJobResult>((resolve, reject) => {
    let settled = false;
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'event') onEvent(m.event);
      else if (m.type === 'done') {
        settled = true;
        resolve({ status: m.status, step: m.step, lastCheckpoint: m.lastCheckpoint });
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
  return {
    pause: () => worker.postMessage({ type: 'pause' }),
    resume: () => worker.postMessage({ type: 'resume' }),
    cancel: () => worker.postMessage({ type: 'cancel' }),
    done,
  };
}
