/**
 * Worker-thread entry of a model's evaluation (./model-evaluation.ts): runs
 * evaluateFile (./evaluation.ts) off the main thread, since ONNX Runtime's
 * session.run blocks its thread. It opens its own connection to the lab's
 * SQLite file (WAL: the server's connection reads and writes beside it) to
 * store the predictions, and posts its progress, its run.log line and its
 * report to the thread that started it.
 */
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { EventName, EventPayloads } from '../contract/events.ts';
import { openStore } from '../store/store.ts';
import { evaluateFile, type EvalRequest } from './evaluation.ts';
import type { EventBus } from './events.ts';
import { DATABASE_FILE } from './paths.ts';

const { dataDir, request } = workerData as { dataDir: string; request: Omit<EvalRequest, 'onProgress'> };

const store = openStore(path.join(dataDir, DATABASE_FILE));
const events: EventBus = {
  emit<E extends EventName>(event: E, payload: EventPayloads[E]) {
    parentPort!.postMessage({ type: 'event', event, payload });
  },
  subscribe: () => () => {},
};
try {
  const report = await evaluateFile({ dataDir, store, events }, { ...request, onProgress: (done, total) => parentPort!.postMessage({ type: 'progress', done, total }) });
  parentPort!.postMessage({ type: 'done', report });
} catch (error) {
  const code = (error as { code?: unknown }).code;
  parentPort!.postMessage({ type: 'failed', message: error instanceof Error ? error.message : String(error), code: typeof code === 'string' ? code : null });
} finally {
  store.close();
}
