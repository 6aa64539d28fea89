/**
 * The lab's screens (issue 5): importing models, which runs used a dataset,
 * saved run configurations for the New run form, and the ICoT-SI schedule
 * the Curriculum editor plots.
 *
 * Spread into the contract's procedures (../procedures.ts); field schemas come
 * from ../fields.ts. Additive only, like the rest of the contract.
 */
import { z } from 'zod';
import type { Checkpoint, JsonObject, Model, Page, Run, RunMethod } from '../entities.ts';
import { absolutePath, id, jsonObject, methodId, pagination, text } from '../fields.ts';
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

/** A run's checkpoint as the Library lists it: weights a run saved, with what they are and where from. */
export interface RunCheckpoint extends Checkpoint {
  runName: string;
  method: RunMethod;
  /** As models' architecture, from the run's run.json; null when the run folder does not say. */
  architecture: JsonObject | null;
  paramCount: number | null;
}

/** Where an ICoT-SI schedule stands after one training batch. */
export interface SchedulePoint {
  /** Training batches done (1-based). */
  batch: number;
  /** CoT tokens removed from that batch on (capped at the CoT's length). */
  removed: number;
  remaining: number;
}

/** A model folder models.discover found on this machine. */
export interface FoundModel {
  /** The repository id for a hub cache entry (e.g. "HuggingFaceTB/SmolLM2-135M"), else the folder's name. */
  name: string;
  /** The folder (a cache snapshot: its files link to the cache's blobs). */
  path: string;
  /** config.json's model_type; null when it has none. */
  modelType: string | null;
  bytes: number;
  /** Whether Stepwise loads it (a supported model_type, with safetensors weights). */
  loadable: boolean;
  /** Why it does not load, in words; absent when it does. */
  why?: string;
  /** Whether a Library model was imported from this folder. */
  imported: boolean;
}

const finite = (what: string) => z.number({ error: `must be ${what}` });

