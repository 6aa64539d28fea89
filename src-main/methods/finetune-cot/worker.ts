/**
 * Worker-thread entry of a Fine-tune-CoT student run (see run.ts): receives
 * the job in workerData, posts TrainerEvents, obeys pause / resume / cancel.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ControlMessage, WorkerMessage } from '../../engine/train-job.ts';
import { TrainerControl } from '../../engine/trainer.ts';
import { runFtCot, type FtCotJob, type FtCotOutcome } from './run.ts';

const port = parentPort!;
const control = new TrainerControl();
port.on('message', (m: ControlMessage) => {
  if (m.type === 'pause') control.pause();
  else if (m.type === 'resume') control.resume();
  else control.cancel();
});
const post = (m: WorkerMessage<FtCotOutcome>) => port.postMessage(m);

try {
  const outcome = await runFtCot(workerData as FtCotJob, (event) => post({ type: 'event', event }), control);
  post({ type: 'done', result: outcome });
} catch (err) {
  post({ type: 'error', message: (err as Error).message });
} finally {
  port.close();
}
