/**
 * Reading a cluster job folder (docs/JOB-FORMAT.md, format version 1) as a
 * run's records, without touching the lab: job.json (what was exported),
 * out/run.json (how far the job got, where, on what), out/metrics.jsonl,
 * out/predictions/<split>-<step>.jsonl, out/checkpoints/step-<N>/ and
 * out/best/. Every problem names the file (and the line) and what was
 * expected; nothing here writes.
 *
 * A job killed mid-way leaves what it finished: checkpoints without their
 * weights yet (a copy cut short) are passed over, and a last metrics or
 * predictions line cut off mid-write (no newline after it) is dropped while
 * the job had not ended. Both are reported as warnings.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export const JOB_FORMAT = 'stepwise-job';
export const JOB_RUN_FORMAT = 'stepwise-job-run';
/** The job folder format this Stepwise reads and writes. */
export const JOB_FORMAT_VERSION = 1;

/** A job folder that cannot be imported: `file` is the path of what is wrong, `line` (1-based) where a line is. */
export class JobFolderError extends Error {
  override name = 'JobFolderError';
  readonly file: string;
  readonly problem: string;
  readonly line: number | undefined;
  constructor(file: string, problem: string, line?: number) {
    super(`${file}${line !== undefined ? ` line ${line}` : ''}: ${problem}`);
    this.file = file;
    this.problem = problem;
    this.line = line;
  }
}

const isoTime = z.string({ error: 'must be an ISO time' }).refine((s) => !Number.isNaN(Date.parse(s)), { error: 'must be an ISO time, e.g. 2026-12-08T00:10:00Z' });
const count = z.int({ error: 'must be a whole number' }).nonnegative({ error: 'must be 0 or more' });

const jobSchema = z.object({
  format: z.literal(JOB_FORMAT),
  version: z.int({ error: 'must be a whole number' }),
  method: z.string({ error: 'must name the method, e.g. "icot-si"' }).min(1, { error: 'must name the method, e.g. "icot-si"' }),
  parent: z.object({
    runId: z.int({ error: 'must be the id of the run it was exported from' }).positive({ error: 'must be the id of the run it was exported from' }),
    name: z.string({ error: 'must be a string' }),
    lab: z.string({ error: 'must be the data folder the run came from' }),
  }),
  config: z.record(z.string(), z.unknown(), { error: 'must be the run configuration (an object)' }),
  exported: z.object({ at: isoTime, stepwise: z.string({ error: 'must be a string' }), commit: z.string({ error: 'must be a string or null' }).nullable() }),
});
export type JobFile = z.infer<typeof jobSchema>;

const runSchema = z.object({
  format: z.literal(JOB_RUN_FORMAT),
  version: z.int({ error: 'must be a whole number' }),
  status: z.enum(['running', 'completed', 'failed'], { error: 'must be running, completed or failed' }),
  started: isoTime,
  ended: isoTime.nullable(),
  wallSeconds: z.number({ error: 'must be a number of seconds' }).nonnegative({ error: 'must be 0 or more' }),
  step: count,
  epoch: count.nullable(),
  machine: z.string({ error: 'must be the host name' }),
  worldSize: z.int({ error: 'must be a whole number' }).positive({ error: 'must be 1 or more' }),
  gpus: z.object({ count, name: z.string({ error: 'must be a string or null' }).nullable() }),
  torch: z.string({ error: 'must be a string' }),
  python: z.string({ error: 'must be a string' }),
  jobCommit: z.string({ error: 'must be a string or null' }).nullable().optional(),
  error: z.string({ error: 'must be a string or null' }).nullable().optional(),
});
export type JobRunFile = z.infer<typeof runSchema>;

/** A JSON number, or null where the job wrote NaN or ±Infinity. */
const metricValue = z.number({ error: 'must be a number' }).nullable();
const metricLine = z.object({
  step: count,
  values: z.record(z.string().min(1, { error: 'a metric name must not be empty' }), metricValue, { error: 'must map metric names to numbers' }),
  time: z.number({ error: 'must be the time in ms since the epoch' }),
});

