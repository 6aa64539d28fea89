/** datasets.*: list, read, import and generate datasets (the files and rows: ./dataset-library.ts), and the runs that used one. */
import path from 'node:path';
import { StepwiseError } from '../contract/errors.ts';
import type { Handlers } from '../contract/dispatcher.ts';
import { datasetExamples, generateMultDataset, importDataset } from './dataset-library.ts';
import type { LabContext } from './lab.ts';

type DatasetHandlers = Pick<
  Handlers,
  'datasets.list' | 'datasets.get' | 'datasets.import' | 'datasets.generateMult' | 'datasets.cancelGenerate' | 'datasets.examples' | 'datasets.runs'
>;

export function datasetHandlers(context: LabContext): DatasetHandlers {
  const { store, dataDir, events } = context;
  /** Generations under way, by the name asked for; `stop` is set by datasets.cancelGenerate. */
  const generating = new Map<string, { stop: boolean }>();
  const get = (procedure: string, id: number) => {
    const dataset = store.datasets.get(id);
    if (!dataset) throw new StepwiseError('not_found', `${procedure}: there is no dataset ${id}`);
    return dataset;
  };
  return {
    'datasets.list': ({ limit, offset }) => store.datasets.list(limit, offset),
    'datasets.get': ({ id }) => get('datasets.get', id),
    'datasets.import': (input) => prefixed('datasets.import', () => importDataset(context, input)),
    'datasets.generateMult': (input) =>
      prefixed('datasets.generateMult', async () => {
        if (generating.has(input.name)) throw new StepwiseError('conflict', `a dataset named “${input.name}” is already being generated`);
        const job = { stop: false };
        generating.set(input.name, job);
        try {
          // The writer calls back between chunks: a stop asked for meanwhile ends it there, and the staged files go.
          return await generateMultDataset(context, input, (done, total) => {
            events.emit('dataset.progress', { name: input.name, done, total });
            if (job.stop) throw new StepwiseError('conflict', `generating “${input.name}” was cancelled after ${done} of ${total} examples; nothing was kept`);
          });
        } finally {
          generating.delete(input.name);
        }
      }),
    'datasets.cancelGenerate': ({ name }) => {
      const job = generating.get(name);
      if (job) job.stop = true;
      return { cancelled: job !== undefined };
    },
    'datasets.examples': ({ id, split, offset, limit }) =>
      prefixed('datasets.examples', () => datasetExamples(dataDir, get('datasets.examples', id), split, offset, limit)),
    'datasets.runs': ({ id }) => {
      const folder = path.join(dataDir, get('datasets.runs', id).path);
      const inside = (file: unknown) => typeof file === 'string' && path.dirname(path.resolve(dataDir, file)) === folder;
      const items = [];
      for (let offset = 0; ; offset += 1000) {
        const page = store.runs.list({ limit: 1000, offset });
        for (const run of page.items) {
          const data = run.config.data;
          if (data !== null && typeof data === 'object' && !Array.isArray(data) && ['train', 'valid', 'test'].some((s) => inside(data[s]))) items.push(run);
        }
        if (page.items.length < 1000) break;
      }
      return { items };
    },
  };
}

/** Contract errors from the library name the procedure first, like the dispatcher's own. */
async function prefixed<T>(procedure: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof StepwiseError && !error.message.startsWith(`${procedure}:`)) {
      throw new StepwiseError(error.code, `${procedure}: ${error.message}`, error.issues);
    }
    throw error;
  }
}