export const libraryProcedures = {
  'models.import': {
    summary:
      "Copy a Hugging Face GPT-2 folder (config.json and its safetensors weights) into the data folder as a new model; the copy is checked first, and a folder that does not load imports nothing.",
    input: z.strictObject({ path: absolutePath(), name: text(200).optional() }),
  },
  'models.discover': {
    summary:
      'Model folders already on this machine: the Hugging Face hub cache ($HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub) and any `folders` named ' +
      '(each a model folder or a folder of them), with their model_type, size, whether Stepwise loads them and whether the Library has them.',
    input: z.strictObject({ folders: z.array(absolutePath(), { error: 'must be a list of absolute paths' }).max(20, { error: 'must name at most 20 folders' }).optional() }).default({}),
  },
  'models.checkpoints': {
    summary: "Every run's checkpoints, newest first, with the run that saved them and the model's architecture and parameter count.",
    input: z.strictObject(pagination).default({ limit: 100, offset: 0 }),
  },
  'datasets.cancelGenerate': {
    summary:
      'Stop generating the dataset asked for under `name`: its datasets.generateMult call then answers a conflict error, and nothing of it is kept.',
    input: z.strictObject({ name: text(200) }),
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
      method: methodId(),
      config: jsonObject(),
    }),
  },
  'configs.presets': {
    summary: 'The run configs shipped with Stepwise (resources/configs), named for what they reproduce, for New run’s Load.',
    input: z.strictObject({}).default({}),
  },
  'configs.delete': {
    summary: 'Delete a saved run configuration.',
    input: z.strictObject({ id: id() }),
  },
  'curriculum.preview': {
    summary:
      "The ICoT-SI schedule a curriculum gives, computed by the trainer's own code: CoT tokens removed and remaining after each batch where the count changes, and the removal-smoothing offset distribution P(o), o = 0..99.",
    input: z.strictObject({
      curriculum: z.strictObject({
        removePerEpoch: finite('a number of tokens (0 or more)').min(0, { error: 'must be 0 or more' }).max(10_000, { error: 'must be at most 10000' }),
        smoothingLambda: finite('a positive number, or null for no smoothing').positive({ error: 'must be positive, or null for no smoothing' }).nullable(),
        side: z.enum(['left', 'right'], { error: 'must be left or right' }),
        resetOptimizer: z.boolean({ error: 'must be true or false' }),
        removeAllWhenBeyond: finite('a positive number, or null for never').positive({ error: 'must be positive, or null for never' }).nullable(),
        pretrainEpochs: z.int({ error: 'must be a whole number of epochs' }).min(0, { error: 'must be 0 or more' }).max(10_000, { error: 'must be at most 10000' }),
        keepPosition: z.boolean({ error: 'must be true or false' }).optional(),
        /**
         * A run's hold on validation accuracy: a fraction, or [tokens removed, fraction] pairs. The preview has no
         * validation: it plots the schedule that never holds and marks where a hold can bite (validation.spans).
         */
        holdBelow: z.union([
          finite('a fraction from 0 to 1').min(0, { error: 'must be 0 or more' }).max(1, { error: 'must be at most 1' }),
          z.array(z.tuple([
            z.int({ error: 'must be a whole number of tokens' }).min(0, { error: 'must be 0 or more' }),
            finite('a fraction from 0 to 1').min(0, { error: 'must be 0 or more' }).max(1, { error: 'must be at most 1' }),
          ]), { error: 'must be a fraction, or [tokens, fraction] pairs such as [[0, 0.5], [37, 0.25]]' }).min(1).max(64)
            .refine((pairs) => pairs[0]![0] === 0, { error: 'must start at 0 tokens removed, e.g. [[0, 0.5], [37, 0.25]]' })
            .refine((pairs) => pairs.every((q, i) => i === 0 || q[0] > pairs[i - 1]![0]), { error: 'its token counts must increase, e.g. [[0, 0.5], [37, 0.25]]' }),
        ]).optional(),
        /** A run's advance on validation accuracy; likewise not simulated. */
        advanceAbove: finite('a fraction from 0 to 1').min(0, { error: 'must be 0 or more' }).max(1, { error: 'must be at most 1' }).optional(),
      }),
      trainExamples: z.int({ error: 'must be a whole number from 1' }).min(1, { error: 'must be at least 1' }).max(100_000_000, { error: 'must be at most 100000000' }),
      batchSize: z.int({ error: 'must be a whole number from 1 to 4096' }).min(1, { error: 'must be at least 1' }).max(4096, { error: 'must be at most 4096' }),
      epochs: z.int({ error: 'must be a whole number from 1 to 10000' }).min(1, { error: 'must be at least 1' }).max(10_000, { error: 'must be at most 10000' }),
      /** Tokens in the chain of thought plotted. */
      cotLength: z.int({ error: 'must be a whole number of tokens' }).min(0, { error: 'must be 0 or more' }).max(100_000, { error: 'must be at most 100000' }),
    }),
  },
} as const satisfies Record<string, ProcedureSpec>;

/** Where a run's validation can change the curriculum's schedule, over the schedule that never holds. */
export interface ValidationSpans {
  /** Whether validation decides any of the schedule. */
  decides: boolean;
  /** Batch spans over which a hold can bite: its threshold for the tokens removed then. */
  spans: { fromBatch: number; toBatch: number; fromRemoved: number; toRemoved: number; holdBelow: number }[];
  /** The advance threshold, or null when validation never speeds the removal up. */
  advanceAbove: number | null;
  /** What that means, in a sentence (empty when validation decides nothing). */
  note: string;
}

/** What each of these procedures answers. */
export interface LibraryOutputs {
  'models.import': Model;
  'configs.presets': { items: { file: string; title: string; method: RunMethod; config: JsonObject }[]; problems: string[] };
  'models.discover': { searched: string[]; items: FoundModel[] };
  'models.checkpoints': Page<RunCheckpoint>;
  'datasets.cancelGenerate': { /** false when nothing by that name was being generated (e.g. it had just finished). */ cancelled: boolean };
  'datasets.runs': { items: Run[] };
  'configs.list': Page<SavedConfig>;
  'configs.save': SavedConfig;
  'configs.delete': { id: number };
  'curriculum.preview': {
    /** As the trainer counts them: the last partial batch is dropped. */
    batchesPerEpoch: number;
    /** One more token every this many batches; null when nothing is removed (Δ = 0). */
    batchesPerRemovedToken: number | null;
    totalBatches: number;
    /** The first batch, every batch where the removal grows, and the last. */
    curve: SchedulePoint[];
    /** P(o) of removal smoothing for o = 0..99 (all mass on 0 without smoothing). */
    offsets: number[];
    /** Where validation decides the schedule (a hold or an advance); the curve is the schedule that never holds. */
    validation: ValidationSpans;
  };
}
