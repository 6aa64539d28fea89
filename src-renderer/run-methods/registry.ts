// The methods the New run form offers, each a small record (./types.ts): what
// it is called, the settings of its own (a Svelte section), and how the run's
// config is built from the shared parts of the form plus those settings.
//
// To plug a method in: write its entry (like ./icot.ts) and add it to
// RUN_FORM_METHODS below. The form, Save/Load and "show command" pick it up.
import type { JsonObject, RunMethod } from '../../src-main/contract/index.ts';
import { bituneEntry, loraEntry } from './bitune.ts';
import { coconutEntry, coconutPauseEntry } from './coconut.ts';
import { ftCotEntry, ftVanillaEntry } from './ftcot.ts';
import { cotEntry, icotSiEntry, noCotEntry } from './icot.ts';
import type { CommonReadBack, RunFormMethod } from './types.ts';
import { labMethods } from '../lib/methods.svelte.ts';

/** The form's methods, in the order shown. Add new methods here. */
export const RUN_FORM_METHODS: RunFormMethod[] = [icotSiEntry, cotEntry, noCotEntry, bituneEntry, loraEntry, ftCotEntry, ftVanillaEntry, coconutEntry, coconutPauseEntry];

/** The entry that reads a stored config back, with what it read; null when none does. */
export function readAnyConfig(config: JsonObject, method?: RunMethod): { entry: RunFormMethod; read: { common: CommonReadBack; settings: object } } | null {
  for (const entry of RUN_FORM_METHODS) {
    if (method !== undefined && entry.method !== method) continue;
    const read = entry.readConfig(config);
    if (read) return { entry, read };
  }
  return null;
}

/**
 * What a run is, as the pages name it: the form entry its config is (e.g. an ICoT-SI
 * run with recipe "cot" is "Explicit CoT"), else its method's title.
 */
export function runLabel(run: { method: string; config: JsonObject }): string {
  return readAnyConfig(run.config, run.method)?.entry.label ?? labMethods.title(run.method);
}
