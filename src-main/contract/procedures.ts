/**
 * Every procedure the renderer can call, with its input schema and output type.
 *
 * This file is the contract. Main implements one handler per name
 * (src-main/services/), the dispatcher validates each input against the schema
 * here exactly once, and both transports (Electron IPC, local HTTP) carry the
 * same names, inputs and outputs. The renderer imports only the types.
 *
 * Changes are additive: new procedures, new optional input fields, new output
 * fields. Never rename or remove.
 */
import { z } from 'zod';
import { RUN_STATUSES } from './entities.ts';
import { absolutePath, datasetSplit, empty, exampleCount, id, jsonObject, limit, methodId, metricKey, multDigits, nonNegativeInt, pagination, tag, text } from './fields.ts';
import { adapterProcedures } from './areas/adapters.ts';
import { coconutProcedures } from './areas/coconut.ts';
import type { CoconutOutputs } from './areas/coconut.ts';
import type { AdapterOutputs } from './areas/adapters.ts';
import { finetuneProcedures } from './areas/finetune.ts';
import { jobsProcedures } from './areas/jobs.ts';
import type { JobsOutputs } from './areas/jobs.ts';
import { libraryProcedures } from './areas/library.ts';
import type { LibraryOutputs } from './areas/library.ts';
import type { FinetuneOutputs } from './areas/finetune.ts';
import { probeProcedures } from './areas/probes.ts';
import type { ProbeOutputs } from './areas/probes.ts';
import type {
  AppInfo,
  Checkpoint,
  Dataset,
  DatasetExample,
  JsonObject,
  LogEvent,
  MethodInfo,
  MetricSeries,
  Model,
  Page,
  Prediction,
  Run,
  RunEstimate,
  ModelEvaluation,
} from './entities.ts';

