/**
 * The ICoT-SI proof's recipe, shared by its test (test/proof/internalization.test.ts) and
 * its script (scripts/icot-proof.ts): the example configs resources/configs/icot-2x2-cpu-cot.json
 * and an internalize config (the test's: icot-2x2-cpu-internalize-slow.json) on generated 2×2
 * data, with seeds and threads set.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { writeMultFiles } from '../../src-main/methods/icot/mult.ts';
import { parseIcotConfig } from '../../src-main/methods/icot/recipe.ts';
import type { IcotRunConfig } from '../../src-main/methods/icot/recipe.ts';

export const TRAIN_EXAMPLES = 7600;
/** 237 batches of 32 per epoch (the last 16 examples of a shuffled epoch make no batch). */
export const BATCHES_PER_EPOCH = Math.floor(TRAIN_EXAMPLES / 32);

/** Writes the proof's 2×2 splits (7,600 / 200 / 200 problems, no pair shared) into `dir`; answers their paths. */
export async function writeProofData(dir: string): Promise<{ train: string; valid: string; test: string }> {
  const files = { train: path.join(dir, 'train.txt'), valid: path.join(dir, 'valid.txt'), test: path.join(dir, 'test.txt') };
  await writeMultFiles({ digitsA: 2, digitsB: 2, counts: { train: TRAIN_EXAMPLES, valid: 200, test: 200 }, seed: 1 }, files);
  return files;
}

function example(name: string): Record<string, any> {
  return JSON.parse(readFileSync(new URL(`../../resources/configs/${name}`, import.meta.url), 'utf8'));
}

export interface ProofOptions {
  data: { train: string; valid: string; test: string };
  /** Seeds the fresh model and both runs' data order (and removal offsets). */
  seed: number;
  threads: number;
  /** The second run's example config (default icot-2x2-cpu-internalize.json). */
  internalize?: string;
  /** The first run's example config (default icot-2x2-cpu-cot.json). */
  cot?: string;
}

/** The three runs: explicit CoT from scratch, ICoT-SI from its best model, and No CoT from scratch with both runs' steps. */
export function proofConfigs({ data, seed, threads, internalize = 'icot-2x2-cpu-internalize.json', cot: cotName = 'icot-2x2-cpu-cot.json' }: ProofOptions): {
  cot: IcotRunConfig;
  icot: (cotModel: string) => IcotRunConfig;
  nocot: IcotRunConfig;
} {
  const cot = example(cotName);
  const icot = example(internalize);
  const runtime = { ...cot.runtime, threads, checkpointEveryEpochs: 1000 };
  const cotConfig = { ...cot, model: { ...cot.model, seed }, data, train: { ...cot.train, seed }, eval: { ...cot.eval, everyEpoch: false }, runtime };
  return {
    cot: parseIcotConfig(cotConfig, cotName),
    icot: (cotModel) => parseIcotConfig({ ...icot, model: { kind: 'folder', path: cotModel }, data, train: { ...icot.train, seed }, runtime }, internalize),
    nocot: parseIcotConfig({ ...cotConfig, recipe: 'nocot', train: { ...cotConfig.train, epochs: cot.train.epochs + icot.train.epochs } }, cotName),
  };
}
