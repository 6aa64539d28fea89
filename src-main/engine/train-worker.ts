/**
 * Worker-thread entry of a training job: session.run holds its thread for a
 * whole step, so training never runs on the main thread. Receives the job in
 * workerData, posts TrainerEvents, and obeys pause / resume / cancel messages
 * between steps.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TokenBatches } from './batches.ts';
import { initModel } from './init.ts';
import { readSafetensors } from './safetensors.ts';
import { train, TrainerControl, type TrainerEvent } from './trainer.ts';
import type { ControlMessage, TrainJobResult, TrainJobSpec, WorkerMessage } from './train-job.ts';

const spec = workerData as TrainJobSpec;
const port = parentPort!;
const control = new TrainerControl();
port.on('message', (m: ControlMessage) => {
  if (m.type === 'pause') control.pause();
  else if (m.type === 'resume') control.resume();
  else if (m.type === 'cancel') control.cancel();
});
const post = (m: WorkerMessage<TrainJobResult>) => port.postMessage(m);

try {
  const { config } = spec;
  const data = new TokenBatches(spec.examples, { batch: config.batch, seq: config.seq, seed: spec.dataSeed, padId: spec.padId });
  const init =
    spec.init.kind === 'resume' ? { resumeFrom: spec.init.checkpoint }
    : spec.init.kind === 'safetensors' ? { params: readSafetensors(spec.init.path).tensors }
    : { params: initModel(config.arch, spec.init.seed) };
  const result = await train({ config, data, init, control, emit: (e: TrainerEvent) => post({ type: 'event', event: e }) });
  post({ type: 'done', result: { status: result.status, step: result.step, lastCheckpoint: result.lastCheckpoint } });
} catch (err) {
  post({ type: 'error', message: (err as Error).message });
} finally {
  port.close();
}
