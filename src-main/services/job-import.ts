/**
 * jobs.import: a cluster job folder (docs/JOB-FORMAT.md) into the lab as a
 * run, beside the run it was exported from.
 *
 * The run names its parent run and carries its origin (the job, the machine,
 * the GPU count, the wall time); its metrics, predictions and checkpoints
 * become its rows, and out/best/ joins the Library as its model. A job that
 * has not finished imports what it has, as a 'cancelled' run (stopped before
 * its end; a failed job is 'failed', with the job's error).
 *
 * Files are copied into a hidden staging folder first (file by file, with
 * progress, cancellable between files), then the rows are written and the
 * folder moved to `runs/<id>/job/` in one transaction: a bad line, a full
 * disk or a cancel leaves neither rows nor files. The checkpoints keep their
 * Hugging Face layout (`runs/<id>/job/checkpoints/step-<N>/`) without
 * trainer.pt: optimizer state serves `train.py --resume` on the cluster,
 * which keeps it, not the lab.
 *
 * One job is one run. Importing it again is refused, naming the run it
 * became, while the job has not progressed (a later step, or an end); once
 * it has, the refusal says so and `update` brings that run up to date: its
 * records are replaced by the job's, its name, notes and tags are kept.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Handlers } from '../contract/dispatcher.ts';
import type { JobOrigin, JsonObject, Model, Run, RunStatus } from '../contract/entities.ts';
import { StepwiseError } from '../contract/errors.ts';
import { architectureSummary, readModelFolderArch } from '../engine/hf/model-folder.ts';
import { paramCount } from '../engine/models/family.ts';
import { methodById, methods } from '../methods/index.ts';
import type { RunHistory } from '../store/runs.ts';
import { bytesOf } from './files.ts';
import { JobFolderError, readJobFolder } from './job-folder.ts';
import type { JobFolder } from './job-folder.ts';
import type { LabContext } from './lab.ts';
import { insideDataDir, runFolder } from './paths.ts';

export interface ImportJobOptions {
  /** Bring the run an earlier import made up to date, when the job has progressed since. */
  update?: boolean;
  /** The new run's name (default: the parent run's, "(cluster job)" added). */
  name?: string;
  /** Stops the copy between two files; nothing is kept. */
  signal?: AbortSignal;
  /** Files copied so far, of all. */
  onProgress?: (done: number, total: number) => void;
}

/** What an import did. */
export interface JobImport {
  run: Run;
  /** out/best/ as a Library model; null when the job has none yet (or only adapters). */
  model: Model | null;
  /** Whether an earlier import's run was brought up to date. */
  updated: boolean;
  checkpoints: number;
  /** Metric records (lines of metrics.jsonl) and evaluations (prediction files). */
  metricRecords: number;
  evaluations: number;
  /** What was passed over (a checkpoint cut short, a last line cut off), in words. */
  warnings: string[];
}

/** The folder inside a run's folder that holds what its job made. */
export const JOB_FOLDER = 'job';
/** Not copied: the optimizer and data-order state `train.py --resume` needs, on the cluster. */
const LEFT_ON_THE_CLUSTER = new Set(['trainer.pt']);

function refused(message: string): StepwiseError {
  return new StepwiseError('invalid_input', `jobs.import: ${message}`, [{ path: ['path'], message }]);
}

/** The run's status, times and error as the job recorded them. */
function historyOf({ run }: JobFolder): RunHistory {
  const startedAt = Date.parse(run.started);
  const finishedAt = run.ended ? Date.parse(run.ended) : Math.round(startedAt + run.wallSeconds * 1000);
  const status: RunStatus = run.status === 'running' ? 'cancelled' : run.status;
  const error = run.status === 'failed' ? `the cluster job failed on ${run.machine} at step ${run.step}: ${run.error ?? 'its run.json gives no reason'}` : null;
  return { status, startedAt, finishedAt, error };
}

