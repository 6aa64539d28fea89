/**
 * models.evaluate and models.cancelEvaluation: a Library model scored on a
 * dataset's split, as `stepwise eval` scores it (./evaluation.ts), in a worker
 * thread (./evaluation-worker.ts) so the server keeps answering; progress
 * comes as model.evaluation events, and the predictions are stored under the
 * run the model came from. One evaluation per model at a time; cancelling
 * stops it and keeps nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Handlers } from '../contract/dispatcher.ts';
import type { ModelEvaluation } from '../contract/entities.ts';
import { StepwiseError, type ErrorCode } from '../contract/errors.ts';
import type { EventName, EventPayloads } from '../contract/events.ts';
import { workerUrl } from '../engine/worker-url.ts';
import type { LabContext } from './lab.ts';

type Procedures = 'models.evaluate' | 'models.cancelEvaluation';

export interface ModelEvaluations {
  handlers: Pick<Handlers, Procedures>;
  /** Stops every evaluation of this lab (it is closing). */
  close(): void;
}

export function createModelEvaluations({ store, dataDir, events }: LabContext): ModelEvaluations {
  const jobs = new Map<number, Worker>();

  const handlers: Pick<Handlers, Procedures> = {
    'models.evaluate': ({ id, datasetId, split, limit, batchSize }) => {
      const model = store.models.get(id);
      if (!model) throw new StepwiseError('not_found', `models.evaluate: there is no model ${id}`);
      const dataset = store.datasets.get(datasetId);
      if (!dataset) throw new StepwiseError('not_found', `models.evaluate: there is no dataset ${datasetId}`);
      const dataFile = path.join(dataDir, dataset.path, `${split}.txt`);
      if (!fs.existsSync(dataFile) || !dataset.splitCounts[split]) {
        const message = `the dataset “${dataset.name}” has no ${split} examples; choose a split it has (${Object.keys(dataset.splitCounts).filter((s) => dataset.splitCounts[s]).join(', ') || 'none'})`;
        throw new StepwiseError('invalid_input', `models.evaluate: ${message}`, [{ path: ['split'], message }]);
      }
      if (jobs.has(id)) throw new StepwiseError('conflict', `models.evaluate: model ${id} is being evaluated already; wait for it, or cancel it`);
      const request = { model: { dir: path.join(dataDir, model.path) }, dataFile, limit, batchSize, split: `eval:${dataset.name}:${split}` };
      const worker = new Worker(workerUrl(import.meta.url, './evaluation-worker.ts', 'evaluation-worker'), { workerData: { dataDir, request } });
      jobs.set(id, worker);
      return new Promise<ModelEvaluation>((resolve, reject) => {
        let answered = false;
        const answer = (settle: () => void) => {
          answered = true;
          jobs.delete(id);
          settle();
        };
        worker.on('message', (m: { type: 'progress'; done: number; total: number } | { type: 'event'; event: EventName; payload: EventPayloads[EventName] } | { type: 'done'; report: ModelEvaluation } | { type: 'failed'; message: string; code: ErrorCode | null }) => {
          if (m.type === 'progress') events.emit('model.evaluation', { modelId: id, done: m.done, total: m.total });
          else if (m.type === 'event') events.emit(m.event, m.payload);
          else if (m.type === 'done') answer(() => resolve(m.report));
          else answer(() => reject(new StepwiseError(m.code ?? 'invalid_input', `models.evaluate: ${m.message}`)));
        });
        worker.once('error', (error) => answer(() => reject(new StepwiseError('internal', `models.evaluate: the evaluation stopped: ${error.message}`))));
        worker.once('exit', () => {
          if (!answered) answer(() => reject(new StepwiseError('conflict', `models.evaluate: the evaluation of model ${id} was cancelled; nothing was stored`)));
        });
      });
    },

    'models.cancelEvaluation': ({ id }) => {
      const worker = jobs.get(id);
      if (!worker) return { cancelled: false };
      void worker.terminate();
      return { cancelled: true };
    },
  };

  return {
    handlers,
    close() {
      for (const worker of jobs.values()) void worker.terminate();
    },
  };
}