const predictionLine = z.object({
  index: count,
  input: z.string({ error: 'must be a string' }),
  target: z.string({ error: 'must be a string' }),
  generated: z.string({ error: 'must be a string' }),
  answer: z.string({ error: 'must be a string or null' }).nullable().optional(),
  correct: z.boolean({ error: 'must be true or false' }),
  cotTokens: count.nullable().optional(),
});

export interface MetricRecord {
  step: number;
  /** NaN where the job wrote null (a value that was not finite). */
  values: Record<string, number>;
  time: number;
}

export interface PredictionRecord {
  index: number;
  input: string;
  target: string;
  generated: string;
  answer: string | null;
  correct: boolean;
  cotTokens: number | null;
}

export interface JobCheckpoint {
  step: number;
  /** Absolute. */
  dir: string;
}

/** What a job folder holds, read and checked. */
export interface JobFolder {
  /** Absolute. */
  dir: string;
  /** A digest of job.json: one job, however often (or wherever) it is imported. */
  jobId: string;
  job: JobFile;
  run: JobRunFile;
  metrics: MetricRecord[];
  predictions: { split: string; step: number; file: string; rows: PredictionRecord[] }[];
  /** Complete checkpoints, by step. */
  checkpoints: JobCheckpoint[];
  /** out/best/ when it holds a model or adapters. */
  best: string | null;
  /** What was passed over, in words. */
  warnings: string[];
}

