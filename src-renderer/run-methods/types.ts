// What a New run method is (see ./registry.ts for the list of them).
import type { Component } from 'svelte';
import type { Dataset, JsonObject, RunMethod } from '../../src-main/contract/index.ts';
import type { FreshShape, RunFormCommon, TrainSettings } from '../lib/run-config.ts';

/** What a stored config sets of the shared form (Load puts it back). */
export interface CommonReadBack {
  /** The dataset folder, e.g. 'datasets/3'; the form picks the dataset with that path. */
  datasetPath?: string | null;
  /** A Library model's folder; null for a new model. */
  modelPath?: string | null;
  fresh?: FreshShape;
  train?: TrainSettings;
  provider?: string;
}

export interface RunFormMethod<S extends object = object> {
  /** Unique among the form's methods (several may share one RunMethod, e.g. the ICoT recipes). */
  id: string;
  /** What runs.create stores as the run's method. */
  method: RunMethod;
  label: string;
  /** One line: what the method does. */
  hint: string;
  /** false: described in the form but not offered (this version cannot train it yet). */
  trainable: boolean;
  /** The method's own settings as a new form starts them. */
  initialSettings(): S;
  /** The form section for those settings, bound to them; none when the method has no settings of its own. */
  Settings?: Component<{ settings: S; dataset?: Dataset }, object, 'settings'>;
  /** Training hyperparameters where the method's paper differs from the shared defaults. */
  trainDefaults?: Partial<TrainSettings>;
  /** Whether the method can start from a new model (false: a Library model is required). */
  freshModel: boolean;
  /** The run's config: shared parts plus the method's settings. */
  buildConfig(common: RunFormCommon, settings: S): JsonObject;
  /** A stored config of this entry read back into the form; null when the config is not one of its. */
  readConfig(config: JsonObject): { common: CommonReadBack; settings: S } | null;
  /** Why a dataset cannot train with this method, in words; null when it can. */
  datasetProblem(dataset: Dataset): string | null;
}

/** Lets entries with different settings share one list. */
export function defineRunFormMethod<S extends object>(entry: RunFormMethod<S>): RunFormMethod {
  return entry as unknown as RunFormMethod;
}

