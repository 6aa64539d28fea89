/**
 * LoRA against Bitune (and, if asked, Bitune's ablations) with the same
 * frozen base, data and budget on the late-answer task of
 * test/bitune/late-task.ts, over several seeds; prints test accuracy
 * (greedy, exact match), multiple-choice acc over the ten digits, the final
 * α per layer and the wall time of each run.
 *
 *   node scripts/bitune-experiment.ts '{"train":1024,"epochs":8,"seeds":[1,2,3]}'
 *
 * Fields (all optional): train, test (examples), epochs, batch, lr, layers,
 * dim, heads, r, alpha, seeds, variants (e.g. ["lora","full","no-mixing"]),
 * threads.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TrainerControl, type TrainerEvent } from '../src-main/engine/trainer.ts';
import { parseBituneConfig } from '../src-main/methods/bitune/recipe.ts';
import { runBitune } from '../src-main/methods/bitune/run.ts';
import { ABLATIONS } from '../src-main/methods/bitune/variant.ts';
import { writeLateTask } from '../test/bitune/late-task.ts';

const spec = JSON.parse(process.argv[2] ?? '{}') as Record<string, unknown>;
const num = (key: string, fallback: number) => (typeof spec[key] === 'number' ? (spec[key] as number) : fallback);
const seeds = Array.isArray(spec.seeds) ? (spec.seeds as number[]) : [1];
const variants = Array.isArray(spec.variants) ? (spec.variants as string[]) : ['lora', 'full'];
for (const v of variants) if (v !== 'lora' && !(ABLATIONS as readonly string[]).includes(v)) throw new Error(`unknown variant ${v} (lora or one of ${ABLATIONS.join(', ')})`);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-bitune-exp-'));
const files = writeLateTask(path.join(dir, 'late'), { train: num('train', 512), valid: 0, test: num('test', 200) });
const rows: string[][] = [['variant', 'seed', 'test acc', 'mc acc', 'final loss', 'final α_k', 'seconds']];
try {
  for (const seed of seeds) {
    for (const v of variants) {
      const config = parseBituneConfig({
        method: v === 'lora' ? 'lora' : 'bitune',
        model: { kind: 'fresh', layers: num('layers', 2), dim: num('dim', 64), heads: num('heads', 4), seed: 0 },
        lora: { r: num('r', 8), alpha: num('alpha', 16), seed },
        ...(v === 'lora' ? {} : { bitune: { ablation: v } }),
        data: { train: files.train, test: files.test },
        train: { epochs: num('epochs', 6), batchSize: num('batch', 16), lr: num('lr', 3e-3), seed },
        eval: { choices: [files.choices], everyEpoch: false },
        runtime: { threads: num('threads', 1) },
      });
      let last: Extract<TrainerEvent, { type: 'step' }> | null = null;
      const t0 = performance.now();
      const out = await runBitune({ config, runDir: path.join(dir, `${v}-${seed}`) }, (e) => {
        if (e.type === 'step') last = e;
      }, new TrainerControl());
      const step = last as Extract<TrainerEvent, { type: 'step' }> | null;
      const alphas = Object.entries(step?.info ?? {}).filter(([k]) => k.startsWith('alpha_k_')).map(([, a]) => a.toFixed(3)).join(' ');
      rows.push([v, String(seed), pct(out.test!.accuracy), pct(out.test!.choices.choices.acc), step ? step.loss.toFixed(3) : '—', alphas || '—', ((performance.now() - t0) / 1e3).toFixed(1)]);
      process.stderr.write(`${rows.at(-1)!.join('  ')}\n`);
    }
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
process.stdout.write(`${rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n')}\n`);

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}