/** The first problems zod found, as "field: what" (the file is named by the caller). */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : 'the value'} ${issue.message.replace(/^Invalid input: /, 'must be ')}`)
    .join('; ');
}

function readJsonFile(file: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new JobFolderError(file, code === 'ENOENT' ? `missing: ${what}` : `cannot be read (${(error as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new JobFolderError(file, `is not valid JSON (${(error as Error).message})`);
  }
}

/** job.json's format and version first, so a newer or foreign folder is refused for what it is, not for a field it lacks. */
function checkFormat(file: string, value: unknown, format: string): void {
  const v = value as { format?: unknown; version?: unknown } | null;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new JobFolderError(file, 'must hold a JSON object');
  if (v.format !== format) throw new JobFolderError(file, `is not a Stepwise job file: its "format" is ${JSON.stringify(v.format ?? null)}, expected "${format}"`);
  if (typeof v.version === 'number' && v.version > JOB_FORMAT_VERSION) {
    throw new JobFolderError(file, `is job format version ${v.version}, written by a newer Stepwise; this Stepwise reads version ${JOB_FORMAT_VERSION}. Update Stepwise to import it.`);
  }
  if (v.version !== JOB_FORMAT_VERSION) throw new JobFolderError(file, `has "version" ${JSON.stringify(v.version ?? null)}; this Stepwise reads version ${JOB_FORMAT_VERSION}`);
}

/** Python's json writes NaN and ±Infinity bare: read them as null (not finite), outside strings only. */
function parseJsonLine(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (first) {
    const lenient = text.replace(/("(?:[^"\\]|\\.)*")|(-?Infinity|NaN)/g, (m, quoted: string | undefined) => (quoted ? m : 'null'));
    if (lenient === text) throw first;
    return JSON.parse(lenient);
  }
}

/**
 * The records of a JSONL file, each checked by `read`. A last line without its
 * newline is a write cut short: dropped (with a warning) when `unfinishedOk`,
 * else an error like any other bad line.
 */
function readJsonLines<T>(file: string, unfinishedOk: boolean, warnings: string[], read: (value: unknown) => T): T[] {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const cutShort = !text.endsWith('\n') && text.length > 0;
  const out: T[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    const last = i === lines.length - 1;
    let value: unknown;
    try {
      value = parseJsonLine(line);
    } catch (error) {
      if (last && cutShort && unfinishedOk) {
        warnings.push(`${file} line ${i + 1} was cut off mid-write and is left out`);
        continue;
      }
      throw new JobFolderError(file, `is not a JSON object (${(error as Error).message})`, i + 1);
    }
    try {
      out.push(read(value));
    } catch (error) {
      if (error instanceof z.ZodError) throw new JobFolderError(file, describeIssues(error), i + 1);
      throw error;
    }
  }
  return out;
}

const WEIGHTS = ['model.safetensors', 'model.safetensors.index.json', 'adapter_model.safetensors'];

/** Whether a folder holds a model or adapters in Hugging Face layout, weights included (a Bitune checkpoint: a set per folder, `default` always). */
function holdsWeights(dir: string): boolean {
  const has = (f: string) => fs.existsSync(path.join(dir, f));
  return ((has('config.json') || has('adapter_config.json')) && WEIGHTS.some(has)) || (has('default/adapter_config.json') && has('default/adapter_model.safetensors'));
}

export function readJobFolder(folder: string): JobFolder {
  const dir = path.resolve(folder);
  if (!fs.existsSync(dir)) throw new JobFolderError(dir, 'no such folder');
  if (!fs.statSync(dir).isDirectory()) throw new JobFolderError(dir, 'is a file; expected a job folder (job.json, out/)');
  const warnings: string[] = [];

  const jobFile = path.join(dir, 'job.json');
  const jobBytes = (() => {
    try {
      return fs.readFileSync(jobFile);
    } catch {
      throw new JobFolderError(jobFile, 'missing: is this a job folder that `stepwise export-job` wrote?');
    }
  })();
  const rawJob = readJsonFile(jobFile, 'job.json');
  checkFormat(jobFile, rawJob, JOB_FORMAT);
  const jobParsed = jobSchema.safeParse(rawJob);
  if (!jobParsed.success) throw new JobFolderError(jobFile, describeIssues(jobParsed.error));

  const out = path.join(dir, 'out');
  const runFile = path.join(out, 'run.json');
  const rawRun = readJsonFile(runFile, 'the job has not started yet (train.py writes out/run.json at its start); there is nothing to import');
  checkFormat(runFile, rawRun, JOB_RUN_FORMAT);
  const runParsed = runSchema.safeParse(rawRun);
  if (!runParsed.success) throw new JobFolderError(runFile, describeIssues(runParsed.error));
  const run = runParsed.data;
  const unfinishedOk = run.status !== 'completed';

  const metricsFile = path.join(out, 'metrics.jsonl');
  const metrics = fs.existsSync(metricsFile)
    ? readJsonLines(metricsFile, unfinishedOk, warnings, (value) => {
        const m = metricLine.parse(value);
        return { step: m.step, time: Math.round(m.time), values: Object.fromEntries(Object.entries(m.values).map(([k, v]) => [k, v ?? NaN])) };
      })
    : [];

  const predictions: JobFolder['predictions'] = [];
  const predictionsDir = path.join(out, 'predictions');
  if (fs.existsSync(predictionsDir)) {
    for (const name of fs.readdirSync(predictionsDir).sort()) {
      const m = /^(.+)-(\d+)\.jsonl$/.exec(name);
      if (!m) continue; // a temporary file, or not the job's
      const file = path.join(predictionsDir, name);
      const rows = readJsonLines(file, unfinishedOk, warnings, (value) => {
        const p = predictionLine.parse(value);
        return { ...p, answer: p.answer ?? null, cotTokens: p.cotTokens ?? null };
      });
      predictions.push({ split: m[1], step: Number(m[2]), file, rows });
    }
  }

  const checkpoints: JobCheckpoint[] = [];
  const checkpointsDir = path.join(out, 'checkpoints');
  if (fs.existsSync(checkpointsDir)) {
    for (const name of fs.readdirSync(checkpointsDir)) {
      const m = /^step-(\d+)$/.exec(name);
      const at = path.join(checkpointsDir, name);
      if (!m || !fs.statSync(at).isDirectory()) continue;
      if (holdsWeights(at)) checkpoints.push({ step: Number(m[1]), dir: at });
      else warnings.push(`${at} has no model weights yet (a checkpoint cut short) and is left out`);
    }
    checkpoints.sort((a, b) => a.step - b.step);
  }

  const bestDir = path.join(out, 'best');
  let best: string | null = null;
  if (fs.existsSync(bestDir)) {
    if (holdsWeights(bestDir)) best = bestDir;
    else warnings.push(`${bestDir} has no model weights yet and is left out`);
  }

  return {
    dir,
    jobId: createHash('sha256').update(jobBytes).digest('hex').slice(0, 32),
    job: jobParsed.data,
    run,
    metrics,
    predictions,
    checkpoints,
    best,
    warnings,
  };
}
