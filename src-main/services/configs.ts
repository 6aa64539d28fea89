/** configs.*: run configurations saved under a name, for the New run form's Save and Load. */
import { StepwiseError } from '../contract/errors.ts';
import { knownMethod } from './methods.ts';
import type { Handlers } from '../contract/dispatcher.ts';
import type { LabContext } from './lab.ts';

export function configHandlers({ store }: LabContext): Pick<Handlers, 'configs.list' | 'configs.save' | 'configs.delete'> {
  return {
    'configs.list': ({ limit, offset }) => store.configs.list(limit, offset),
    'configs.save': ({ name, method, config }) => {
      knownMethod('configs.save', method);
      return store.configs.save({ name, method, config });
    },
    'configs.delete': ({ id }) => {
      if (!store.configs.delete(id)) throw new StepwiseError('not_found', `configs.delete: there is no saved configuration ${id}`);
      return { id };
    },
  };
}
