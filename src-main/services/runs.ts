/** runs.* and checkpoints.*: create, read, annotate and delete runs, and read what they recorded. */
import { StepwiseError } from '../contract/errors.ts';
import { knownMethod } from './methods.ts';
import type { Handlers } from '../contract/dispatcher.ts';
import type { Run } from '../contract/entities.ts';
import { removeFromDataDir } from './files.ts';
import type { LabContext } from './lab.ts';
import type { Training } from './training.ts';
import { runFolder } from './paths.ts';

type RunProcedures =
  | 'runs.list'
  | 'runs.get'
  | 'runs.create'
  | 'runs.update'
  | 'runs.tags'
  | 'runs.metricKeys'
  | 'runs.delete'
  | 'runs.metrics'
  | 'runs.logs'
  | 'checkpoints.list';

/** What the training service knows of runs (see training.ts): a live job's pause, and whether a config can start. */
export type LiveRuns = Pick<Training, 'isPaused' | 'checkConfig'>;

export function runHandlers({ store, dataDir, events }: LabContext, live: LiveRuns): Pick<Handlers, RunProcedures> {
  /** The stored run, with `paused` while its job runs in this process. */
  const withLive = (run: Run): Run => {
    const paused = live.isPaused(run.id);
    return paused === undefined ? run : { ...run, paused };
  };
  function existing(procedure: string, id: number): Run {
    const run = store.runs.get(id);
    if (!run) throw new StepwiseError('not_found', `${procedure}: there is no run ${id}`);
    return withLive(run);
  }

  return {
    'runs.list': ({ summary, ...filter }) => {
      if (filter.method !== undefined) knownMethod('runs.list', filter.method);
      const page = store.runs.list(filter);
      const items = page.items.map(withLive);
      if (!summary) return { ...page, items };
      const last = store.metrics.lastValues(items.map((r) => r.id), summary);
      return { ...page, items: items.map((r) => ({ ...r, summary: last.get(r.id)! })) };
    },

    'runs.get': ({ id }) => existing('runs.get', id),

    // A queued run is one that can start: created with the checks runs.start makes.
    'runs.create': async ({ method, name, config, parentRunId }) => {
      if (parentRunId != null && !store.runs.get(parentRunId)) {
        throw new StepwiseError('not_found', `runs.create: parentRunId ${parentRunId} names no run`);
      }
      await live.checkConfig('runs.create', knownMethod('runs.create', method), config);
      const run = store.runs.create({ method, name, config, parentRunId });
      events.emit('run.status', { runId: run.id, status: run.status, error: null, at: run.createdAt });
      return run;
    },

    'runs.update': async ({ id, name, notes, tags, config }) => {
      const run = existing('runs.update', id);
      if (config !== undefined) {
        // Only a queued run's settings change: a started run's config is what its records came from.
        if (run.status !== 'queued') throw new StepwiseError('conflict', `runs.update: run ${id} has started (it is ${run.status}); its settings are what its results came from, so start a new run to change them`);
        await live.checkConfig('runs.update', knownMethod('runs.update', run.method), config);
        if (store.runs.get(id)?.status !== 'queued') throw new StepwiseError('conflict', `runs.update: run ${id} started while its new settings were checked; they were not saved`);
      }
      // One tag once, in the order given.
      return store.runs.update(id, { name, notes, tags: tags && [...new Set(tags)], config })!;
    },

    'runs.tags': () => ({ items: store.runs.tags() }),

    'runs.metricKeys': () => ({ items: store.metrics.allKeys() }),

    'runs.delete': ({ id }) => {
      const run = existing('runs.delete', id);
      if (run.status === 'running') {
        throw new StepwiseError('conflict', `runs.delete: run ${id} is running; cancel it before deleting it`);
      }
      // Files first: if removing them fails, the rows stay and the delete can be retried.
      let bytesFreed = 0;
      for (const checkpoint of store.checkpoints.list(id)) bytesFreed += removeFromDataDir(dataDir, checkpoint.path);
      bytesFreed += removeFromDataDir(dataDir, runFolder(id));
      store.runs.delete(id);
      return { id, bytesFreed };
    },

    'runs.metrics': ({ runId, keys, fromStep, toStep }) => {
      existing('runs.metrics', runId);
      return { runId, series: store.metrics.series(runId, { keys, fromStep, toStep }) };
    },

    'runs.logs': ({ runId, afterId, limit }) => {
      existing('runs.logs', runId);
      const items = store.logs.after(runId, afterId, limit);
      return { items, lastId: items.length ? items[items.length - 1].id : afterId };
    },

    'checkpoints.list': ({ runId }) => {
      existing('checkpoints.list', runId);
      return { items: store.checkpoints.list(runId) };
    },
  };
}