function originOf(folder: JobFolder, importedAt: number): JobOrigin {
  const { job, run } = folder;
  return {
    kind: 'cluster-job',
    jobId: folder.jobId,
    folder: folder.dir,
    parent: job.parent,
    exported: job.exported,
    status: run.status,
    step: run.step,
    epoch: run.epoch,
    machine: run.machine,
    worldSize: run.worldSize,
    gpus: run.gpus,
    wallSeconds: run.wallSeconds,
    started: run.started,
    ended: run.ended,
    torch: run.torch,
    python: run.python,
    importedAt,
  };
}

/** "2 GPUs (NVIDIA H100)", "the CPU". */
export function describeHardware({ gpus, worldSize }: Pick<JobOrigin, 'gpus' | 'worldSize'>): string {
  const on = gpus.count === 0 ? 'the CPU' : `${gpus.count} GPU${gpus.count === 1 ? '' : 's'}${gpus.name ? ` (${gpus.name})` : ''}`;
  return `${on}, ${worldSize} process${worldSize === 1 ? '' : 'es'}`;
}

/** 3725 s → "1 h 2 min", 42 s → "42 s". */
export function wallTime(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** How far the job got, to tell an import that brings news from one that does not. */
const progressOf = (o: Pick<JobOrigin, 'step' | 'status'>) => `step ${o.step}, ${o.status}`;
const progressed = (was: JobOrigin, now: JobFolder['run']) => now.step > was.step || (was.status === 'running' && now.status !== 'running');

/** The files to copy: [from, to relative to the staging folder]. */
function filesToCopy(folder: JobFolder): [string, string][] {
  const files: [string, string][] = [
    [path.join(folder.dir, 'job.json'), 'job.json'],
    [path.join(folder.dir, 'out', 'run.json'), 'run.json'],
  ];
  const walk = (from: string, to: string) => {
    for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
      if (LEFT_ON_THE_CLUSTER.has(entry.name) || /\.tmp(-\d+)?$/.test(entry.name)) continue;
      const a = path.join(from, entry.name);
      const b = path.join(to, entry.name);
      if (entry.isDirectory()) walk(a, b);
      else if (entry.isFile()) files.push([a, b]);
    }
  };
  for (const c of folder.checkpoints) walk(c.dir, path.join('checkpoints', `step-${c.step}`));
  if (folder.best) walk(folder.best, 'best');
  return files;
}

async function copyInto(staging: string, files: [string, string][], options: ImportJobOptions): Promise<void> {
  options.onProgress?.(0, files.length);
  for (const [i, [from, to]] of files.entries()) {
    if (options.signal?.aborted) throw new StepwiseError('conflict', 'jobs.import: cancelled; nothing was imported');
    const target = path.join(staging, to);
    await fs.promises.mkdir(path.dirname(target), { recursive: true });
    await fs.promises.copyFile(from, target);
    options.onProgress?.(i + 1, files.length);
  }
}

