/**
 * A tiny ICoT-SI run in a lab of its own, exported as a job folder (services/job-export.ts): the
 * 2×2 multiplication of ../services/tiny-run.ts on a fresh 1-layer model of width 32, GPT-2 or Llama.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { JsonObject } from '../../src-main/contract/entities.ts';
import { exportJob } from '../../src-main/services/job-export.ts';
import { openLab } from '../../src-main/services/lab.ts';
import { tinyConfig, writeTinyMult } from '../services/tiny-run.ts';

/** One metrics.jsonl record. */
export interface JobMetric {
  step: number;
  epoch: number;
  values: Record<string, number>;
}

export function tinyJobConfig(data: { train: string; valid: string; test?: string }, family: 'gpt2' | 'llama', epochs = 2, extra: Record<string, unknown> = {}) {
  const base = tinyConfig(data, epochs);
  return { ...base, model: { ...base.model, family }, runtime: { threads: 1 }, ...extra } as unknown as JsonObject;
}

/** Writes the 2×2 data under `dir`, a lab under dir/lab with one `method` run of `config(data)`, and exports it to dir/<name>; answers the job folder and the config. */
export async function exportTinyJob(dir: string, name: string, config: (data: { train: string; valid: string; test: string }) => JsonObject, method = 'icot-si') {
  const data = await writeTinyMult(path.join(dir, 'data'));
  const lab = openLab(path.join(dir, 'lab'));
  try {
    const run = lab.store.runs.create({ method, name, config: config(data) });
    const report = exportJob(lab, { runId: run.id, out: path.join(dir, name) });
    return { job: report.dir, report, runId: run.id, data, lab: path.join(dir, 'lab') };
  } finally {
    lab.close();
  }
}

/** The records of a job's out/metrics.jsonl. */
export function readMetrics(job: string, out = 'out'): JobMetric[] {
  return fs.readFileSync(path.join(job, out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as JobMetric);
}

/** The per-step records (loss, grad_norm…) of a job's metrics. */
export const stepRecords = (metrics: JobMetric[]) => metrics.filter((m) => 'loss' in m.values);
