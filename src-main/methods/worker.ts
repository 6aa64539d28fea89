/**
 * The one worker-thread entry of every method's run: receives the method's id
 * (and the module that defines it, for a method registered at run time) with
 * the job in workerData, runs the method, posts TrainerEvents and the outcome,
 * and obeys pause / resume / cancel between steps (engine/train-job.ts).
 */
import { workerData } from 'node:worker_threads';
import { serveJob } from '../engine/train-job.ts';
import { methodById } from './index.ts';
import type { MethodDefinition } from './method.ts';
import type { MethodJob } from './run-config.ts';

export interface MethodWorkerData {
  method: string;
  /** The definition's module (file URL), imported when the method is not built in. */
  module: string;
  job: MethodJob<unknown>;
}

/** The definition named `id`: built in, or exported (under any name) by `module`. */
async function definitionOf(id: string, module: string): Promise<MethodDefinition> {
  const builtIn = methodById(id);
  if (builtIn) return builtIn;
  const exports = (await import(module)) as Record<string, unknown>;
  const found = Object.values(exports).find((v): v is MethodDefinition => typeof v === 'object' && v !== null && (v as MethodDefinition).id === id && typeof (v as MethodDefinition).run === 'function');
  if (!found) throw new Error(`${module} exports no method "${id}"`);
  return found;
}

const { method, module, job } = workerData as MethodWorkerData;
await serveJob(async (emit, control) => (await definitionOf(method, module)).run(job, emit, control));
