/**
 * The run store: one SQLite file (better-sqlite3) holding runs, models,
 * datasets, metrics, checkpoints and logs, with a typed repository per table.
 *
 * WAL mode lets the UI read while a run writes; foreign keys are enforced;
 * a busy timeout rides out a second process (e.g. the CLI) writing at the
 * same moment. Opening migrates the file to the latest schema.
 */
import Database from 'better-sqlite3';
import { createCheckpointsRepository } from './checkpoints.ts';
import { createConfigsRepository } from './configs.ts';
import type { ConfigsRepository } from './configs.ts';
import type { CheckpointsRepository } from './checkpoints.ts';
import { createDatasetsRepository } from './datasets.ts';
import type { DatasetsRepository } from './datasets.ts';
import { createLogsRepository } from './logs.ts';
import type { LogsRepository } from './logs.ts';
import { createMetricsRepository } from './metrics.ts';
import type { MetricsRepository } from './metrics.ts';
import { migrate } from './migrations.ts';
import { createModelsRepository } from './models.ts';
import type { ModelsRepository } from './models.ts';
import { createPredictionsRepository } from './predictions.ts';
import type { PredictionsRepository } from './predictions.ts';
import { createProbesRepository } from './probes.ts';
import type { ProbesRepository } from './probes.ts';
import { createRationalesRepository } from './rationales.ts';
import type { RationalesRepository } from './rationales.ts';
import { createRunsRepository } from './runs.ts';
import type { RunsRepository } from './runs.ts';

export interface Store {
  /** The path of the SQLite file. */
  file: string;
  schemaVersion: number;
  runs: RunsRepository;
  models: ModelsRepository;
  datasets: DatasetsRepository;
  metrics: MetricsRepository;
  checkpoints: CheckpointsRepository;
  logs: LogsRepository;
  predictions: PredictionsRepository;
  /** Probe jobs (their captures are files under probes/<id>/). */
  probes: ProbesRepository;
  /** Fine-tune-CoT's generation jobs and rationales. */
  rationales: RationalesRepository;
  /** Saved run configurations. */
  configs: ConfigsRepository;
  /** Runs `fn` in one transaction: everything it writes lands, or nothing does. */
  transaction<T>(fn: () => T): T;
  close(): void;
}

/** Applies the connection settings every Stepwise connection uses. */
export function configure(db: Database.Database): Database.Database {
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.pragma('synchronous = NORMAL');
  return db;
}

export function openStore(file: string): Store {
  const db = configure(new Database(file));
  let schemaVersion: number;
  try {
    schemaVersion = migrate(db);
  } catch (error) {
    db.close();
    throw error;
  }
  return {
    file,
    schemaVersion,
    runs: createRunsRepository(db),
    models: createModelsRepository(db),
    datasets: createDatasetsRepository(db),
    metrics: createMetricsRepository(db),
    checkpoints: createCheckpointsRepository(db),
    logs: createLogsRepository(db),
    predictions: createPredictionsRepository(db),
    probes: createProbesRepository(db),
    rationales: createRationalesRepository(db),
    configs: createConfigsRepository(db),
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),
    close: () => db.close(),
  };
}