export async function importJob(context: LabContext, dir: string, options: ImportJobOptions = {}): Promise<JobImport> {
  const { store, dataDir, events } = context;
  let folder: JobFolder;
  try {
    folder = readJobFolder(dir);
  } catch (error) {
    if (error instanceof JobFolderError) throw refused(error.message);
    throw error;
  }
  const { job, run: state } = folder;
  const jobFile = path.join(folder.dir, 'job.json');

  const method = methodById(job.method);
  if (!method) throw refused(`${jobFile}: method "${job.method}" is not one this lab has (it has ${methods().map((m) => m.id).join(', ')})`);
  const config = method.schema.safeParse(job.config);
  if (!config.success) {
    const issue = config.error.issues[0];
    throw refused(`${jobFile}: config is not a ${method.id} run configuration: config.${issue.path.join('.')} ${issue.message}`);
  }

  // The parent: the run job.json names, when this lab is the one it came from (or holds it under the same name).
  const named = store.runs.get(job.parent.runId);
  const parent = named && (path.resolve(job.parent.lab) === dataDir || named.name === job.parent.name) ? named : undefined;
  if (parent && parent.method !== job.method) {
    throw refused(`${jobFile}: method is ${job.method}, but run ${parent.id} “${parent.name}” it was exported from is ${parent.method}: the job is of another recipe`);
  }

  const earlier = store.runs.byJob(folder.jobId);
  if (earlier) {
    const was = earlier.origin!;
    const where = `${folder.dir} was already imported as run ${earlier.id} “${earlier.name}” (${progressOf(was)})`;
    if (!progressed(was, state)) {
      throw new StepwiseError('conflict', `jobs.import: ${where}; the job has not progressed since (${progressOf(state)}), so there is nothing new to import`);
    }
    if (!options.update) {
      const message = `${where}; the job has progressed since (${progressOf(state)}): import it again with update to bring run ${earlier.id} up to date`;
      throw new StepwiseError('conflict', `jobs.import: ${message}`, [{ path: ['update'], message }]);
    }
  }

  const stagingRelative = path.join('runs', `.import-${process.pid}-${randomBytes(6).toString('hex')}`);
  const staging = insideDataDir(dataDir, stagingRelative);
  // An updated run's old job folder is set aside until the rows are in; `placed` is the new one once moved.
  const moved: { previous: { from: string; to: string } | null; placed: string | null } = { previous: null, placed: null };
  try {
    await copyInto(staging, filesToCopy(folder), options);
    const importedAt = Date.now();
    const origin = originOf(folder, importedAt);
    const history = historyOf(folder);

    const result = store.transaction((): JobImport => {
      // Another import of this job (another copy of its folder) may have landed while the files copied.
      const now = store.runs.byJob(folder.jobId);
      if (now && now.id !== earlier?.id) throw new StepwiseError('conflict', `jobs.import: ${folder.dir} was imported as run ${now.id} “${now.name}” while this import copied its files; nothing more was imported`);
      let run: Run;
      if (earlier) {
        store.runs.clearRecords(earlier.id);
        run = earlier;
      } else {
        const name = (options.name ?? `${job.parent.name} (cluster job)`).slice(0, 200);
        run = store.runs.create({ method: job.method, name, config: job.config as JsonObject, parentRunId: parent?.id ?? null, origin }, importedAt);
      }
      run = store.runs.setHistory(run.id, history, origin)!;

      const runDir = path.join(dataDir, runFolder(run.id));
      const target = path.join(runDir, JOB_FOLDER);
      fs.mkdirSync(runDir, { recursive: true });
      if (earlier && fs.existsSync(target)) {
        moved.previous = { from: path.join(runDir, `.${JOB_FOLDER}-old-${process.pid}`), to: target };
        fs.renameSync(target, moved.previous.from);
      } else {
        // No run owns this id's folder yet (the id is new): a leftover of an earlier crash, safe to replace.
        fs.rmSync(target, { recursive: true, force: true });
      }
      fs.renameSync(staging, target);
      moved.placed = target;
      const relative = (...parts: string[]) => path.join(runFolder(run.id), JOB_FOLDER, ...parts);

      for (const m of folder.metrics) store.metrics.record(run.id, m.step, m.values, m.time);
      for (const p of folder.predictions) store.predictions.record(run.id, p.split, p.step, p.rows);
      for (const c of folder.checkpoints) {
        const at = relative('checkpoints', `step-${c.step}`);
        store.checkpoints.add({ runId: run.id, step: c.step, path: at, bytes: bytesOf(path.join(dataDir, at)) }, Math.round(fs.statSync(c.dir).mtimeMs));
      }

      const log = (level: 'info' | 'warn' | 'error', message: string) => store.logs.append(run.id, level, message, importedAt);
      log('info', `${earlier ? 'updated from' : 'imported from'} the cluster job ${folder.dir}: ${progressOf(state)}${state.epoch !== null ? ` (epoch ${state.epoch})` : ''} on ${state.machine}, ${describeHardware(state)}, wall time ${wallTime(state.wallSeconds)}; torch ${state.torch}, Python ${state.python}`);
      log('info', `exported from run ${job.parent.runId} “${job.parent.name}” of ${job.parent.lab} at ${job.exported.at} (Stepwise ${job.exported.stepwise}${job.exported.commit ? `, commit ${job.exported.commit}` : ''})${parent ? '' : '; that run is not in this lab'}`);
      for (const w of folder.warnings) log('warn', w);
      if (history.error) log('error', history.error);
      if (state.status === 'running') log('info', `the job had not ended at import (step ${state.step}): import it again with update once it has progressed`);

      let model: Model | null = null;
      if (folder.best && fs.existsSync(path.join(target, 'best', 'config.json'))) {
        const arch = readModelFolderArch(path.join(target, 'best'));
        model = store.models.add({
          name: `${run.name} (best)`.slice(0, 200),
          architecture: architectureSummary(arch),
          paramCount: paramCount(arch),
          path: relative('best'),
          bytesOnDisk: bytesOf(path.join(target, 'best')),
          source: {
            kind: 'trained',
            runId: run.id,
            recipe: typeof job.config.recipe === 'string' ? job.config.recipe : job.method,
            job: folder.dir,
            machine: state.machine,
            gpus: state.gpus.count,
            gpuName: state.gpus.name,
            worldSize: state.worldSize,
            wallSeconds: state.wallSeconds,
          },
          runId: run.id,
        }, importedAt);
        log('info', `its best model (out/best) is model ${model.id} in the Library`);
      } else if (folder.best) {
        log('info', `its best adapters (out/best) are kept in ${relative('best')}; adapters alone are not a Library model`);
      }
      return {
        run: store.runs.get(run.id)!,
        model,
        updated: !!earlier,
        checkpoints: folder.checkpoints.length,
        metricRecords: folder.metrics.length,
        evaluations: folder.predictions.length,
        warnings: folder.warnings,
      };
    });
    if (moved.previous) fs.rmSync(moved.previous.from, { recursive: true, force: true });
    events.emit('run.status', { runId: result.run.id, status: result.run.status, error: result.run.error, at: importedAt });
    return result;
  } catch (error) {
    // The rows rolled back: put the files back as they were.
    if (moved.placed) fs.rmSync(moved.placed, { recursive: true, force: true });
    if (moved.previous) fs.renameSync(moved.previous.from, moved.previous.to);
    throw error;
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

/** job.importProgress is sent at most this often (and always for the first and the last file). */
const PROGRESS_MS = 200;

export function jobImportHandlers(context: LabContext): Pick<Handlers, 'jobs.import' | 'jobs.cancelImport'> {
  /** Imports in progress in this lab, by the folder as given: what jobs.cancelImport stops. */
  const inProgress = new Map<string, AbortController>();
  return {
    'jobs.import': async ({ path: dir, update, name }) => {
      if (inProgress.has(dir)) throw new StepwiseError('conflict', `jobs.import: ${dir} is being imported already`);
      const abort = new AbortController();
      inProgress.set(dir, abort);
      let sentAt = 0;
      const onProgress = (done: number, total: number) => {
        const now = Date.now();
        if (done !== 0 && done !== total && now - sentAt < PROGRESS_MS) return;
        sentAt = now;
        context.events.emit('job.importProgress', { path: dir, done, total });
      };
      try {
        return await importJob(context, dir, { update, name, signal: abort.signal, onProgress });
      } finally {
        inProgress.delete(dir);
      }
    },
    'jobs.cancelImport': ({ path: dir }) => {
      const abort = inProgress.get(dir);
      abort?.abort();
      return { cancelled: abort !== undefined };
    },
  };
}
