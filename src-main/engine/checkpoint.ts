/**
 * Checkpoints: `step-NNNNNNN.safetensors` holds the parameters (their Hugging
 * Face names) and AdamW's moments (`optimizer.m.<name>`, `optimizer.v.<name>`);
 * `step-NNNNNNN.json` records the step, the optimizer's own step count, the run
 * configuration and the data position. The JSON is written last, atomically:
 * a checkpoint without it is incomplete and is never offered for resuming.
 */
import { existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BatchPosition } from './batches.ts';
import { readSafetensors, writeSafetensors, type TensorMap } from './safetensors.ts';

export const CHECKPOINT_FORMAT = 1;

export interface CheckpointRecord {
  format: number;
  /** Global training step (optimizer updates done). */
  step: number;
  /** AdamW's step count since its last reset. */
  optimizerStep: number;
  data: BatchPosition;
  /** The run's configuration, verbatim. */
  config: unknown;
  /** Anything else the trainer must restore (e.g. curriculum state). */
  extra?: Record<string, unknown>;
  loss?: number;
  createdAt: string;
  /** File name of the tensors, relative to the record. */
  tensors: string;
}

export interface CheckpointState {
  record: CheckpointRecord;
  params: TensorMap;
  m: TensorMap;
  v: TensorMap;
}

export class CheckpointError extends Error {
  constructor(file: string, what: string) {
    super(`checkpoint ${file}: ${what}`);
    this.name = 'CheckpointError';
  }
}

const stem = (step: number) => `step-${String(step).padStart(7, '0')}`;

/** Write a checkpoint into `dir`; returns the record's path and the bytes written. */
export function saveCheckpoint(dir: string, state: CheckpointState): { path: string; bytes: number } {
  const base = stem(state.record.step);
  const tensors: TensorMap = new Map();
  for (const [n, t] of state.params) tensors.set(n, t);
  for (const [n, t] of state.m) tensors.set(`optimizer.m.${n}`, t);
  for (const [n, t] of state.v) tensors.set(`optimizer.v.${n}`, t);
  const tensorFile = path.join(dir, `${base}.safetensors`);
  writeSafetensors(tensorFile, tensors, { format: 'stepwise-checkpoint', step: String(state.record.step) });
  const record: CheckpointRecord = { ...state.record, format: CHECKPOINT_FORMAT, tensors: `${base}.safetensors` };
  const jsonFile = path.join(dir, `${base}.json`);
  const tmp = `${jsonFile}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(record, null, 2));
  renameSync(tmp, jsonFile);
  return { path: jsonFile, bytes: statSync(tensorFile).size + statSync(jsonFile).size };
}

/** Load a checkpoint from its JSON record; every problem names the file and what is wrong. */
export function loadCheckpoint(jsonFile: string, paramNames?: string[]): CheckpointState {
  let record: CheckpointRecord;
  try {
    record = JSON.parse(readFileSync(jsonFile, 'utf8'));
  } catch (err) {
    throw new CheckpointError(jsonFile, `cannot read the record (${(err as Error).message})`);
  }
  if (record.format !== CHECKPOINT_FORMAT) throw new CheckpointError(jsonFile, `format ${record.format} is not ${CHECKPOINT_FORMAT}`);
  for (const key of ['step', 'optimizerStep'] as const) {
    if (!Number.isInteger(record[key]) || record[key] < 0) throw new CheckpointError(jsonFile, `'${key}' must be a non-negative integer`);
  }
  if (!record.data || !Number.isInteger(record.data.epoch) || !Number.isInteger(record.data.index)) throw new CheckpointError(jsonFile, "'data' must hold the data position {epoch, index}");
  const tensorFile = path.join(path.dirname(jsonFile), record.tensors);
  if (!existsSync(tensorFile)) throw new CheckpointError(jsonFile, `its tensors file ${record.tensors} is missing`);
  let all: TensorMap;
  try {
    all = readSafetensors(tensorFile).tensors;
  } catch (err) {
    throw new CheckpointError(jsonFile, (err as Error).message);
  }
  const params: TensorMap = new Map();
  const m: TensorMap = new Map();
  const v: TensorMap = new Map();
  for (const [n, t] of all) {
    if (n.startsWith('optimizer.m.')) m.set(n.slice('optimizer.m.'.length), t);
    else if (n.startsWith('optimizer.v.')) v.set(n.slice('optimizer.v.'.length), t);
    else params.set(n, t);
  }
  for (const name of paramNames ?? [...params.keys()]) {
    if (!params.has(name)) throw new CheckpointError(jsonFile, `parameter '${name}' is missing from ${record.tensors}`);
    if (!m.has(name) || !v.has(name)) throw new CheckpointError(jsonFile, `optimizer state for '${name}' is missing from ${record.tensors}`);
  }
  return { record, params, m, v };
}

/** Complete checkpoints in `dir`, oldest first. */
export function listCheckpoints(dir: string): { step: number; path: string }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^step-\d+\.json$/.test(f))
    .map((f) => ({ step: Number(f.slice(5, -5)), path: path.join(dir, f) }))
    .sort((a, b) => a.step - b.step);
}
