/**
 * Fine-tune-CoT: tasks, teachers, rationale generation, students and results (issue 6).
 *
 * Spread into the contract's procedures (../procedures.ts); field schemas come
 * from ../fields.ts. Additive only, like the rest of the contract.
 *
 * Tasks are datasets (kind 'fine-tune-cot', a `task.json` naming the task and
 * its answer type beside `train.jsonl` / `test.jsonl`); students are runs of
 * method 'fine-tune-cot' (runs.start with a Fine-tune-CoT config). A teacher
 * is described without its key: an HTTP teacher names a key by `keyName`,
 * looked up in the desktop app's key store, else as an environment variable.
 */
import { z } from 'zod';
import type { Dataset, JsonObject, Page, RunStatus } from '../entities.ts';
import { absolutePath, datasetSplit, exampleCount, id, limit, nonNegativeInt, pagination, text } from '../fields.ts';
import type { ProcedureSpec } from '../fields.ts';

import { FT_ANSWER_TYPES, FT_GENERATED_TASKS } from '../entities.ts';

export { FT_ANSWER_TYPES, FT_GENERATED_TASKS };

const answerType = () => z.enum(FT_ANSWER_TYPES, { error: `must be one of ${FT_ANSWER_TYPES.join(', ')}` });

export const teacherSchema = () =>
  z.discriminatedUnion(
    'kind',
    [
      z.strictObject({ kind: z.literal('library'), modelId: id() }),
      z.strictObject({
        kind: z.literal('openai'),
        baseUrl: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL, e.g. http://127.0.0.1:11434/v1' }),
        model: text(200),
        api: z.enum(['completions', 'chat'], { error: 'must be completions or chat' }).default('completions'),
        /** A stored key's name (desktop) or an environment variable holding the key; the key itself is never stored. */
        keyName: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,99}$/, { error: 'must be a key or environment variable name (letters, digits, _ . -)' }).optional(),
        concurrency: limit(64).default(4),
        timeoutMs: z.int({ error: 'must be an integer from 1000 to 600000' }).min(1000, { error: 'must be an integer from 1000 to 600000' }).max(600_000, { error: 'must be an integer from 1000 to 600000' }).default(60_000),
        maxRetries: z.int({ error: 'must be an integer from 0 to 10' }).min(0, { error: 'must be an integer from 0 to 10' }).max(10, { error: 'must be an integer from 0 to 10' }).default(4),
      }),
    ],
    { error: 'must be {kind: "library", modelId} or {kind: "openai", baseUrl, model, …}' },
  );

export const finetuneProcedures = {
  'finetune.importTask': {
    summary:
      "Import a task file as a Fine-tune-CoT task: the paper's tasks/*.jsonl (with splits and teacher rationales) or teacher/*.jsonl, any JSONL with question and answer (rationale, split optional), or CSV with those columns. The answer type comes from the paper's task names, else give it.",
    input: z.strictObject({ path: absolutePath(), name: text(200), task: text(100).optional(), answerType: answerType().optional() }),
  },
  'finetune.generateTask': {
    summary: 'Generate a task (Last Letter Concatenation, Coin Flip, Tracking Shuffled Objects with three objects, multi-digit addition) with a reference rationale per question.',
    input: z.strictObject({
      kind: z.enum(FT_GENERATED_TASKS, { error: `must be one of ${FT_GENERATED_TASKS.join(', ')}` }),
      counts: z.strictObject({ train: exampleCount(), test: exampleCount() }),
      seed: nonNegativeInt().default(0),
      size: z.int({ error: 'must be an integer from 1 to 12' }).min(1, { error: 'must be an integer from 1 to 12' }).max(12, { error: 'must be an integer from 1 to 12' }).optional(),
      /** arithmetic: how many numbers are added (default 2). */
      terms: z.int({ error: 'must be an integer from 2 to 12' }).min(2, { error: 'must be an integer from 2 to 12' }).max(12, { error: 'must be an integer from 2 to 12' }).optional(),
      /** arithmetic: ask for the last digit of the sum only; the rationale keeps a running last digit. */
      lastDigit: z.boolean({ error: 'must be true or false' }).optional(),
      name: text(200),
    }).refine((v) => v.counts.train + v.counts.test > 0, { error: 'counts must ask for at least one example', path: ['counts'] }),
  },
  'finetune.testTeacher': {
    summary: "Check a teacher: one short completion of a Zero-shot-CoT prompt, with its latency and token counts (or the endpoint's error).",
    input: z.strictObject({ teacher: teacherSchema() }),
  },
  'finetune.generate': {
    summary:
      "Generate rationales with Zero-shot-CoT for one split of a task: D samples per question at temperature T, each kept only if the teacher's answer matches the gold one (duplicates dropped). Runs in the background; finetune.progress reports it, and the kept rationales become a dataset when it completes.",
    input: z.strictObject({
      datasetId: id(),
      split: datasetSplit().default('train'),
      name: text(200),
      teacher: teacherSchema(),
      samples: limit(64).default(1),
      /** Default: 0 for one sample, 0.7 for several (the paper's). */
      temperature: z.number({ error: 'must be a number from 0 to 2' }).min(0, { error: 'must be a number from 0 to 2' }).max(2, { error: 'must be a number from 0 to 2' }).optional(),
      maxTokens: limit(4096).default(128),
      answerMaxTokens: limit(512).default(32),
      /** Stage 1 stops at these; default ["\nTherefore"]. */
      stop: z.array(z.string().min(1).max(100)).max(4).optional(),
      concurrency: limit(64).default(4),
      seed: nonNegativeInt().default(0),
      /** Only the first N questions of the split. */
      limit: limit(1_000_000).optional(),
    }),
  },
  'finetune.generations': {
    summary: 'Rationale generation jobs, newest first, with their counts.',
    input: z.strictObject(pagination).default({ limit: 100, offset: 0 }),
  },
  'finetune.generation': {
    summary: 'One rationale generation job with its counts.',
    input: z.strictObject({ id: id() }),
  },
  'finetune.cancelGeneration': {
    summary: 'Stop a running generation job after the samples in flight; finetune.resumeGeneration continues it, skipping what is stored.',
    input: z.strictObject({ id: id() }),
  },
  'finetune.resumeGeneration': {
    summary: 'Continue a cancelled, failed or interrupted generation job: samples already stored are skipped, nothing is generated twice.',
    input: z.strictObject({ id: id() }),
  },
  'finetune.rationales': {
    summary: "A page of a generation job's samples (all, kept or filtered; optionally one reason), by question and sample.",
    input: z.strictObject({
      generationId: id(),
      filter: z.enum(['all', 'kept', 'filtered'], { error: 'must be all, kept or filtered' }).default('all'),
      reason: text(100).optional(),
      ...pagination,
    }),
  },
  'finetune.results': {
    summary:
      "Per task, on the paper's test split: the teacher's Zero-shot-CoT accuracy, vanilla fine-tuning, Fine-tune-CoT and Fine-tune-CoT with diverse reasoning (the latest completed run of each), beside the paper's numbers where it reports that setting.",
    input: z.strictObject({}).default({}),
  },
  'finetune.setKey': {
    summary: "Keep an API key under a name in the desktop app's key store (encrypted with the system keychain); the CLI and `stepwise serve` read keys from environment variables instead.",
    input: z.strictObject({ name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,99}$/, { error: 'must be a name of letters, digits, _ . -' }), key: z.string().min(1).max(4096) }),
  },
  'finetune.keys': {
    summary: 'The names of the stored API keys (never the keys), and whether this lab can store keys.',
    input: z.strictObject({}).default({}),
  },
} as const satisfies Record<string, ProcedureSpec>;

