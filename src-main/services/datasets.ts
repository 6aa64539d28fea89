/** datasets.*: list and read datasets. */
import { StepwiseError } from '../contract/errors.ts';
import type { Handlers } from '../contract/dispatcher.ts';
import type { LabContext } from './lab.ts';

export function datasetHandlers({ store }: LabContext): Pick<Handlers, 'datasets.list' | 'datasets.get'> {
  return {
    'datasets.list': ({ limit, offset }) => store.datasets.list(limit, offset),
    'datasets.get': ({ id }) => {
      const dataset = store.datasets.get(id);
      if (!dataset) throw new StepwiseError('not_found', `datasets.get: there is no dataset ${id}`);
      return dataset;
    },
  };
}
