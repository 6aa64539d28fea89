/**
 * Training runs: start a run's job in a worker thread and be its store
 * writer, the listener that turns the trainer's events into rows (metrics,
 * checkpoints, logs, predictions, status, the best model) and into the
 * contract's events. The UI and the CLI's progress bar listen to those
 * events; neither talks to the worker.
 *
 * A run folder is `<data folder>/runs/<id>/` (see methods/icot/run.ts for what
 * the job writes there). While a job runs, `owner.json` there names the
 * process that runs it, so a lab opened later (by this process or another)
 * can tell a live run from one whose process died: those are marked failed,
 * "interrupted: resume to continue from step N", and `runs.resume` continues
 * them from their latest checkpoint.
 *
 * Pausing keeps the status 'running' (the schema has no 'paused'); the
 * `paused` field of `run.status` and `run.progress` says so.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Handlers } from '../contract/dispatcher.ts';
import type { JsonObject, Model, Run } from '../contract/entities.ts';
import { StepwiseError } from '../contract/errors.ts';
import type { InputIssue } from '../contract/errors.ts';
import type { EventPayloads } from '../contract/events.ts';
import { listCheckpoints } from '../engine/checkpoint.ts';
import { architectureSummary, readModelFolderArch } from '../engine/hf/model-folder.ts';
import { paramCount } from '../engine/models/family.ts';
import type { Job } from '../engine/train-job.ts';
import type { TrainerEvent } from '../engine/trainer.ts';
import { methodById, methods } from '../methods/index.ts';
import { startMethodJob } from '../methods/job.ts';
import type { LibraryEntry, MethodDefinition } from '../methods/method.ts';
import type { MethodOutcome } from '../methods/run-config.ts';
import { MAX_MESSAGE, quote } from '../contract/limits.ts';
import { InputFileError, checkInputFile, checkInputFolderSync } from '../methods/input-file.ts';
import { estimateOffThread, preflightRun } from '../methods/preflight.ts';
import { bytesOf } from './files.ts';
import type { LabContext } from './lab.ts';
import { knownMethod } from './methods.ts';
import { runFolder } from './paths.ts';

type TrainingProcedures = 'runs.start' | 'runs.estimate' | 'runs.pause' | 'runs.resume' | 'runs.cancel' | 'runs.predictions';

/** How a job ended, once every row is written. */
export interface RunEnd {
  run: Run;
  /** null when the job failed. */
  outcome: MethodOutcome | null;
  /** The best model, registered when the run completed with one. */
  model: Model | null;
}

export interface Training {
  handlers: Pick<Handlers, TrainingProcedures>;
  /** Resolves when the run's job in this process has ended and its rows are written; undefined when none runs here. */
  whenDone(runId: number): Promise<RunEnd> | undefined;
  /** Whether the run's job in this process is paused; undefined when no job of it runs here. */
  isPaused(runId: number): boolean | undefined;
  /**
   * Everything runs.start checks before a run starts (the method's schema, files present, the data
   * parsed and the model loaded by the method's own `prepare`), for runs.create and a queued run's
   * edit: a run that is stored can start. Throws invalid_input naming each wrong field.
   */
  checkConfig(procedure: string, method: MethodDefinition, config: JsonObject): Promise<void>;
  /** Marks runs left 'running' by a process that died as failed ("interrupted: …"); answers their ids. */
  recoverInterrupted(): number[];
  /** Cancels this lab's jobs and stops writing; their runs are marked interrupted when a lab next opens. */
  close(): void;
}

/** Step metrics are written in one transaction per this many steps, or per FLUSH_MS, whichever comes first. */
const FLUSH_STEPS = 20;
const FLUSH_MS = 1000;
/** run.progress is sent at most this often (and always on the last step, and on pause and resume). */
const PROGRESS_MS = 200;

const OWNER_FILE = 'owner.json';
/** A file being written (checkpoint.ts, safetensors.ts, gpt2-folder.ts write `<file>.tmp-<pid>` and rename it). */
const TEMP_FILE = /\.tmp-\d+$/;

/** A run's method, or why this lab cannot run it (a run stored by a lab that had a method this one lacks). */
function methodOfRun(procedure: string, run: Run): MethodDefinition {
  const method = methodById(run.method);
  if (!method) throw new StepwiseError('conflict', `${procedure}: run ${run.id} uses the ${run.method} method, which this lab does not have (it has ${methods().map((m) => m.id).join(', ')})`);
  return method;
}

