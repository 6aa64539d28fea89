/** datasets.*: list, read, import and generate datasets (the files and rows: ./dataset-library.ts), and the runs that used one. */
import path from 'node:path';
import { StepwiseError } from '../contract/errors.ts';
import type { Handlers } from '../contract/dispatcher.ts';
import type { Run } from '../contract/entities.ts';
import { datasetExamples, generateMultDataset, importDataset, refuseTakenName } from './dataset-library.ts';
import { removeFromDataDir } from './files.ts';
import type { LabContext } from './lab.ts';

type DatasetHandlers = Pick<
  Handlers,
  'datasets.list' | 'datasets.get' | 'datasets.update' | 'datasets.delete' | 'datasets.import' | 'datasets.generateMult' | 'datasets.cancelGenerate' | 'datasets.examples' | 'datasets.runs'
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
    'datasets.update': ({ id, name }) =>
      prefixed('datasets.update', () => {
        get('datasets.update', id);
        refuseTakenName(context, name, id);
        return store.datasets.rename(id, name)!;
      }),
    'datasets.delete': ({ id }) => {
      const dataset = get('datasets.delete', id);
      // A run that may still train (or resume) on these files keeps them; a completed one keeps only its records.
      const users = runsUsing(dataset.path).filter((r) => r.status !== 'completed');
      if (users.length > 0) {
        const named = users.slice(0, 5).map((r) => `run ${r.id} “${r.name}” (${r.status})`).join(', ');
        throw new StepwiseError('conflict', `datasets.delete: ${named}${users.length > 5 ? ` and ${users.length - 5} more` : ''} can still train on “${dataset.name}”; delete ${users.length === 1 ? 'that run' : 'those runs'} first`);
      }
      // Files first: if removing them fails, the row stays and the delete can be retried.
      const bytesFreed = removeFromDataDir(dataDir, dataset.path);
      store.datasets.delete(id);
      return { id, bytesFreed };
    },
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
    'datasets.runs': ({ id }) => ({ items: runsUsing(get('datasets.runs', id).path) }),
  };

  /** The runs whose config trains, validates or tests on a file of the dataset folder `relative`, newest first. */
  function runsUsing(relative: string): Run[] {
    const folder = path.join(dataDir, relative);
    const inside = (file: unknown) => typeof file === 'string' && path.dirname(path.resolve(dataDir, file)) === folder;
    const items: Run[] = [];
    for (let offset = 0; ; offset += 1000) {
      const page = store.runs.list({ limit: 1000, offset });
      for (const run of page.items) {
        const data = run.config.data;
        if (data !== null && typeof data === 'object' && !Array.isArray(data) && ['train', 'valid', 'test'].some((s) => inside(data[s]))) items.push(run);
      }
      if (page.items.length < 1000) break;
    }
    return items;
  }
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
