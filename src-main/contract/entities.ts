/**
 * The records that cross the boundary between main and renderer.
 *
 * These are plain JSON-able objects: numbers, strings, arrays, null. Times are
 * milliseconds since the Unix epoch (what `Date.now()` gives), so a chart can
 * use them directly. Paths are relative to the data folder; the renderer never
 * reads files itself.
 */

/** A training method's id, e.g. 'icot-si' (`methods.list` lists the lab's methods; src-main/methods/index.ts defines them). */
export type RunMethod = string;

/** A method as `methods.list` describes it to the renderer. */
export interface MethodInfo {
  id: RunMethod;
  /** As people write it, e.g. "ICoT-SI". */
  title: string;
  /** One line: what the method does. */
  hint: string;
  capabilities: {
    /** It can start from a new model of the config's shape. */
    freshModel: boolean;
    /** It can start from a Library model folder. */
    libraryModel: boolean;
    /** The model families it trains. */
    families: ('gpt2' | 'llama')[];
    /** It removes CoT tokens on a curriculum. */
    curriculum: boolean;
    /** It trains adapters on a frozen base. */
    adapters: boolean;
    /** It scores validation and test splits and stores the predictions. */
    predictions: boolean;
  };
}

/** A run's life: queued → running → completed | failed | cancelled. */
export const RUN_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** How a Fine-tune-CoT task's answers are compared. */
export const FT_ANSWER_TYPES = ['number', 'choice', 'yes-no', 'text'] as const;
/** The synthetic Fine-tune-CoT tasks Stepwise generates. */
export const FT_GENERATED_TASKS = ['last-letters', 'coin-flip', 'shuffled-objects', 'arithmetic'] as const;

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Any JSON object: run configs, model architectures, provenance. */
export type JsonObject = { [key: string]: JsonValue };
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;

export interface Model {
  id: number;
  name: string;
  /** e.g. { family: 'gpt2', nLayer: 2, nHead: 4, nEmbd: 32, vocabSize: 20, blockSize: 32 } */
  architecture: JsonObject;
  paramCount: number;
  /** Folder or file holding the weights, relative to the data folder. */
  path: string;
  bytesOnDisk: number;
  /** Where the weights came from, e.g. { kind: 'trained', runId: 7 } or { kind: 'imported', from: '/home/…/gpt2' }. */
  source: JsonObject;
  /** The run that produced it, if any (null once that run is deleted). */
  runId: number | null;
  createdAt: number;
}

export interface Dataset {
  id: number;
  name: string;
  /** e.g. 'multiplication', 'gsm8k-aug', 'fine-tune-cot' */
  kind: string;
  /** sha256 of the dataset's files, hex. */
  contentHash: string;
  /** Examples per split, e.g. { train: 808000, valid: 1000, test: 1000 }. */
  splitCounts: Record<string, number>;
  /** Folder holding the dataset, relative to the data folder. */
  path: string;
  /** The first few examples, as the user would read them. */
  preview: string[];
  createdAt: number;
}

/** The splits a dataset can have. */
export const DATASET_SPLITS = ['train', 'valid', 'test'] as const;
export type DatasetSplit = (typeof DATASET_SPLITS)[number];

/** One example of a dataset: the input, its chain of thought (may be empty) and the answer (without `####`). */
export interface DatasetExample {
  input: string;
  cot: string;
  answer: string;
}

export interface Run {
  id: number;
  method: RunMethod;
  name: string;
  /** The run's whole configuration, stored as given. */
  config: JsonObject;
  status: RunStatus;
  notes: string;
  /** Short labels the user gives runs (e.g. "baseline", "seed sweep"), for filtering. */
  tags: string[];
  /** The run this one continues from (e.g. ICoT-SI after explicit CoT), if any. */
  parentRunId: number | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** Why it failed, in words a user can act on; null unless status is 'failed'. */
  error: string | null;
  /** Present while the run's job runs in this process: whether it is paused (its status stays 'running'). */
  paused?: boolean;
  /** Present when runs.list was asked for `summary` keys: each key's last recorded value (null: none). */
  summary?: Record<string, number | null>;
  /** Present when the run was trained elsewhere and imported (jobs.import): where, on what, for how long. */
  origin?: JobOrigin;
}