type StepEvent = Extract<TrainerEvent, { type: 'step' }>;

interface LiveJob {
  runId: number;
  job: Job<MethodOutcome>;
  paused: boolean;
  cancelling: boolean;
  done: Promise<RunEnd>;
  /** Stops writing rows and events (the lab is closing). */
  detach(): void;
}

/** Jobs alive in this process, by data folder and run: two labs on one folder in one process see each other's. */
const LIVE = new Map<string, LiveJob>();
const liveKey = (dataDir: string, runId: number) => `${dataDir}\0${runId}`;

export function createTraining({ store, dataDir, events }: LabContext): Training {
  const mine = new Set<number>();
  let closed = false;

  const runDirOf = (id: number) => path.join(dataDir, runFolder(id));
  const live = (id: number) => LIVE.get(liveKey(dataDir, id));

  function existing(procedure: string, id: number): Run {
    const run = store.runs.get(id);
    if (!run) throw new StepwiseError('not_found', `${procedure}: there is no run ${id}`);
    return run;
  }

  function announce(run: Run, paused?: boolean): void {
    const payload: EventPayloads['run.status'] = { runId: run.id, status: run.status, error: run.error, at: Date.now() };
    if (paused !== undefined) payload.paused = paused;
    events.emit('run.status', payload);
  }

  function setStatus(id: number, status: Run['status'], error?: string): Run {
    const run = store.runs.setStatus(id, status, { error })!;
    announce(run);
    return run;
  }

  function log(runId: number, level: 'info' | 'warn' | 'error', message: string): void {
    events.emit('run.log', store.logs.append(runId, level, message));
  }

  /** Whether the process named in the run folder's owner.json still runs this run. */
  function ownerAlive(id: number): { alive: boolean; pid: number | null } {
    if (live(id)) return { alive: true, pid: process.pid };
    let pid: number;
    try {
      pid = (JSON.parse(fs.readFileSync(path.join(runDirOf(id), OWNER_FILE), 'utf8')) as { pid: number }).pid;
    } catch {
      return { alive: false, pid: null };
    }
    // In this process, a run is live only if a lab here holds its job.
    if (!Number.isInteger(pid) || pid === process.pid) return { alive: false, pid };
    try {
      process.kill(pid, 0);
      return { alive: true, pid };
    } catch (error) {
      return { alive: (error as NodeJS.ErrnoException).code === 'EPERM', pid };
    }
  }

  /** Checkpoint rows for checkpoint files on disk that have none (a process that died before writing them). */
  function syncCheckpoints(id: number): void {
    const known = new Set(store.checkpoints.list(id).map((c) => c.step));
    for (const { step, path: file } of listCheckpoints(path.join(runDirOf(id), 'checkpoints'))) {
      if (known.has(step)) continue;
      const tensors = file.replace(/\.json$/, '.safetensors');
      store.checkpoints.add({ runId: id, step, path: path.relative(dataDir, file), bytes: bytesOf(file) + bytesOf(tensors) });
    }
  }

  function latestCheckpoint(id: number): { step: number; path: string } | null {
    const all = listCheckpoints(path.join(runDirOf(id), 'checkpoints'));
    return all.length ? all[all.length - 1] : null;
  }

  /** Marks a run whose process died as failed, saying where `runs.resume` will continue from. */
  function markInterrupted(run: Run): Run {
    removeLeftovers(run.id);
    syncCheckpoints(run.id);
    const latest = latestCheckpoint(run.id);
    const error = latest
      ? `interrupted: resume to continue from step ${latest.step}`
      : 'interrupted before its first checkpoint: resume to start it again from step 0';
    // Steps are written in batches, so the process may have trained (and
    // checkpointed) a few steps whose metrics it never wrote: say which.
    const recorded = store.metrics.lastStep(run.id, 'loss');
    const lost = latest && latest.step > recorded ? ` (the metrics of step${latest.step > recorded + 1 ? `s ${recorded + 1}–${latest.step}` : ` ${latest.step}`} were lost with it)` : '';
    fs.rmSync(path.join(runDirOf(run.id), OWNER_FILE), { force: true });
    const failed = setStatus(run.id, 'failed', error);
    log(run.id, 'warn', `the process running this run stopped without ending it${lost}; ${error}`);
    return failed;
  }

  /** The stored config as the job gets it: validated, relative paths resolved against the data folder, files present. */
  function jobConfig(procedure: string, config: JsonObject, method: MethodDefinition): unknown {
    const resolved = resolvePaths(config, dataDir);
    const parsed = method.schema.safeParse(resolved);
    const issues: InputIssue[] = parsed.success
      ? []
      : parsed.error.issues.map((i) => {
          const where = ['config', ...i.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
          return { path: where, message: `${where.join('.')}: ${i.message}` };
        });
    issues.push(...missingFiles(resolved).filter((m) => !issues.some((i) => i.path.join('.') === m.path.join('.'))));
    if (issues.length > 0 || !parsed.success) {
      throw new StepwiseError(
        'invalid_input',
        `${procedure}: config is not a valid ${method.title} run configuration: ${issues.map((i) => i.message).join('; ')}`,
        issues,
      );
    }
    return parsed.data;
  }

  /** A Library model's folder in an engine's message, named as the Library and the New run form name it (a user chose it by name). */
  function namingModels(message: string): string {
    for (const m of store.models.list(1000, 0).items) {
      const folder = path.join(dataDir, m.path);
      if (message.includes(folder)) message = message.split(folder).join(`the Library model “${m.name}” (${m.path})`);
    }
    return message;
  }

  /** The method's own preparation of `config` (data parsed, model loaded), in a worker; its failure is the caller's invalid input. */
  async function preflight(procedure: string, method: MethodDefinition, config: unknown): Promise<void> {
    try {
      await preflightRun(method, config);
    } catch (error) {
      const message = quote(namingModels((error as Error).message), MAX_MESSAGE);
      throw new StepwiseError('invalid_input', `${procedure}: the run cannot start: ${message}`, [{ path: ['config'], message }]);
    }
  }

  /**
   * Removes the `*.tmp-PID` files a killed process left half-written in a run
   * folder (checkpoints, best/): called when no job of this process holds the
   * run, so whatever wrote them is gone.
   */
  function removeLeftovers(id: number): void {
    const walk = (dir: string): void => {
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        if (e.isDirectory()) walk(path.join(dir, e.name));
        else if (TEMP_FILE.test(e.name)) fs.rmSync(path.join(dir, e.name), { force: true });
      }
    };
    if (!live(id)) walk(runDirOf(id));
  }

  function launch(run: Run, method: MethodDefinition, config: unknown, resumeFrom: { step: number; path: string } | null): Run {
    const id = run.id;
    const runDir = runDirOf(id);
    fs.mkdirSync(runDir, { recursive: true });
    // Before the status: a lab opening in between must see the run as owned.
    fs.writeFileSync(path.join(runDir, OWNER_FILE), JSON.stringify({ pid: process.pid, since: Date.now() }));
    const started = setStatus(id, 'running');
    if (resumeFrom) log(id, 'info', `resuming from the checkpoint of step ${resumeFrom.step}`);

    let entry: LiveJob;
    const writer = storeWriter(id, method, (paused, last) => {
      entry.paused = paused;
      announce(store.runs.get(id)!, paused);
      if (last) events.emit('run.progress', progressOf(id, last, paused, method));
    });
    let attached = true;
    const onEvent = (e: TrainerEvent) => {
      if (attached) writer.onEvent(e);
    };
    let job: Job<MethodOutcome>;
    try {
      job = startMethodJob(method, { config, runDir, ...(resumeFrom ? { resumeFrom: resumeFrom.path } : {}) }, onEvent);
    } catch (error) {
      writer.stop();
      fs.rmSync(path.join(runDir, OWNER_FILE), { force: true });
      failed(id, error);
      throw error;
    }
    entry = {
      runId: id,
      job,
      paused: false,
      cancelling: false,
      done: undefined as unknown as Promise<RunEnd>,
      detach: () => {
        // The store is still open: keep the steps done so far.
        writer.flush();
        attached = false;
        writer.stop();
      },
    };
    entry.done = job.done.then(
      (outcome) => finish(entry, () => ended(id, method, config, outcome)),
      (error: unknown) => finish(entry, () => failed(id, error)),
    );
    // Nobody need wait for the end (the app does not); a failure to record it is logged, not left unhandled.
    entry.done.catch((error: unknown) => console.error(`stepwise: recording the end of run ${id} failed:`, error));
    const key = liveKey(dataDir, id);
    LIVE.set(key, entry);
    mine.add(id);

    function finish(job: LiveJob, write: () => RunEnd): RunEnd {
      if (LIVE.get(key) === job) LIVE.delete(key);
      mine.delete(id);
      // Detached: the lab closed (its store too); the run is marked interrupted when a lab next opens.
      if (!attached) return { run, outcome: null, model: null };
      writer.flush();
      writer.stop();
      attached = false;
      fs.rmSync(path.join(runDir, OWNER_FILE), { force: true });
      return write();
    }
    return started;
  }

  function ended(id: number, method: MethodDefinition, config: unknown, outcome: MethodOutcome): RunEnd {
    if (outcome.status === 'cancelled') {
      const latest = latestCheckpoint(id);
      log(id, 'info', `cancelled at step ${outcome.step}; the checkpoint of step ${latest?.step ?? outcome.step} is kept: resume to continue from it`);
      return { run: setStatus(id, 'cancelled'), outcome, model: null };
    }
    let model: Model | null = null;
    let registered = '';
    let entry: LibraryEntry | null = null;
    try {
      entry = method.library(outcome, config);
      if (entry) {
        model = register(id, entry);
        registered = `, registered as model ${model.id}`;
      }
    } catch (error) {
      registered = `, but it could not be registered as a model: ${(error as Error).message}`;
    }
    const test = outcome.test ? `; test accuracy ${(100 * outcome.test.accuracy).toFixed(1)}% (${outcome.test.correct}/${outcome.test.total})` : '';
    const summary = relativeIn(method.summary?.(outcome, config) ?? (entry ? `model in ${entry.path}` : 'no model kept'));
    log(id, 'info', `completed at step ${outcome.step}: ${summary}${registered}${test}`);
    return { run: setStatus(id, 'completed'), outcome, model };
  }

  function failed(id: number, error: unknown): RunEnd {
    const message = error instanceof Error ? error.message : String(error);
    const from = latestCheckpoint(id);
    log(id, 'error', `${message}${from ? ` (runs.resume continues from the checkpoint of step ${from.step})` : ''}`);
    return { run: setStatus(id, 'failed', message), outcome: null, model: null };
  }

  /** Absolute paths inside the data folder, said relative to it (as every row and log line says them). */
  function relativeIn(text: string): string {
    return text.split(dataDir + path.sep).join('');
  }

  /** A completed run's model (a Hugging Face folder of any family, in the run folder) as a row of the models table; replaces a row of the same folder. */
  function register(id: number, entry: LibraryEntry): Model {
    const run = store.runs.get(id)!;
    const relative = path.relative(dataDir, entry.path);
    const arch = readModelFolderArch(entry.path);
    const existing = store.models.list(1000, 0).items.find((m) => m.path === relative);
    if (existing) store.models.delete(existing.id);
    const inside = (p: string | number | boolean | null) => (typeof p === 'string' && path.isAbsolute(p) && !path.relative(dataDir, p).startsWith('..') ? path.relative(dataDir, p) : p);
    const provenance = Object.fromEntries(Object.entries(entry.provenance ?? {}).map(([k, v]) => [k, inside(v)]));
    return store.models.add({
      name: `${run.name} ${entry.suffix}`,
      architecture: architectureSummary(arch),
      paramCount: paramCount(arch),
      path: relative,
      bytesOnDisk: bytesOf(entry.path),
      source: {
        kind: 'trained', runId: id, recipe: entry.recipe, step: entry.step,
        ...(entry.epoch !== undefined ? { epoch: entry.epoch } : {}),
        ...(entry.valAccuracy !== undefined ? { valAccuracy: entry.valAccuracy } : {}),
        ...provenance,
      },
      runId: id,
    });
  }

  /**
   * The store writer: one listener of a job's events. Steps are buffered and
   * written in batches (one transaction); everything else is written as it
   * comes, after the buffered steps so rows land in step order.
   */
  function storeWriter(runId: number, method: MethodDefinition, onPauseChange: (paused: boolean, last: StepEvent | null) => void) {
    let pending: { step: number; values: Record<string, number>; wallTime: number }[] = [];
    let timer: NodeJS.Timeout | null = null;
    let lastStep: StepEvent | null = null;
    let lastProgressAt = 0;
    let paused = false;
    const flush = () => {
      if (timer) clearTimeout(timer);
      timer = null;
      if (pending.length === 0) return;
      const rows = pending;
      pending = [];
      store.transaction(() => {
        for (const r of rows) store.metrics.record(runId, r.step, r.values, r.wallTime);
      });
    };
    return {
      flush,
      stop() {
        if (timer) clearTimeout(timer);
        timer = null;
      },
      onEvent(e: TrainerEvent) {
        switch (e.type) {
          case 'step': {
            const wallTime = Date.now();
            const values: Record<string, number> = { loss: e.loss, lr: e.lr, grad_norm: e.gradNorm, tokens_per_s: e.tokensPerS };
            for (const [key, value] of Object.entries(e.info ?? {})) values[snakeCase(key)] = value;
            pending.push({ step: e.step, values, wallTime });
            if (pending.length >= FLUSH_STEPS) flush();
            else if (!timer) timer = setTimeout(flush, FLUSH_MS).unref();
            events.emit('run.metric', { runId, step: e.step, values, wallTime });
            lastStep = e;
            const now = Date.now();
            if (now - lastProgressAt >= PROGRESS_MS || e.step === e.totalSteps) {
              lastProgressAt = now;
              events.emit('run.progress', progressOf(runId, e, paused, method));
            }
            break;
          }
          case 'metric': {
            flush();
            const wallTime = Date.now();
            store.metrics.record(runId, e.step, e.values, wallTime);
            events.emit('run.metric', { runId, step: e.step, values: e.values, wallTime });
            break;
          }
          case 'checkpoint': {
            flush();
            const relative = path.relative(dataDir, e.path);
            const tensors = e.path.replace(/\.json$/, '.safetensors');
            // A run cancelled right after a periodic checkpoint saves the same step again.
            const same = store.checkpoints.list(runId).find((c) => c.step === e.step);
            if (!same) store.checkpoints.add({ runId, step: e.step, path: relative, bytes: bytesOf(e.path) + bytesOf(tensors) });
            break;
          }
          case 'log':
            flush();
            log(runId, e.level, e.message);
            break;
          case 'predictions':
            flush();
            store.predictions.record(
              runId,
              e.split,
              e.step,
              e.rows.map((r) => ({ index: r.index, input: r.input, target: r.target, generated: r.generated, correct: r.correct, answer: r.answer ?? null, cotTokens: r.cotTokens ?? null })),
            );
            break;
          case 'status':
            // The run's own status follows the job's end (after the test), not the trainer's.
            if (e.status === 'paused' || (e.status === 'running' && paused)) {
              paused = e.status === 'paused';
              flush();
              onPauseChange(paused, lastStep);
            }
            break;
        }
      },
    };
  }

  /**
   * Continues a failed or cancelled run from its latest checkpoint. (A process
   * that died may have recorded its steps only up to a little before it: the
   * charts then miss those few steps, which is better than training them again.)
   */
  function restart(procedure: string, run: Run): Run {
    const method = methodOfRun(procedure, run);
    const config = jobConfig(procedure, run.config, method);
    removeLeftovers(run.id);
    syncCheckpoints(run.id);
    return launch(run, method, config, latestCheckpoint(run.id));
  }

  function refuseForeign(procedure: string, run: Run, what: string): void {
    const owner = ownerAlive(run.id);
    if (run.status === 'running' && owner.alive && !live(run.id)) {
      throw new StepwiseError('conflict', `${procedure}: run ${run.id} is running in another process (pid ${owner.pid}); ${what} it there`);
    }
  }

  const handlers: Pick<Handlers, TrainingProcedures> = {
    'runs.start': async (input) => {
      if (closed) throw new StepwiseError('conflict', 'runs.start: the lab is closing');
      if (input.id !== undefined) {
        const run = existing('runs.start', input.id);
        if (run.status !== 'queued') {
          const hint = run.status === 'running' ? 'it is already running' : `it is ${run.status}; resume it with runs.resume, or start a new run`;
          throw new StepwiseError('conflict', `runs.start: run ${run.id} has already started: ${hint}`);
        }
        const method = methodOfRun('runs.start', run);
        const queued = jobConfig('runs.start', run.config, method);
        await preflight('runs.start', method, queued);
        return launch(run, method, queued, null);
      }
      const { name, config, parentRunId } = input as Required<Pick<typeof input, 'method' | 'name' | 'config'>> & typeof input;
      const method = knownMethod('runs.start', input.method!);
      const valid = jobConfig('runs.start', config, method);
      if (parentRunId != null && !store.runs.get(parentRunId)) throw new StepwiseError('not_found', `runs.start: parentRunId ${parentRunId} names no run`);
      // The data and model are read and checked before the row exists: a run that cannot start leaves nothing.
      await preflight('runs.start', method, valid);
      if (closed) throw new StepwiseError('conflict', 'runs.start: the lab is closing');
      const run = store.runs.create({ method: method.id, name, config, parentRunId });
      announce(run);
      return launch(run, method, valid, null);
    },

    'runs.estimate': async ({ method: id, config, measure }) => {
      const method = knownMethod('runs.estimate', id);
      const valid = jobConfig('runs.estimate', config, method) as { runtime?: { provider?: string; threads?: number } };
      const provider = valid.runtime?.provider === 'webgpu' ? 'webgpu' : 'cpu';
      try {
        return await estimateOffThread(method, valid, { measure, provider, threads: valid.runtime?.threads });
      } catch (error) {
        const message = quote(namingModels((error as Error).message), MAX_MESSAGE);
        throw new StepwiseError('invalid_input', `runs.estimate: the run cannot start: ${message}`, [{ path: ['config'], message }]);
      }
    },

    'runs.pause': ({ id }) => {
      const run = existing('runs.pause', id);
      refuseForeign('runs.pause', run, 'pause');
      const job = live(id);
      if (!job || run.status !== 'running') throw new StepwiseError('conflict', `runs.pause: run ${id} is not running (it is ${run.status})`);
      if (job.paused) throw new StepwiseError('conflict', `runs.pause: run ${id} is already paused; resume it with runs.resume`);
      if (job.cancelling) throw new StepwiseError('conflict', `runs.pause: run ${id} is being cancelled`);
      job.paused = true;
      job.job.pause();
      return run;
    },

    'runs.resume': ({ id }) => {
      if (closed) throw new StepwiseError('conflict', 'runs.resume: the lab is closing');
      let run = existing('runs.resume', id);
      refuseForeign('runs.resume', run, 'resume');
      if (run.origin) {
        throw new StepwiseError('conflict', `runs.resume: run ${id} was trained as a cluster job on ${run.origin.machine} and imported: continue the job there (train.py job.json --resume), then import it again to update this run`);
      }
      const job = live(id);
      if (job) {
        if (!job.paused) throw new StepwiseError('conflict', `runs.resume: run ${id} is running, not paused`);
        job.paused = false;
        job.job.resume();
        return run;
      }
      if (run.status === 'running') run = markInterrupted(run); // its process died while this lab was open
      switch (run.status) {
        case 'queued':
          throw new StepwiseError('conflict', `runs.resume: run ${id} has not started; start it with runs.start`);
        case 'completed':
          throw new StepwiseError('conflict', `runs.resume: run ${id} has completed; there is nothing to resume`);
        default:
          return restart('runs.resume', run);
      }
    },

    'runs.cancel': ({ id }) => {
      const run = existing('runs.cancel', id);
      refuseForeign('runs.cancel', run, 'cancel');
      const job = live(id);
      if (job) {
        job.cancelling = true;
        job.job.cancel();
        return run;
      }
      if (run.status === 'queued') return setStatus(id, 'cancelled');
      if (run.status === 'running') {
        // Its process died: nothing to stop, and its checkpoints stay for runs.resume.
        syncCheckpoints(id);
        fs.rmSync(path.join(runDirOf(id), OWNER_FILE), { force: true });
        log(id, 'info', 'cancelled after its process stopped; resume to continue from its latest checkpoint');
        return setStatus(id, 'cancelled');
      }
      throw new StepwiseError('conflict', `runs.cancel: run ${id} is not running (it is ${run.status})`);
    },

    'runs.predictions': ({ runId, split, step, offset, limit }) => {
      existing('runs.predictions', runId);
      const evaluations = store.predictions.evaluations(runId, split);
      const at = step ?? (evaluations.length ? evaluations[evaluations.length - 1].step : null);
      const evaluation = evaluations.find((e) => e.step === at);
      if (step !== undefined && !evaluation) {
        const steps = evaluations.map((e) => e.step);
        throw new StepwiseError(
          'not_found',
          `runs.predictions: run ${runId} has no ${split} predictions at step ${step}${steps.length ? ` (it has steps ${steps.join(', ')})` : ''}`,
        );
      }
      return {
        runId,
        split,
        step: at,
        items: at === null ? [] : store.predictions.list(runId, split, at, offset, limit),
        total: evaluation?.total ?? 0,
        correct: evaluation?.correct ?? 0,
        evaluations,
        splits: store.predictions.splits(runId),
      };
    },
  };

  return {
    handlers,
    isPaused: (runId) => live(runId)?.paused,
    async checkConfig(procedure, method, config) {
      await preflight(procedure, method, jobConfig(procedure, config, method));
    },
    whenDone: (runId) => live(runId)?.done,
    recoverInterrupted() {
      const interrupted: number[] = [];
      for (let offset = 0; ; offset += 1000) {
        const page = store.runs.list({ status: 'running', limit: 1000, offset });
        for (const run of page.items) {
          if (ownerAlive(run.id).alive) continue;
          markInterrupted(run);
          interrupted.push(run.id);
        }
        if (page.items.length < 1000) break;
      }
      return interrupted;
    },
    close() {
      closed = true;
      for (const id of mine) {
        const job = live(id);
        if (!job) continue;
        job.detach();
        job.job.cancel();
        LIVE.delete(liveKey(dataDir, id));
      }
      mine.clear();
    },
  };
}

