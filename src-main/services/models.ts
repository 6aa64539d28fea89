/** models.*: list, read and delete models (with their files). */
import { StepwiseError } from '../contract/errors.ts';
import type { Handlers } from '../contract/dispatcher.ts';
import type { Model } from '../contract/entities.ts';
import { removeFromDataDir } from './files.ts';
import type { LabContext } from './lab.ts';

export function modelHandlers({ store, dataDir }: LabContext): Pick<Handlers, 'models.list' | 'models.get' | 'models.delete'> {
  function existing(procedure: string, id: number): Model {
    const model = store.models.get(id);
    if (!model) throw new StepwiseError('not_found', `${procedure}: there is no model ${id}`);
    return model;
  }

  return {
    'models.list': ({ limit, offset }) => store.models.list(limit, offset),
    'models.get': ({ id }) => existing('models.get', id),
    'models.delete': ({ id }) => {
      const model = existing('models.delete', id);
      // Files first: if removing them fails, the row stays and the delete can be retried.
      const bytesFreed = removeFromDataDir(dataDir, model.path);
      store.models.delete(id);
      return { id, bytesFreed };
    },
  };
}
