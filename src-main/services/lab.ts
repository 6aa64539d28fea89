/**
 * The lab as main runs it: a data folder, its store, the event bus, and the
 * dispatcher serving the contract on top of them. The Electron shell and
 * `stepwise serve` each open one and hand `dispatch` and `events` to their
 * transport.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createDispatcher } from '../contract/dispatcher.ts';
import type { Dispatch } from '../contract/dispatcher.ts';
import { openStore } from '../store/store.ts';
import type { Store } from '../store/store.ts';
import { adapterHandlers } from './adapters.ts';
import { appHandlers } from './app.ts';
import { methodHandlers } from './methods.ts';
import { configHandlers } from './configs.ts';
import { presetHandlers } from './presets.ts';
import { coconutHandlers } from './coconut.ts';
import { curriculumHandlers } from './curriculum.ts';
import { datasetHandlers } from './datasets.ts';
import { createEventBus } from './events.ts';
import type { EventBus } from './events.ts';
import { discoveryHandlers } from './model-discovery.ts';
import { jobExportHandlers } from './job-export.ts';
import { jobImportHandlers } from './job-import.ts';
import { modelHandlers } from './models.ts';
import { DATABASE_FILE } from './paths.ts';
import { probeHandlers } from './probes.ts';
import { runHandlers } from './runs.ts';
import { createFinetune } from './finetune.ts';
import type { Finetune } from './finetune.ts';
import { createTraining } from './training.ts';
import type { Training } from './training.ts';
import { createModelEvaluations } from './model-evaluation.ts';

export interface LabContext {
  /** Absolute. */
  dataDir: string;
  store: Store;
  events: EventBus;
}

export interface Lab extends LabContext {
  dispatch: Dispatch;
  /** Runs' jobs in this process (start, pause, wait for the end). */
  /** Fine-tune-CoT's rationale generation jobs in this process. */
  finetune: Finetune;
  training: Training;
  /** Cancels this lab's running jobs (their runs resume from their checkpoints) and closes the store. */
  close(): void;
}

/**
 * Opens (creating if need be) the data folder and its store, migrated to the
 * latest schema. Runs left 'running' by a process that died are marked
 * failed, "interrupted: resume to continue from step N".
 */
export function openLab(dataDir: string): Lab {
  const absolute = path.resolve(dataDir);
  try {
    fs.mkdirSync(absolute, { recursive: true });
  } catch (error) {
    throw new Error(
      `Cannot create the data folder ${absolute}: ${(error as Error).message}. Choose another with --data-dir or STEPWISE_DATA_DIR.`,
    );
  }
  const store = openStore(path.join(absolute, DATABASE_FILE));
  const context: LabContext = { dataDir: absolute, store, events: createEventBus() };
  const training = createTraining(context);
  const finetune = createFinetune(context);
  const evaluations = createModelEvaluations(context);
  const dispatch = createDispatcher(
    { ...appHandlers(context), ...methodHandlers(), ...modelHandlers(context), ...evaluations.handlers, ...discoveryHandlers(context), ...datasetHandlers(context), ...runHandlers(context, training), ...training.handlers, ...configHandlers(context), ...presetHandlers(), ...curriculumHandlers(), ...coconutHandlers(), ...adapterHandlers(context), ...probeHandlers(context), ...finetune.handlers, ...jobImportHandlers(context), ...jobExportHandlers(context) },
    (name, error) => console.error(`stepwise: ${name} failed:`, error),
  );
  training.recoverInterrupted();
  finetune.recoverInterrupted();
  return {
    ...context,
    dispatch,
    training,
    finetune,
    close: () => {
      training.close();
      finetune.close();
      evaluations.close();
      store.close();
    },
  };
}