/** Where a run imported from a cluster job folder (docs/JOB-FORMAT.md) was trained, as its job.json and out/run.json said at import. */
export interface JobOrigin {
  kind: 'cluster-job';
  /** The job's identity: a digest of its job.json, the same for every import of one job folder (or a copy of it). */
  jobId: string;
  /** The job folder it was imported from, on the machine that imported it. */
  folder: string;
  /** The run the job was exported from, in the lab (data folder) that exported it. */
  parent: { runId: number; name: string; lab: string };
  exported: { at: string; stepwise: string; commit: string | null };
  /** The job's own status at import: 'running' for a job still going, or stopped before its end. */
  status: 'running' | 'completed' | 'failed';
  /** Last finished step and epoch. */
  step: number;
  epoch: number | null;
  /** The host name of rank 0. */
  machine: string;
  /** Processes (ranks) the job ran as. */
  worldSize: number;
  gpus: { count: number; name: string | null };
  wallSeconds: number;
  /** ISO times from out/run.json. */
  started: string;
  ended: string | null;
  torch: string;
  python: string;
  importedAt: number;
}

/** One metric's values over steps, columnar so a chart takes it as is. */
export interface MetricSeries {
  key: string;
  steps: number[];
  /** null where the value was not finite (NaN, ±Infinity): JSON cannot carry those. */
  values: (number | null)[];
  wallTimes: number[];
}

export interface Checkpoint {
  id: number;
  runId: number;
  step: number;
  /** Relative to the data folder. */
  path: string;
  bytes: number;
  createdAt: number;
}

export interface LogEvent {
  id: number;
  runId: number;
  ts: number;
  level: LogLevel;
  message: string;
}

/** One evaluated example of a run: what the model was given, what it wrote, and whether it was right. */
export interface Prediction {
  runId: number;
  /** 'valid' and 'test' during training; `stepwise eval` stores e.g. 'eval:test.txt'. */
  split: string;
  /** The training step whose weights answered. */
  step: number;
  /** Position of the example in its file. */
  index: number;
  input: string;
  /** The gold answer. */
  target: string;
  /** Everything the model generated after the prompt, decoded. */
  generated: string;
  /** The answer parsed from the generation (after '####'); null when it wrote none. */
  answer: string | null;
  correct: boolean;
  /** Chain-of-thought tokens generated before the answer (0 = fully internalized). */
  cotTokens: number | null;
}

/** An ONNX Runtime execution provider and whether this build ships it. */
export interface ExecutionProvider {
  name: string;
  /** false: the provider exists in ONNX Runtime but its libraries are not installed (see README, "GPU"). */
  bundled: boolean;
  /** Whether a run can use it here: shipped, and for WebGPU an adapter found. */
  usable: boolean;
  /** Why it cannot be used, when it cannot. */
  reason?: string;
}

/** The GPU adapter WebGPU would train on (engine/gpu-adapter.ts). */
export interface GpuAdapter {
  found: boolean;
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  /** A software implementation (SwiftShader, WARP): correct, but no GPU. */
  software?: boolean;
  maxStorageBuffersPerShaderStage?: number;
  /** Why there is none. */
  reason?: string;
  /** One line: "nvidia ampere, NVIDIA RTX 3060 (hardware GPU)". */
  summary: string;
}

export interface AppInfo {
  appVersion: string;
  dataDir: string;
  schemaVersion: number;
  onnxRuntimeVersion: string;
  executionProviders: ExecutionProvider[];
  /** The WebGPU adapter found here, or why there is none. */
  gpu: GpuAdapter;
}

/** A page of a list. `total` counts every row matching the filters, not just this page. */
export interface Page<T> {
  items: T[];
  total: number;
}

/** What a run's estimate says of starting it: go ahead, ask the user first, or refuse. */
export type Verdict = 'ok' | 'confirm' | 'refuse';

/** What a run will take before it runs (runs.estimate; methods/shared/estimate.ts computes it). */
export interface RunEstimate {
  parameters: { total: number; trainable: number };
  /** Bytes. */
  memory: { weights: number; optimizer: number; activations: number; total: number };
  /** What this machine has, in bytes. */
  machineMemory: number;
  steps: number;
  /** Tokens a step reads at most (batch × longest sequence). */
  tokensPerStep: number;
  /** From the warm-up; null when it was not measured (not asked, or too large to measure quickly). */
  secondsPerStep: number | null;
  /** The whole run's training steps at the measured speed (evaluations add to it); null when not measured. */
  seconds: number | null;
  /** How the time was found, or why it was not. */
  timing: string;
  /** ok: start; confirm: the user should agree first (each reason says why); refuse: it cannot run here. */
  verdict: Verdict;
  reasons: string[];
}

/** A Library model scored on a dataset's split (models.evaluate), as `stepwise eval` scores it. */
export interface ModelEvaluation {
  /** What was evaluated, in words: "run 3, best model (step 120)". */
  model: string;
  accuracy: number;
  correct: number;
  total: number;
  meanCotTokens: number;
  examplesPerS: number;
  batchSize: number;
  /** Where the predictions were stored; null for a model (a folder) that belongs to no run. */
  stored: { runId: number; split: string; step: number } | null;
}
