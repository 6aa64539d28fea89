/**
 * Worker-thread entry of a probe grid (grid.ts): fitting is plain JavaScript
 * arithmetic, so it runs here, off the main process's event loop. Receives a
 * GridRequest (without its callbacks) in workerData, posts progress and then
 * the result.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { probeGrid, type GridRequest, type GridResult } from './grid.ts';

export type GridWorkerMessage =
  | { type: 'progress'; done: number; total: number }
  | { type: 'done'; result: GridResult }
  | { type: 'error'; message: string };

const port = parentPort!;
const post = (m: GridWorkerMessage) => port.postMessage(m);
try {
  const result = await probeGrid({ ...(workerData as Omit<GridRequest, 'onProgress' | 'signal'>), onProgress: (done, total) => post({ type: 'progress', done, total }) });
  post({ type: 'done', result });
} catch (err) {
  post({ type: 'error', message: (err as Error).message });
} finally {
  port.close();
}
