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
import { estimateRun, freshModelTooLarge } from './shared/estimate.ts';

const { method, module, config, modelFolder, estimate } = workerData as {
  method: string;
  module?: string;
  config: unknown;
  modelFolder?: string;
  /** Answer the run's estimate (shared/estimate.ts) rather than only checking it. */
  estimate?: { measure: boolean; provider?: 'cpu' | 'webgpu'; threads?: number };
};

try {
  if (modelFolder !== undefined) {
    // A model folder alone (models.import): loaded here, every weight read, its architecture answered.
    parentPort!.postMessage({ ok: true, arch: loadModelFolder(modelFolder).config });
  } else {
    const definition = await methodInWorker(method, module);
    const tooLarge = freshModelTooLarge(config);
    if (tooLarge) throw new Error(`this run cannot train here: ${tooLarge}`);
    const prepared = definition.prepare(config);
    const plan = definition.plan?.(prepared, config);
    // A run that cannot fit in this machine's memory is refused like a bad field, before it exists.
    const found = plan ? await estimateRun(plan, estimate ?? { measure: false }) : null;
    if (!estimate && found?.verdict === 'refuse') throw new Error(`this run cannot train here: ${found.reasons.join('; ')}`);
    parentPort!.postMessage(estimate ? { ok: true, estimate: found } : { ok: true });
  }
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  parentPort!.postMessage(modelFolder === undefined ? { ok: false, message } : { ok: false, message, hfFolder: error instanceof HfFolderError });
}
