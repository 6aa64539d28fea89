/**
 * Small ICoT-SI experiments on generated A×B multiplication (a script, not a test):
 *
 *   node scripts/icot-small.ts '{"digits":[2,2],"train":8000, "config": {...partial IcotRunConfig...}}'
 *
 * Writes train/valid/test splits that never share a pair, runs the given
 * recipe and prints per-epoch validation accuracy and the final test result.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { TrainerControl } from '../src-main/engine/trainer.ts';
import { writeMultFiles } from '../src-main/methods/icot/mult.ts';
import { parseIcotConfig } from '../src-main/methods/icot/recipe.ts';
import { runIcot } from '../src-main/methods/icot/run.ts';

const spec = JSON.parse(process.argv[2] ?? '{}');
const [A, B] = spec.digits ?? [2, 2];
const out = spec.out ?? `/tmp/icot-small-${process.pid}`;
mkdirSync(out, { recursive: true });
const data = { train: path.join(out, 'train.txt'), valid: path.join(out, 'valid.txt'), test: path.join(out, 'test.txt') };
await writeMultFiles({ digitsA: A, digitsB: B, counts: { train: spec.train ?? 8000, valid: spec.valid ?? 200, test: spec.test ?? 200 }, seed: 1 }, data);
const config = parseIcotConfig({ ...(spec.config ?? {}), data });
const t0 = performance.now();
const log = (m: string) => process.stdout.write(`[${((performance.now() - t0) / 1000).toFixed(0)} s] ${m}\n`);
const res = await runIcot({ config, runDir: path.join(out, 'run') }, (e) => {
  if (e.type === 'metric') log(`step ${e.step} epoch ${e.epoch} ${JSON.stringify(e.values)}`);
  if (e.type === 'log' && !e.message.startsWith('optimizer reset')) log(e.message);
}, new TrainerControl());
log(`status ${res.status} test ${JSON.stringify(res.test)}`);
