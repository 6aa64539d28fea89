/** Worker thread of denormals.test.ts: doubles [1e-39, 1e-30] in a session of its own and posts the result. Its y = x + x model serves providers.test.ts too. */
import { isMainThread, parentPort } from 'node:worker_threads';
import { GraphBuilder } from '../../src-main/engine/onnx/graph.ts';
import { createSession, ort } from '../../src-main/engine/runtime.ts';

/** y = x + x for x of shape [2]. */
export function doubleModel(): Uint8Array {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [2]);
  return g.toModel([g.named(g.add(x, x), 'y')]);
}

if (!isMainThread && parentPort) {
  const session = await createSession(doubleModel(), { threads: 1 });
  const x = new ort.Tensor('float32', Float32Array.of(1e-39, 1e-30), [2]);
  parentPort.postMessage(Array.from((await session.run({ x })).y.data as Float32Array));
}