/** A rationale generation job with its counts. */
export interface FtCotGeneration {
  id: number;
  name: string;
  /** The task's dataset (null once deleted). */
  datasetId: number | null;
  split: string;
  task: string;
  answerType: string;
  /** The teacher's description (never its key). */
  teacher: JsonObject;
  /** samples (D), temperature (T), token budgets, stop strings, concurrency, seed. */
  settings: JsonObject;
  status: RunStatus;
  /** Questions × D. */
  total: number;
  done: number;
  kept: number;
  filtered: number;
  /** Samples per reason: kept, wrong answer, no answer, duplicate, empty rationale. */
  byReason: Record<string, number>;
  promptTokens: number;
  completionTokens: number;
  /** Share of samples whose answer matched the gold one (kept or duplicate); null before any. */
  teacherAccuracy: number | null;
  error: string | null;
  /** The dataset of kept rationales (train) and the task's test split, once completed. */
  outputDatasetId: number | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

/** One sample a teacher wrote, with its provenance. */
export interface FtCotRationale {
  generationId: number;
  /** The question's position in its task split. */
  index: number;
  sample: number;
  question: string;
  gold: string;
  /** Stage 1's prompt. */
  prompt: string;
  rationale: string;
  /** Stage 2's trigger (the full prompt is stage2Prompt(question, rawRationale, trigger)). */
  answerPrompt: string;
  /** What the teacher wrote in stage 2. */
  answerText: string;
  answer: string | null;
  kept: boolean;
  reason: string;
  temperature: number;
  promptTokens: number;
  completionTokens: number;
  createdAt: number;
}

/** One cell of the results table: an accuracy on the test split and where it came from. */
export interface FtCotResultCell {
  accuracy: number;
  correct: number;
  total: number;
  runId?: number;
  generationId?: number;
  samples?: number;
}

export interface FtCotResultRow {
  task: string;
  answerType: string;
  teacher: FtCotResultCell | null;
  vanilla: FtCotResultCell | null;
  ftCot: FtCotResultCell | null;
  diverse: FtCotResultCell | null;
  /** The paper's numbers for this task, where it reports them (percent). */
  paper: { teacher?: number; vanilla?: number; ftCot?: number; student?: string } | null;
}

/** What each of these procedures answers. */
export interface FinetuneOutputs {
  'finetune.importTask': Dataset;
  'finetune.generateTask': Dataset;
  'finetune.testTeacher': { text: string; latencyMs: number; promptTokens: number; completionTokens: number; teacher: string };
  'finetune.generate': FtCotGeneration;
  'finetune.generations': Page<FtCotGeneration>;
  'finetune.generation': FtCotGeneration;
  'finetune.cancelGeneration': FtCotGeneration;
  'finetune.resumeGeneration': FtCotGeneration;
  'finetune.rationales': Page<FtCotRationale>;
  'finetune.results': { rows: FtCotResultRow[] };
  'finetune.setKey': { name: string; stored: true };
  'finetune.keys': { names: string[]; canStore: boolean };
}
