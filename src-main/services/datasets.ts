/** datasets.*: list, read, import and generate datasets (the files and rows: ./dataset-library.ts). */
import { StepwiseError } from '../contract/errors.ts';
import type { Handlers } from '../contract/dispatcher.ts';
import { datasetExamples, generateMultDataset, importDataset } from './dataset-library.ts';
import type { LabContext } from './lab.ts';

type DatasetHandlers = Pick<Handlers, 'datasets.list' | 'datasets.get' | 'datasets.import' | 'datasets.generateMult' | 'datasets.examples'>;

export function datasetHandlers(context: LabContext): DatasetHandlers {
  const { store, dataDir } = context;
  const get = (procedure: string, id: number) => {
    const dataset = store.datasets.get(id);
    if (!dataset) throw new StepwiseError('not_found', `${procedure}: there is no dataset ${id}`);
    return dataset;
  };
  return {
    'datasets.list': ({ limit, offset }) => store.datasets.list(limit, offset),
    'datasets.get': ({ id }) => get('datasets.get', id),
    'datasets.import': (input) => prefixed('datasets.import', () => importDataset(context, input)),
    'datasets.generateMult': (input) => prefixed('datasets.generateMult', () => generateMultDataset(context, input)),
    'datasets.examples': ({ id, split, offset, limit }) =>
      prefixed('datasets.examples', () => datasetExamples(dataDir, get('datasets.examples', id), split, offset, limit)),
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
