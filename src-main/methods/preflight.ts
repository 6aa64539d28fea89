/**
 * Before a run row exists: the run's data and model, checked by the method's
 * own `prepare` in a worker thread (./preflight-worker.ts). A data file with
 * a bad line, a model folder whose weights do not load, examples longer than
 * the model's positions: each is an error here, so a run that could not
 * start leaves no row and no folder behind.
 */
import { Worker } from 'node:worker_threads';
import type { ModelArch } from '../engine/models/family.ts';
import { workerUrl } from '../engine/worker-url.ts';

/** Resolves when the method can prepare `config`; rejects with what it said otherwise. */
export function preflightRun(method: { id: string; module: string }, config: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerUrl(import.meta.url, './preflight-worker.ts', 'preflight-worker'), { workerData: { method: method.id, module: method.module, config } });
    let answered = false;
    worker.once('message', (m: { ok: boolean; message?: string }) => {
      answered = true;
      if (m.ok) resolve();
      else reject(new Error(m.message));
      void worker.terminate();
    });
    worker.once('error', (error) => {
      answered = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!answered) reject(new Error(`the check of the run's data and model stopped (exit code ${code})`));
    });
  });
}

/** A model folder's architecture, loaded (config and every weight) in a worker; rejects with what it said, `hfFolder` when the folder's layout was the problem. */
export function loadModelFolderOffThread(dir: string): Promise<ModelArch> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerUrl(import.meta.url, './preflight-worker.ts', 'preflight-worker'), { workerData: { method: '', config: null, modelFolder: dir } });
    let answered = false;
    worker.once('message', (m: { ok: boolean; arch?: ModelArch; message?: string; hfFolder?: boolean }) => {
      answered = true;
      if (m.ok) resolve(m.arch!);
      else reject(Object.assign(new Error(m.message), { hfFolder: m.hfFolder === true }));
      void worker.terminate();
    });
    worker.once('error', (error) => {
      answered = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!answered) reject(new Error(`loading the model folder stopped (exit code ${code})`));
    });
  });
}
