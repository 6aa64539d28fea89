/**
 * Worker-thread entry of a run's preflight (./preflight.ts): runs the
 * method's own `prepare` (its definition's, ./method.ts) on the config (reads and parses every data file,
 * loads the model folder and its tokenizer, lays the examples out) and
 * posts what went wrong, or nothing. Off the main thread, so a large data
 * file or model does not stall the server while it is checked.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { HfFolderError } from '../engine/hf/gpt2-folder.ts';
import { loadModelFolder } from '../engine/hf/model-folder.ts';
import { methodInWorker } from './index.ts';

const { method, module, config, modelFolder } = workerData as { method: string; module?: string; config: unknown; modelFolder?: string };

try {
  if (modelFolder !== undefined) {
    // A model folder alone (models.import): loaded here, every weight read, its architecture answered.
    parentPort!.postMessage({ ok: true, arch: loadModelFolder(modelFolder).config });
  } else (await methodInWorker(method, module)).prepare(config);
  if (modelFolder === undefined) parentPort!.postMessage({ ok: true });
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  parentPort!.postMessage(modelFolder === undefined ? { ok: false, message } : { ok: false, message, hfFolder: error instanceof HfFolderError });
}