export const procedures = {
  'app.info': {
    summary: 'Data folder, schema version, ONNX Runtime version and execution providers, app version.',
    input: empty(),
  },

  'methods.list': {
    summary: 'The training methods this lab runs: id, title, one-line hint and what each can do (fresh or Library model, families, curriculum, adapters).',
    input: empty(),
  },

  'models.list': {
    summary: 'Models, newest first.',
    input: z.strictObject(pagination).default({ limit: 100, offset: 0 }),
  },
  'models.get': {
    summary: 'One model.',
    input: z.strictObject({ id: id() }),
  },
  'models.evaluate': {
    summary:
      "Score a Library model on a dataset's split, as `stepwise eval` does (accuracy, CoT tokens, examples/s), in a worker; progress comes as model.evaluation events, and the predictions are stored under the model's run.",
    input: z.strictObject({
      id: id(),
      datasetId: id(),
      split: z.enum(['valid', 'test'], { error: 'must be valid or test' }).default('test'),
      limit: z.int({ error: 'must be a whole number from 1 to 100000' }).min(1, { error: 'must be a whole number from 1 to 100000' }).max(100_000, { error: 'must be a whole number from 1 to 100000' }).optional(),
      batchSize: z.int({ error: 'must be a whole number from 1 to 1024' }).min(1, { error: 'must be a whole number from 1 to 1024' }).max(1024, { error: 'must be a whole number from 1 to 1024' }).default(16),
    }),
  },
  'models.cancelEvaluation': {
    summary: "Stop a model's evaluation; nothing of it is stored.",
    input: z.strictObject({ id: id() }),
  },
  'models.delete': {
    summary: "Delete a model's row and its files under the data folder; answers the bytes freed.",
    input: z.strictObject({ id: id() }),
  },

  'datasets.list': {
    summary: 'Datasets, newest first.',
    input: z.strictObject(pagination).default({ limit: 100, offset: 0 }),
  },
  'datasets.get': {
    summary: 'One dataset.',
    input: z.strictObject({ id: id() }),
  },
  'datasets.update': {
    summary: 'Rename a dataset (names are unique, in any case).',
    input: z.strictObject({ id: id(), name: text(200) }),
  },
  'datasets.delete': {
    summary:
      "Delete a dataset and its files; refused while a run that could still train on it (queued, running, failed or cancelled) names its files. Answers the bytes freed.",
    input: z.strictObject({ id: id() }),
  },
  'datasets.import': {
    summary:
      "Copy a file of examples (the paper's `input||cot #### answer` lines, or JSONL {question, rationale?, answer}) into the data folder as one split of a new dataset, or with datasetId as a split that dataset lacks (in its format: a valid or test split for an imported train split); every line is checked first, and a bad one imports nothing.",
    input: z.strictObject({
      path: absolutePath(),
      name: text(200),
      split: datasetSplit().default('train'),
      format: z.enum(['lines', 'jsonl'], { error: 'must be lines or jsonl' }).optional(),
      /** Add the split to this dataset (name is then its name) rather than make a new one. */
      datasetId: id().optional(),
    }),
  },
  'datasets.generateMult': {
    summary:
      "Generate digitsA × digitsB multiplication in the paper's format as a new dataset: seeded train/valid/test splits that never share a pair, none of them in the excludePaths files.",
    input: z
      .strictObject({
        digitsA: multDigits(),
        digitsB: multDigits(),
        counts: z.strictObject({ train: exampleCount(), valid: exampleCount(), test: exampleCount() }),
        seed: z.int({ error: 'must be an integer from 0 to 4294967295' }).min(0, { error: 'must be an integer from 0 to 4294967295' }).max(4294967295, { error: 'must be an integer from 0 to 4294967295' }),
        excludePaths: z.array(absolutePath(), { error: 'must be an array of absolute paths' }).max(100, { error: 'must name at most 100 files' }).optional(),
        name: text(200),
      })
      .refine((v) => v.counts.train + v.counts.valid + v.counts.test > 0, { error: 'counts must ask for at least one example', path: ['counts'] }),
  },
  'datasets.examples': {
    summary: "A page of one split's examples, in file order.",
    input: z.strictObject({ id: id(), split: datasetSplit(), ...pagination }),
  },

  'runs.list': {
    summary:
      'Runs, newest first, optionally filtered by status, method, tag and a text in their name; ' +
      "with `summary`, each run carries those metrics' last values (e.g. [\"val_accuracy\", \"test_accuracy\"]).",
    input: z
      .strictObject({
        status: z.enum(RUN_STATUSES, { error: `must be one of ${RUN_STATUSES.join(', ')}` }).optional(),
        method: methodId().optional(),
        tag: tag().optional(),
        search: z.string({ error: 'must be a string' }).max(200, { error: 'must be at most 200 characters' }).optional(),
        summary: z.array(metricKey(), { error: 'must be a list of metric keys' }).max(20, { error: 'must name at most 20 metrics' }).optional(),
        ...pagination,
      })
      .default({ limit: 100, offset: 0 }),
  },
  'runs.tags': {
    summary: 'Every tag in use, with how many runs carry it, most used first.',
    input: empty(),
  },
  'runs.metricKeys': {
    summary: 'Every metric key any run has recorded, with how many runs have it (for choosing the runs table\'s columns).',
    input: empty(),
  },
  'runs.get': {
    summary: 'One run.',
    input: z.strictObject({ id: id() }),
  },
  'runs.create': {
    summary: "Create a run in status 'queued', after the checks runs.start makes (config, files, data and model), so a queued run can start.",
    input: z.strictObject({
      method: methodId(),
      name: text(200),
      config: jsonObject(),
      parentRunId: id().nullable().optional(),
    }),
  },
  'runs.update': {
    summary:
      "Rename a run, or change its notes or tags (tags replace the run's list), or a queued run's config (checked as runs.start checks it).",
    input: z
      .strictObject({
        id: id(),
        name: text(200).optional(),
        notes: z.string({ error: 'must be a string' }).max(20_000, { error: 'must be at most 20000 characters' }).optional(),
        tags: z.array(tag(), { error: 'must be a list of tags' }).max(20, { error: 'must hold at most 20 tags' }).optional(),
        config: jsonObject().optional(),
      })
      .refine((v) => v.name !== undefined || v.notes !== undefined || v.tags !== undefined || v.config !== undefined, {
        error: 'give name, notes, tags or config to change',
      }),
  },
  'runs.delete': {
    summary: "Delete a run that is not running, with its metrics, logs, checkpoints and their files; answers the bytes freed.",
    input: z.strictObject({ id: id() }),
  },
  'runs.start': {
    summary:
      'Start a run: a queued one by `id`, or a new one from method, name and config (created and started at once). ' +
      'The config is checked first (relative file paths are inside the data folder); a bad one names every wrong field and starts nothing.',
    input: z
      .strictObject({
        id: id().optional(),
        method: methodId().optional(),
        name: text(200).optional(),
        config: jsonObject().optional(),
        parentRunId: id().nullable().optional(),
      })
      .refine(
        (v) =>
          v.id !== undefined
            ? v.method === undefined && v.name === undefined && v.config === undefined && v.parentRunId === undefined
            : v.method !== undefined && v.name !== undefined && v.config !== undefined,
        { error: 'give id (to start a queued run), or method, name and config (to create and start one), not both' },
      ),
  },
  'runs.estimate': {
    summary:
      'What a run would take before it runs: parameters, memory (weights, optimizer state, activations at its batch), steps, and, with measure, ' +
      'seconds from a short warm-up on this machine; with a verdict (ok, confirm, refuse) and its reasons. The config is checked as runs.start checks it.',
    input: z.strictObject({
      method: methodId(),
      config: jsonObject(),
      measure: z.boolean({ error: 'must be true or false' }).default(false),
    }),
  },
  'runs.pause': {
    summary: "Pause a running run between two steps; its status stays 'running' and run.status / run.progress say paused.",
    input: z.strictObject({ id: id() }),
  },
  'runs.resume': {
    summary: 'Resume a paused run, or continue a failed (interrupted) or cancelled run from its latest checkpoint.',
    input: z.strictObject({ id: id() }),
  },
  'runs.cancel': {
    summary: "Cancel a run: a running one stops after its current step, keeps a checkpoint and ends 'cancelled' (runs.resume continues it); a queued one is cancelled at once.",
    input: z.strictObject({ id: id() }),
  },
  'runs.predictions': {
    summary:
      "A page of a run's predictions on one split ('valid' by default) at one step (default: the latest), with every evaluation of that split and the splits the run has.",
    input: z.strictObject({
      runId: id(),
      split: text(100).default('valid'),
      step: nonNegativeInt().optional(),
      ...pagination,
    }),
  },
  'runs.metrics': {
    summary: "A run's metric series for plotting; all keys unless `keys` is given; optional step range (inclusive).",
    input: z
      .strictObject({
        runId: id(),
        keys: z.array(text(200), { error: 'must be an array of metric names' }).max(100, { error: 'must name at most 100 keys' }).optional(),
        fromStep: nonNegativeInt().optional(),
        toStep: nonNegativeInt().optional(),
      })
      .refine((v) => v.fromStep === undefined || v.toStep === undefined || v.fromStep <= v.toStep, {
        error: 'fromStep must not be greater than toStep',
        path: ['fromStep'],
      }),
  },
  'runs.logs': {
    summary: "A run's log lines in order, those with id greater than `afterId` (0 = from the start).",
    input: z.strictObject({
      runId: id(),
      afterId: nonNegativeInt().default(0),
      limit: limit(5000).default(500),
    }),
  },

  'checkpoints.list': {
    summary: "A run's checkpoints by step.",
    input: z.strictObject({ runId: id() }),
  },

  // Each method area keeps its procedures in its own file (./areas/).
  ...finetuneProcedures,
  ...probeProcedures,
  ...adapterProcedures,
  ...libraryProcedures,
  ...jobsProcedures,
  ...coconutProcedures,
} as const;

