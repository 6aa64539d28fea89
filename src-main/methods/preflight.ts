/**
 * Before a run row exists: the run's data and model, checked by the method's
 * own `prepare` in a worker thread (./preflight-worker.ts). A data file with
 * a bad line, a model folder whose weights do not load, examples longer than
 * the model's positions, a model that cannot fit in memory: each is an error
 * here, so a run that could not start leaves no row and no folder behind.
 * The same worker answers a run's estimate, and a model folder's architecture.
 */
import { Worker } from 'node:worker_threads';
import type { ModelArch } from '../engine/models/family.ts';
import { workerUrl } from '../engine/worker-url.ts';
import type { RunEstimate } from './shared/estimate.ts';

interface Answer {
  ok: boolean;
  message?: string;
  arch?: ModelArch;
  estimate?: RunEstimate | null;
  hfFolder?: boolean;
}

/** One question to the preflight worker; rejects with what it said (`hfFolder` set when a folder's layout was the problem). */
function ask(workerData: Record<string, unknown>, what: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerUrl(import.meta.url, './preflight-worker.ts', 'preflight-worker'), { workerData });
    let answered = false;
    worker.once('message', (m: Answer) => {
      answered = true;
      if (m.ok) resolve(m);
      else reject(Object.assign(new Error(m.message), m.hfFolder === undefined ? {} : { hfFolder: m.hfFolder }));
      void worker.terminate();
    });
    worker.once('error', (error) => {
      answered = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!answered) reject(new Error(`${what} stopped (exit code ${code})`));
    });
  });
}

/** Resolves when the method can prepare `config`; rejects with what it said otherwise. */
export async function preflightRun(method: { id: string; module: string }, config: unknown): Promise<void> {
  await ask({ method: method.id, module: method.module, config }, "the check of the run's data and model");
}

/** The run's estimate (shared/estimate.ts), from the method's own preparation of `config`; null when the method has no plan. */
export async function estimateOffThread(method: { id: string; module: string }, config: unknown, options: { measure: boolean; provider?: 'cpu' | 'webgpu'; threads?: number }): Promise<RunEstimate | null> {
  return (await ask({ method: method.id, module: method.module, config, estimate: options }, 'the estimate of the run')).estimate ?? null;
}

/** A model folder's architecture, loaded (config and every weight) in a worker; rejects with what it said, `hfFolder` when the folder's layout was the problem. */
export async function loadModelFolderOffThread(dir: string): Promise<ModelArch> {
  return (await ask({ method: '', config: null, modelFolder: dir }, 'loading the model folder')).arch!;
}
