/**
 * What a training method is, as the rest of the lab sees it: one definition,
 * exported by the method's own folder (`methods/<id>/index.ts`) and listed in
 * `methods/index.ts`. The run service, the CLI, the contract's `methods.list`,
 * the preflight check and the one generic worker (./worker.ts) read only this;
 * none of them names a method.
 *
 * A definition is plain data plus functions: it crosses no thread. The worker
 * finds the definition by id (a built-in one) or imports its `module` (one
 * registered at run time, e.g. by a test), then calls `run`.
 */
import type { RunPlan } from './shared/estimate.ts';
import type { z } from 'zod';
import type { TrainerControl, TrainerEvent } from '../engine/trainer.ts';
import type { MethodJob, MethodOutcome } from './run-config.ts';

/** What a method can do, as the New run form and the run pages need to know. */
export interface MethodCapabilities {
  /** It can start from a new model of the config's shape. */
  freshModel: boolean;
  /** It can start from a Library model folder. */
  libraryModel: boolean;
  /** The model families it trains (a fresh model is GPT-2 or Llama-shaped; a folder says its own). */
  families: readonly ('gpt2' | 'llama')[];
  /** It removes CoT tokens on a curriculum (the Curriculum editor and probes' removal apply). */
  curriculum: boolean;
  /** It trains adapters on a frozen base (the Bitune page's results table lists it). */
  adapters: boolean;
  /** It scores a validation or test split and stores the predictions. */
  predictions: boolean;
}

/** A finished run's model as the Library takes it (the service adds the row: size, architecture, relative paths). */
export interface LibraryEntry {
  /** The model's Hugging Face folder (absolute). */
  path: string;
  /** Appended to the run's name, e.g. "(best)". */
  suffix: string;
  step: number;
  epoch?: number;
  /** Validation accuracy of the kept model, when validation chose it. */
  valAccuracy?: number;
  /** The recipe or variant the Library names it by (ICoT-SI's recipe, the student's format, 'lora'). */
  recipe: string;
  /** Provenance beyond the run, step and recipe: e.g. the frozen base and the adapters' folder (absolute paths are made relative to the data folder). */
  provenance?: Record<string, string | number | boolean | null>;
}

/** How a config is told apart when it does not name its `method`. */
export type Recognizer = (config: Record<string, unknown>) => boolean;

export interface MethodDefinition<C = unknown, O extends MethodOutcome = MethodOutcome> {
  /** What runs store as their method, and configs name in `method`: lowercase, e.g. 'icot-si'. */
  id: string;
  /** As people write it, e.g. "ICoT-SI". */
  title: string;
  /** One line: what the method does. */
  hint: string;
  /** The module that exports this definition (`import.meta.url` of its index.ts): how a worker finds a method registered at run time. */
  module: string;
  /** The run config's schema (zod): validation, defaults and the error paths of a bad field. */
  schema: z.ZodType<C>;
  /** Whether a config without a `method` field is this method's (the CLI's guess, for older configs). */
  recognizes?: Recognizer;
  /** Its own preparation of a config (read and lay out the data, load the model) without training: the preflight check, off the main thread. Throws what is wrong. */
  prepare(config: C): unknown;
  /** What the run will train, from its preparation (`prepare`'s answer): the estimate before a run (shared/estimate.ts) reads it. */
  plan?(prepared: unknown, config: C): RunPlan;
  /** The whole run, in a worker thread: emit events, obey `control` between steps, return the outcome. */
  run(job: MethodJob<C>, emit: (e: TrainerEvent) => void, control: TrainerControl): Promise<O>;
  /** How a completed run's result joins the Library; null when it kept no model. */
  library(outcome: O, config: C): LibraryEntry | null;
  /** Its per-step figures (the `info` of a step event, e.g. ICoT-SI's scheduled removal) in a few words for progress lines; null for none. */
  progressNote?(figures: Record<string, number>): string | null;
  /** One line for the run's log when it completes (its best model or result), after "completed at step N: ". */
  summary?(outcome: O, config: C): string;
  capabilities: MethodCapabilities;
}

/** A definition with its config and outcome types checked where it is written, and erased in the list. */
export function defineMethod<C, O extends MethodOutcome>(definition: MethodDefinition<C, O>): MethodDefinition {
  return definition as unknown as MethodDefinition;
}
