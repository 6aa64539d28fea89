/**
 * Events main sends to the renderer, unasked. Each transport delivers every
 * event to every listener of that name; there is no subscription handshake.
 */
import type { AdapterEvents } from './areas/adapters-events.ts';
import { adapterEventNames } from './areas/adapters-events.ts';
import type { FinetuneEvents } from './areas/finetune-events.ts';
import { finetuneEventNames } from './areas/finetune-events.ts';
import type { JobEvents } from './areas/jobs-events.ts';
import { jobEventNames } from './areas/jobs-events.ts';
import type { LibraryEvents } from './areas/library-events.ts';
import { libraryEventNames } from './areas/library-events.ts';
import type { ProbeEvents } from './areas/probes-events.ts';
import { probeEventNames } from './areas/probes-events.ts';
import type { LogEvent, RunStatus } from './entities.ts';

export interface EventPayloads extends FinetuneEvents, ProbeEvents, AdapterEvents, LibraryEvents, JobEvents {
  /** A run changed status (including its creation, as 'queued'). */
  'run.status': {
    runId: number;
    status: RunStatus;
    /** Set when status is 'failed'. */
    error: string | null;
    at: number;
    /**
     * A running run's job was paused (true) or resumed (false); the status
     * stays 'running' meanwhile. Left out when pausing is not what changed.
     */
    paused?: boolean;
  };
  /** Metric values recorded at one step; `values` maps metric key → value. */
  'run.metric': {
    runId: number;
    step: number;
    values: Record<string, number>;
    wallTime: number;
  };
  /** A log line, as stored (its id can be passed to runs.logs as afterId). */
  'run.log': LogEvent;
  /** Where a running run stands. Fields a method does not know are null. */
  'run.progress': {
    runId: number;
    step: number;
    totalSteps: number | null;
    epoch: number | null;
    examplesPerSecond: number | null;
    etaSeconds: number | null;
    /** Whether the job is paused (the run's status stays 'running'). */
    paused?: boolean;
    /** Training loss of the last step. */
    loss?: number | null;
    /** Tokens (padding included) per second in the last step. */
    tokensPerSecond?: number | null;
    /** Seconds since this job started (a resumed run counts from its resumption). */
    elapsedSeconds?: number | null;
    /** The method's own figures of the last step (e.g. ICoT-SI's scheduledRemoval, allCotRemoved). */
    figures?: Record<string, number>;
    /** Those figures in a few words, as the method says them (e.g. "CoT removed 12"); null when it says none. */
    note?: string | null;
  };
}

export type EventName = keyof EventPayloads;

export const EVENT_NAMES: EventName[] = [
  'run.status',
  'run.metric',
  'run.log',
  'run.progress',
  ...finetuneEventNames,
  ...probeEventNames,
  ...adapterEventNames,
  ...libraryEventNames,
  ...jobEventNames,
];
