/**
 * Denormal floats and threads. ONNX Runtime applies a session's set_denormal_as_zero to the
 * calling thread only for the first session of a process (a process-wide call_once), and
 * training jobs run in worker threads: with it, the first job's worker flushed denormals and the
 * others did not, and the same run gave different bits from one time to the next. This file's
 * first session is a worker's, as a training job's would be.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createSession, ort } from '../../src-main/engine/runtime.ts';
import { doubleModel } from './denormal-worker.ts';

const inWorker = () =>
  new Promise<number[]>((resolve, reject) => {
    const w = new Worker(new URL('./denormal-worker.ts', import.meta.url));
    w.once('message', (m: number[]) => {
      resolve(m);
      void w.terminate();
    });
    w.once('error', reject);
  });

describe('denormal floats', () => {
  it('every session keeps them, whichever thread created the first session, so runs are reproducible', async () => {
    const denormal = Math.fround(1e-39); // below float32's smallest normal, 1.18e-38
    const expected = [Math.fround(2 * denormal), Math.fround(2e-30)];
    expect(expected[0]).toBeGreaterThan(0);
    // A worker creates the process's first session, then this thread one, then a second worker.
    expect(await inWorker()).toEqual(expected);
    const x = new ort.Tensor('float32', Float32Array.of(denormal, 1e-30), [2]);
    const session = await createSession(doubleModel(), { threads: 1 });
    expect(Array.from((await session.run({ x })).y.data as Float32Array)).toEqual(expected);
    expect(await inWorker()).toEqual(expected);
  });
});
