/**
 * Worker-thread entry of a training job: session.run holds its thread for a
 * whole step, so training never runs on the main thread. Receives the job in
 * workerData, posts TrainerEvents, and obeys pause / resume / cancel messages
 * between steps.
 */
import { workerData } from 'node:worker_threads';
import { TokenBatches } from './batches.ts';
import { initModel } from './init.ts';
import { readSafetensors } from './safetensors.ts';
import { train } from './trainer.ts';
import { serveJob, type TrainJobResult, type TrainJobSpec } from './train-job.ts';

const spec = workerData as TrainJobSpec;

await serveJob<TrainJobResult>(async (emit, control) => {
  const { config } = spec;
  const data = new TokenBatches(spec.examples, { batch: config.batch, seq: config.seq, seed: spec.dataSeed, padId: spec.padId });
  const init =
    spec.init.kind === 'resume' ? { resumeFrom: spec.init.checkpoint }
    : spec.init.kind === 'safetensors' ? { params: readSafetensors(spec.init.path).tensors }
    : { params: initModel(config.arch, spec.init.seed) };
  const result = await train({ config, data, init, control, emit });
  return { status: result.status, step: result.step, lastCheckpoint: result.lastCheckpoint };
});