/** What each procedure answers. */
export interface ProcedureOutputs extends FinetuneOutputs, ProbeOutputs, AdapterOutputs, LibraryOutputs, JobsOutputs, CoconutOutputs {
  'app.info': AppInfo;
  'methods.list': { items: MethodInfo[] };
  'models.list': Page<Model>;
  'models.get': Model;
  'models.delete': { id: number; bytesFreed: number };
  'datasets.list': Page<Dataset>;
  'datasets.get': Dataset;
  'datasets.update': Dataset;
  'datasets.delete': { id: number; bytesFreed: number };
  'datasets.import': Dataset;
  'datasets.generateMult': Dataset;
  'datasets.examples': Page<DatasetExample>;
  'runs.list': Page<Run>;
  'runs.tags': { items: { tag: string; runs: number }[] };
  'runs.metricKeys': { items: { key: string; runs: number }[] };
  'runs.get': Run;
  'runs.create': Run;
  'runs.update': Run;
  'runs.delete': { id: number; bytesFreed: number };
  'runs.start': Run;
  'models.evaluate': ModelEvaluation;
  'models.cancelEvaluation': { cancelled: boolean };
  /** null for a method that does not say what it trains (a run-time method without a plan). */
  'runs.estimate': RunEstimate | null;
  'runs.pause': Run;
  'runs.resume': Run;
  'runs.cancel': Run;
  'runs.predictions': {
    runId: number;
    split: string;
    /** The step shown; null when the split has no predictions. */
    step: number | null;
    items: Prediction[];
    /** Examples evaluated at that step, and how many were right. */
    total: number;
    correct: number;
    /** Every evaluation of the split, by step. */
    evaluations: { step: number; total: number; correct: number }[];
    /** The splits the run has predictions for. */
    splits: string[];
  };
  'runs.metrics': { runId: number; series: MetricSeries[] };
  'runs.logs': { items: LogEvent[]; /** pass as `afterId` to get the next lines */ lastId: number };
  'checkpoints.list': { items: Checkpoint[] };
}

export type ProcedureName = keyof typeof procedures;
/** What a caller sends (defaults may be left out). */
export type ProcedureInput<N extends ProcedureName> = z.input<(typeof procedures)[N]['input']>;
/** What a handler receives, after validation and defaults. */
export type ValidInput<N extends ProcedureName> = z.output<(typeof procedures)[N]['input']>;
export type ProcedureOutput<N extends ProcedureName> = ProcedureOutputs[N];

export const PROCEDURE_NAMES = Object.keys(procedures) as ProcedureName[];

export function isProcedureName(name: string): name is ProcedureName {
  return Object.hasOwn(procedures, name);
}
