/**
 * configs.presets: the run configs shipped in resources/configs, named for
 * what they reproduce (resources/configs/presets.json), for the New run
 * form's Load. A preset's data paths are relative to resources/configs and
 * name files the user has not got: the form takes its method, model,
 * training and curriculum, and the user picks the dataset.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Handlers } from '../contract/dispatcher.ts';
import type { JsonObject } from '../contract/entities.ts';
import { StepwiseError } from '../contract/errors.ts';
import { methodOfConfig } from '../methods/index.ts';

/** Where resources/configs is, from source (src-main/services/) or from the desktop bundle (out/main/ or out/main/chunks/). */
function configsFolder(): string | null {
  for (const up of ['../../resources/configs/', '../../../resources/configs/']) {
    const dir = fileURLToPath(new URL(up, import.meta.url));
    if (fs.existsSync(`${dir}presets.json`)) return dir;
  }
  return null;
}

export interface Preset {
  file: string;
  title: string;
  method: string;
  config: JsonObject;
}

/** The shipped presets, in presets.json's order; a file that does not read is left out and said in `problems`. */
export function readPresets(dir = configsFolder()): { items: Preset[]; problems: string[] } {
  if (!dir) return { items: [], problems: ['resources/configs/presets.json is not beside this installation'] };
  const list = JSON.parse(fs.readFileSync(`${dir}presets.json`, 'utf8')) as { file: string; title: string }[];
  const items: Preset[] = [];
  const problems: string[] = [];
  for (const { file, title } of list) {
    try {
      const config = JSON.parse(fs.readFileSync(`${dir}${file}`, 'utf8')) as JsonObject;
      items.push({ file, title, method: methodOfConfig(config).id, config });
    } catch (error) {
      problems.push(`${file}: ${(error as Error).message}`);
    }
  }
  return { items, problems };
}

export function presetHandlers(): Pick<Handlers, 'configs.presets'> {
  return {
    'configs.presets': () => {
      try {
        return readPresets();
      } catch (error) {
        throw new StepwiseError('internal', `configs.presets: resources/configs/presets.json does not read: ${(error as Error).message}`);
      }
    },
  };
}
