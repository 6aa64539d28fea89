/**
 * A tiny ICoT run for tests: 2×2 multiplication in the paper's format
 * (64 training, 8 validation and 8 test lines, written by the generator) and
 * a fresh 1-layer model of width 32, so a whole run takes about a second.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeMultFiles } from '../../src-main/methods/icot/mult.ts';

export const TRAIN_EXAMPLES = 64;
export const BATCH = 16;
/** Steps per epoch of the tiny run. */
export const BATCHES_PER_EPOCH = TRAIN_EXAMPLES / BATCH;

/** Writes train.txt, valid.txt and test.txt into `dir`; answers their paths. */
export async function writeTinyMult(dir: string): Promise<{ train: string; valid: string; test: string }> {
  fs.mkdirSync(dir, { recursive: true });
  const files = { train: path.join(dir, 'train.txt'), valid: path.join(dir, 'valid.txt'), test: path.join(dir, 'test.txt') };
  await writeMultFiles({ digitsA: 2, digitsB: 2, counts: { train: TRAIN_EXAMPLES, valid: 8, test: 8 }, seed: 7 }, files);
  return files;
}

/** An ICoT-SI run config over `data` (paths as given: absolute, or relative to whatever the caller resolves against). */
export function tinyConfig(data: { train: string; valid: string; test?: string }, epochs = 3) {
  return {
    recipe: 'icot-si',
    model: { kind: 'fresh', layers: 1, dim: 32, heads: 2, seed: 1 },
    data,
    train: { epochs, batchSize: BATCH, lr: 1e-3 },
    curriculum: { removePerEpoch: 8, smoothingLambda: 4 },
    eval: { batchSize: 8 },
  };
}
