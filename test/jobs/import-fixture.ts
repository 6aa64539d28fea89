/**
 * Cluster job folders written by hand, in the documented format
 * (docs/JOB-FORMAT.md), as a job that train.py ran would leave them: job.json,
 * out/run.json, out/metrics.jsonl, predictions, checkpoints and the best model
 * as real Hugging Face folders (the project's own safetensors writer).
 */
import fs from 'node:fs';
import path from 'node:path';
import { exportModelFolder } from '../../src-main/engine/hf/model-folder.ts';
import { initModel } from '../../src-main/engine/init.ts';
import type { GPT2Config } from '../../src-main/engine/models/gpt2.ts';

/** A 1-layer GPT-2 of width 16: a few kilobytes per folder. */
export const TINY_ARCH: GPT2Config = { vocabSize: 32, nPositions: 32, nEmbd: 16, nLayer: 1, nHead: 2, layerNormEpsilon: 1e-5 };

export const STARTED = '2026-12-07T22:00:00.000Z';

export interface JobSpec {
  parent: { runId: number; name: string; lab: string };
  method?: string;
  version?: number;
  /** The job's last finished step; metrics are written for steps 1…step. */
  step: number;
  status: 'running' | 'completed' | 'failed';
  checkpoints: number[];
  best?: boolean;
  machine?: string;
  gpus?: number;
  wallSeconds?: number;
  error?: string | null;
}

export function tinyJobConfig(): Record<string, unknown> {
  return {
    method: 'icot-si',
    recipe: 'icot-si',
    model: { kind: 'fresh', layers: 1, dim: 16, heads: 2, seed: 1 },
    data: { train: 'data/train.txt', valid: 'data/valid.txt' },
    train: { epochs: 3, batchSize: 4, lr: 1e-3 },
    curriculum: { removePerEpoch: 8, smoothingLambda: 4 },
    eval: { batchSize: 8 },
  };
}

/** Loss at a step of the hand-written job: 3 falling by 0.25 a step. */
export const lossAt = (step: number) => 3 - step / 4;

function writeJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

function modelFolder(dir: string, seed: number): void {
  exportModelFolder(dir, { arch: TINY_ARCH, params: initModel(TINY_ARCH, seed) });
}

/** Writes (or brings up to date) a job folder at `dir`, as far as `spec` says the job got. */
export function writeJob(dir: string, spec: JobSpec): void {
  writeJson(path.join(dir, 'job.json'), {
    format: 'stepwise-job',
    version: spec.version ?? 1,
    method: spec.method ?? 'icot-si',
    parent: spec.parent,
    config: tinyJobConfig(),
    exported: { at: '2026-12-07T21:55:00.000Z', stepwise: '0.1.0', commit: 'abc1234' },
  });
  const out = path.join(dir, 'out');
  const ended = spec.status === 'running' ? null : new Date(Date.parse(STARTED) + (spec.wallSeconds ?? 95) * 1000).toISOString();
  writeJson(path.join(out, 'run.json'), {
    format: 'stepwise-job-run',
    version: 1,
    status: spec.status,
    started: STARTED,
    ended,
    wallSeconds: spec.wallSeconds ?? 95,
    step: spec.step,
    epoch: Math.floor(spec.step / 4),
    machine: spec.machine ?? 'gpu-node-7',
    worldSize: spec.gpus ?? 2,
    gpus: { count: spec.gpus ?? 2, name: (spec.gpus ?? 2) > 0 ? 'NVIDIA H100 80GB HBM3' : null },
    torch: '2.5.1',
    python: '3.11.9',
    jobCommit: 'abc1234',
    error: spec.error ?? null,
  });
  const lines: string[] = [];
  for (let step = 1; step <= spec.step; step++) {
    lines.push(JSON.stringify({ step, values: { loss: lossAt(step), lr: 1e-3 }, time: Date.parse(STARTED) + step * 1000 }));
    if (step % 4 === 0) lines.push(JSON.stringify({ step, values: { val_accuracy: step / 16, cot_removed: step * 2 }, time: Date.parse(STARTED) + step * 1000 + 500 }));
  }
  fs.writeFileSync(path.join(out, 'metrics.jsonl'), lines.map((l) => `${l}\n`).join(''));
  for (let step = 4; step <= spec.step; step += 4) {
    const rows = [0, 1, 2].map((index) => ({ index, input: `${index} 2 * 3 4`, target: `0 8 #### 4 0 8`, generated: index < 2 ? '#### 4 0 8' : '#### 4 0 9', answer: index < 2 ? '4 0 8' : '4 0 9', correct: index < 2, cotTokens: 0 }));
    fs.mkdirSync(path.join(out, 'predictions'), { recursive: true });
    fs.writeFileSync(path.join(out, 'predictions', `valid-${step}.jsonl`), rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
  }
  for (const step of spec.checkpoints) {
    const at = path.join(out, 'checkpoints', `step-${step}`);
    if (fs.existsSync(path.join(at, 'model.safetensors'))) continue;
    modelFolder(at, step);
    fs.writeFileSync(path.join(at, 'trainer.pt'), Buffer.alloc(256, 7)); // optimizer state: stays on the cluster
  }
  if (spec.best) modelFolder(path.join(out, 'best'), 99);
}
