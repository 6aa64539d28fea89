/**
 * The fine-tuning types side by side (a script, not a test):
 *   node scripts/bench-peft.ts                                   # fresh GPT-2 4×128, batch 8
 *   node scripts/bench-peft.ts --family llama --layers 4 --dim 128 --steps 30 --threads 2
 * Trains LoRA, DoRA, IA3 and full fine-tuning, alone and under Bitune, on a
 * generated instruction task for a few steps each and prints the trained
 * parameters and the median time per step after the first five (the session
 * build and warm-up). On a shared machine, run it twice and compare.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PEFT_TYPES } from '../src-main/engine/lora.ts';
import { TrainerControl } from '../src-main/engine/trainer.ts';
import { parseBituneConfig } from '../src-main/methods/bitune/recipe.ts';
import { runBitune } from '../src-main/methods/bitune/run.ts';
import { writeLateTask } from '../test/bitune/late-task.ts';

const { values: a } = parseArgs({
  options: {
    family: { type: 'string', default: 'gpt2' },
    layers: { type: 'string', default: '4' },
    dim: { type: 'string', default: '128' },
    heads: { type: 'string', default: '4' },
    batch: { type: 'string', default: '8' },
    steps: { type: 'string', default: '20' },
    threads: { type: 'string', default: '2' },
  },
});
const batch = Number(a.batch);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'stepwise-bench-peft-'));
const files = writeLateTask(path.join(tmp, 'data'), { train: batch * Number(a.steps), valid: 0, test: 0 });
console.log(`${a.family} ${a.layers}×${a.dim}, batch ${batch}, ${a.steps} steps, ${a.threads} threads`);
try {
  for (const method of ['lora', 'bitune'] as const) {
    for (const peft of PEFT_TYPES) {
      const config = parseBituneConfig({
        method, peft, model: { kind: 'fresh', family: a.family, layers: Number(a.layers), dim: Number(a.dim), heads: Number(a.heads), seed: 1 },
        lora: { r: 8, alpha: 16 }, data: { train: files.train }, train: { epochs: 1, batchSize: batch, lr: 1e-3, seed: 0 },
        eval: { everyEpoch: false }, runtime: { threads: Number(a.threads) },
      });
      const times: number[] = [];
      let trained = '?';
      let last = performance.now();
      await runBitune({ config, runDir: mkdtempSync(path.join(tmp, `${method}-${peft}-`)) }, (e) => {
        if (e.type === 'log') trained = /(\d+) trained parameters/.exec(e.message)?.[1] ?? trained;
        if (e.type !== 'step') return;
        const now = performance.now();
        times.push(now - last);
        last = now;
      }, new TrainerControl());
      const steady = times.slice(5).sort((x, y) => x - y);
      console.log(`${(method === 'lora' ? 'alone' : 'Bitune').padEnd(7)}${peft.padEnd(5)} ${trained.padStart(9)} trained  ${steady.length ? steady[steady.length >> 1].toFixed(1) : '—'} ms/step (median of ${steady.length})`);
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
