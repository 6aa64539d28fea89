/**
 * The lab's screens (issue 5): importing models, which runs used a dataset,
 * and saved run configurations for the New run form.
 *
 * Spread into the contract's procedures (../procedures.ts); field schemas come
 * from ../fields.ts. Additive only, like the rest of the contract.
 */
import { z } from 'zod';
import { RUN_METHODS } from '../entities.ts';
import type { JsonObject, Model, Page, Run, RunMethod } from '../entities.ts';
import { absolutePath, id, jsonObject, pagination, text } from '../fields.ts';
import type { ProcedureSpec } from '../fields.ts';

/** A run configuration kept under a name, to start runs from later (New run → Load). */
export interface SavedConfig {
  id: number;
  name: string;
  method: RunMethod;
  config: JsonObject;
  createdAt: number;
  updatedAt: number;
}

export const libraryProcedures = {
  'models.import': {
    summary:
      "Copy a Hugging Face GPT-2 folder (config.json and its safetensors weights) into the data folder as a new model; the copy is checked first, and a folder that does not load imports nothing.",
    input: z.strictObject({ path: absolutePath(), name: text(200).optional() }),
  },
  'datasets.runs': {
    summary: 'The runs whose config trains, validates or tests on one of the dataset\'s files, newest first.',
    input: z.strictObject({ id: id() }),
  },
  'configs.list': {
    summary: 'Saved run configurations, most recently saved first.',
    input: z.strictObject(pagination).default({ limit: 100, offset: 0 }),
  },
  'configs.save': {
    summary: 'Save a run configuration under a name; saving under a name already used replaces that one.',
    input: z.strictObject({
      name: text(200),
      method: z.enum(RUN_METHODS, { error: `must be one of ${RUN_METHODS.join(', ')}` }),
      config: jsonObject(),
    }),
  },
  'configs.delete': {
    summary: 'Delete a saved run configuration.',
    input: z.strictObject({ id: id() }),
  },
} as const satisfies Record<string, ProcedureSpec>;

/** What each of these procedures answers. */
export interface LibraryOutputs {
  'models.import': Model;
  'datasets.runs': { items: Run[] };
  'configs.list': Page<SavedConfig>;
  'configs.save': SavedConfig;
  'configs.delete': { id: number };
}