function progressOf(runId: number, e: StepEvent, paused: boolean, method: MethodDefinition): EventPayloads['run.progress'] {
  const figures = e.info ?? {};
  return {
    runId,
    step: e.step,
    totalSteps: e.totalSteps,
    epoch: e.epoch,
    examplesPerSecond: null,
    etaSeconds: Number.isFinite(e.etaS) ? e.etaS : null,
    paused,
    loss: Number.isFinite(e.loss) ? e.loss : null,
    tokensPerSecond: Number.isFinite(e.tokensPerS) ? e.tokensPerS : null,
    elapsedSeconds: e.elapsedS,
    figures,
    note: method.progressNote?.(figures) ?? null,
  };
}

/** scheduledRemoval → scheduled_removal, like the other metric keys. */
function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** The config with its relative file paths made absolute against `base`. */
export function resolvePaths(config: JsonObject, base: string): JsonObject {
  const resolve = (p: unknown) => (typeof p === 'string' && p !== '' && !path.isAbsolute(p) ? path.resolve(base, p) : p);
  const out = structuredClone(config) as { data?: Record<string, unknown>; model?: Record<string, unknown> };
  if (out.data && typeof out.data === 'object') for (const key of ['train', 'valid', 'test']) if (key in out.data) out.data[key] = resolve(out.data[key]);
  const choices = (out as { eval?: { choices?: unknown } }).eval?.choices;
  if (Array.isArray(choices)) (out as { eval: { choices: unknown[] } }).eval.choices = choices.map(resolve);
  if (out.model && typeof out.model === 'object' && out.model.kind === 'folder') out.model.path = resolve(out.model.path);
  return out as JsonObject;
}

/** The config's data files and model folder that are not there (checked even when other fields are wrong, to name every problem at once). */
function missingFiles(config: JsonObject): InputIssue[] {
  const issues: InputIssue[] = [];
  // stat only, nothing opened: a FIFO, a device, a link loop or a file over the limit is named here.
  const need = (where: string[], file: unknown, kind: 'file' | 'folder') => {
    if (typeof file !== 'string' || file === '') return;
    try {
      if (kind === 'file') checkInputFile(file, 'file of examples');
      else checkInputFolderSync(file, 'model folder');
    } catch (error) {
      if (!(error instanceof InputFileError)) throw error;
      const missing = error.file === file && /^no such/.test(error.problem);
      issues.push({ path: ['config', ...where], message: `config.${where.join('.')}: ${missing ? `there is no ${kind} ${file}` : error.message}` });
    }
  };
  const { data, model } = config as { data?: Record<string, unknown>; model?: Record<string, unknown> };
  if (data && typeof data === 'object') for (const split of ['train', 'valid', 'test']) need(['data', split], data[split], 'file');
  if (model && typeof model === 'object' && model.kind === 'folder') need(['model', 'path'], model.path, 'folder');
  return issues;
}
