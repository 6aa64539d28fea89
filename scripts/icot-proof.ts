/**
 * The ICoT-SI proof of `npm test` for any seed (a script, not a test):
 *
 *   node scripts/icot-proof.ts --seed 2 [--internalize icot-2x2-cpu-internalize-slow.json]
 *                              [--cot icot-2x2-cpu-cot.json] [--nocot] [--threads 1] [--out /tmp/proof-2]
 *
 * Runs resources/configs/icot-2x2-cpu-cot.json (or the example config --cot names) from scratch, then
 * icot-2x2-cpu-internalize.json (or the example config --internalize names)
 * from its best model, on the proof's generated 2×2 data, with the model and
 * data-order seeds set to --seed; with --nocot,
 * the No-CoT baseline of the same shape and budget beside them. Each run is a
 * worker with --threads intra-op threads. Validation per epoch goes to stderr
 * as it comes; the test results are printed as JSON at the end.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { icotSi } from '../src-main/methods/icot/index.ts';
import { startMethodJob } from '../src-main/methods/job.ts';
import type { IcotRunConfig } from '../src-main/methods/icot/recipe.ts';
import type { IcotOutcome } from '../src-main/methods/icot/run.ts';
import { proofConfigs, writeProofData } from '../test/proof/recipe.ts';

const { values: a } = parseArgs({
  options: {
    seed: { type: 'string', default: '0' },
    threads: { type: 'string', default: '1' },
    nocot: { type: 'boolean', default: false },
    internalize: { type: 'string', default: 'icot-2x2-cpu-internalize.json' },
    cot: { type: 'string', default: 'icot-2x2-cpu-cot.json' },
    out: { type: 'string' },
  },
});
const seed = Number(a.seed);
const threads = Number(a.threads);
if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed expects a whole number ≥ 0, not ${a.seed}`);
if (!Number.isInteger(threads) || threads < 1) throw new Error(`--threads expects a whole number ≥ 1, not ${a.threads}`);
const dir = a.out ?? mkdtempSync(path.join(os.tmpdir(), `stepwise-proof-${seed}-`));
mkdirSync(dir, { recursive: true });
const configs = proofConfigs({ data: await writeProofData(dir), seed, threads, internalize: a.internalize, cot: a.cot });

const t0 = performance.now();
const say = (m: string) => process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(0)} s] ${m}\n`);

function run(name: string, config: IcotRunConfig): Promise<IcotOutcome> {
  const job = startMethodJob(icotSi, { config, runDir: path.join(dir, name) }, (e) => {
    if (e.type === 'metric' && 'val_accuracy' in e.values) say(`${name} epoch ${e.epoch}: validation ${e.values.val_accuracy}, CoT tokens removed ${e.values.cot_removed ?? 0}`);
  });
  return job.done as Promise<IcotOutcome>;
}

const nocot = a.nocot ? run('nocot', configs.nocot) : null;
const cot = await run('cot', configs.cot);
say(`cot: test ${JSON.stringify(cot.test)}`);
if (!cot.best) throw new Error('the explicit-CoT run kept no best model');
const icot = await run('icot', configs.icot(cot.best.path));
say(`icot: test ${JSON.stringify(icot.test)}`);
const base = nocot ? await nocot : null;
const brief = (o: IcotOutcome | null) => (o?.test ? { accuracy: o.test.accuracy, meanCotTokens: o.test.meanCotTokens } : null);
console.log(JSON.stringify({ seed, dir, minutes: +((performance.now() - t0) / 60_000).toFixed(1), cot: brief(cot), icot: brief(icot), nocot: brief(base) }));
