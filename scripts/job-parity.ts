/**
 * How closely an exported job's train.py follows Stepwise, in figures (issue 25): for a tiny ICoT-SI
 * run on GPT-2 and on Llama, the largest relative difference over its steps between train.py's and
 * Stepwise's loss and gradient norm; then train.py against itself under torchrun --nproc_per_node=2
 * (gloo) and in micro-batches of 4. The tests (test/jobs/) bound these; this prints them.
 *
 *   node scripts/job-parity.ts [--epochs 4] [--python /usr/bin/python3]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { TrainerControl, type TrainerEvent } from '../src-main/engine/trainer.ts';
import { parseIcotConfig } from '../src-main/methods/icot/recipe.ts';
import { runIcot } from '../src-main/methods/icot/run.ts';
import { exportTinyJob, readMetrics, stepRecords, tinyJobConfig, type JobMetric } from '../test/jobs/tiny-job.ts';

const { values } = parseArgs({ options: { epochs: { type: 'string', default: '4' }, python: { type: 'string', default: 'python3' } } });
const epochs = Number(values.epochs);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-job-parity-'));

function python(args: string[], cwd: string): void {
  const r = spawnSync(values.python!, args, { cwd, env: { ...process.env, OMP_NUM_THREADS: '1' }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${values.python} ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
}

const maxRel = (xs: number[], ref: number[]) => Math.max(...xs.map((x, i) => Math.abs(x - ref[i]) / Math.abs(ref[i])));
const fmt = (x: number) => x.toExponential(1);
const losses = (ms: JobMetric[]) => stepRecords(ms).map((m) => m.values.loss);
const norms = (ms: JobMetric[]) => stepRecords(ms).map((m) => m.values.grad_norm);

try {
  process.stdout.write(`tiny ICoT-SI (2×2, 1 layer × 32, batch 16), ${epochs} epochs of 4 steps; max relative difference over the steps\n`);
  process.stdout.write(`${'model'.padEnd(8)}${'comparison'.padEnd(36)}${'loss'.padStart(10)}${'grad norm'.padStart(12)}\n`);
  for (const family of ['gpt2', 'llama'] as const) {
    const { job, data } = await exportTinyJob(path.join(dir, family), 'job', (d) => tinyJobConfig(d, family, epochs));
    python(['train.py', 'job.json', '--threads', '1', '--out', 'one'], job);
    const one = readMetrics(job, 'one');
    const events: TrainerEvent[] = [];
    await runIcot({ config: parseIcotConfig(tinyJobConfig(data, family, epochs)), runDir: path.join(dir, family, 'stepwise') }, (e) => events.push(e), new TrainerControl());
    const steps = events.flatMap((e) => (e.type === 'step' ? [e] : []));
    const row = (what: string, ms: JobMetric[], ref: { loss: number[]; norm: number[] }) =>
      process.stdout.write(`${family.padEnd(8)}${what.padEnd(36)}${fmt(maxRel(losses(ms), ref.loss)).padStart(10)}${fmt(maxRel(norms(ms), ref.norm)).padStart(12)}\n`);
    row('train.py vs Stepwise', one, { loss: steps.map((e) => e.loss), norm: steps.map((e) => e.gradNorm) });
    python(['-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', '--redirects', '1', '--tee', '1', 'train.py', 'job.json', '--threads', '1', '--out', 'two'], job);
    row('torchrun ×2 (gloo) vs 1 process', readMetrics(job, 'two'), { loss: losses(one), norm: norms(one) });
    python(['train.py', 'job.json', '--threads', '1', '--micro-batch', '4', '--out', 'micro'], job);
    row('micro-batches of 4 vs whole batch', readMetrics(job, 'micro'), { loss: losses(one), norm: norms(one) });
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
