/** runs.* and checkpoints.*: create, read, annotate and delete runs, and read what they recorded. */
import { StepwiseError } from '../contract/errors.ts';
import { knownMethod } from './methods.ts';
import type { Handlers } from '../contract/dispatcher.ts';
import type { Run } from '../contract/entities.ts';
import { removeFromDataDir } from './files.ts';
import type { LabContext } from './lab.ts';
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

/** What the training service knows of a run's live job (see training.ts). */
export interface LiveRuns {
  isPaused(runId: number): boolean | undefined;
}

export function runHandlers({ store, dataDir, events }: LabContext, live?: LiveRuns): Pick<Handlers, RunProcedures> {
  /** The stored run, with `paused` while its job runs in this process. */
  const withLive = (run: Run): Run => {
    const paused = live?.isPaused(run.id);
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

    'runs.create': ({ method, name, config, parentRunId }) => {
      if (parentRunId != null && !store.runs.get(parentRunId)) {
        throw new StepwiseError('not_found', `runs.create: parentRunId ${parentRunId} names no run`);
      }
      knownMethod('runs.create', method);
      const run = store.runs.create({ method, name, config, parentRunId });
      events.emit('run.status', { runId: run.id, status: run.status, error: null, at: run.createdAt });
      return run;
    },

    'runs.update': ({ id, name, notes, tags }) => {
      existing('runs.update', id);
      // One tag once, in the order given.
      return store.runs.update(id, { name, notes, tags: tags && [...new Set(tags)] })!;
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
