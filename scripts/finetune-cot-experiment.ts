/**
 * Fine-tune-CoT experiment with the paper's real teacher rationales
 * (../shared/data/fine-tune-cot/tasks): for coin_flip and
 * tracking_shuffled_objects, a Fine-tune-CoT student (trained on the
 * text-davinci-002 rationales whose answer was right, the paper's filter) and
 * a vanilla student (every training question's gold answer), same shape and epochs, scored on the
 * paper's test split, printed beside the paper's GPT-2 (124M) row.
 *
 *   node scripts/finetune-cot-experiment.ts                        # small fresh models, CPU
 *   node scripts/finetune-cot-experiment.ts --model ~/models/gpt2 --provider cuda --epochs 20 --lr 3e-4 --batch 8
 *   options: --tasks coin_flip,tracking_shuffled_objects --formats vanilla,ft-cot --layers 2 --dim 128 --heads 4 --epochs 30 --lr 1e-3 --batch 16 --threads N
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { TrainerControl } from '../src-main/engine/trainer.ts';
import { PAPER_RESULTS } from '../src-main/methods/finetune-cot/paper.ts';
import { parseFtCotConfig } from '../src-main/methods/finetune-cot/recipe.ts';
import { runFtCot } from '../src-main/methods/finetune-cot/run.ts';
import { PAPER_TASKS } from '../src-main/methods/finetune-cot/tasks.ts';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: 'coin_flip,tracking_shuffled_objects' },
    formats: { type: 'string', default: 'vanilla,ft-cot' },
    shared: { type: 'string', default: path.resolve(import.meta.dirname, '../../shared/data/fine-tune-cot/tasks') },
    model: { type: 'string' },
    provider: { type: 'string', default: 'cpu' },
    layers: { type: 'string', default: '2' },
    dim: { type: 'string', default: '128' },
    heads: { type: 'string', default: '4' },
    epochs: { type: 'string', default: '30' },
    lr: { type: 'string', default: '1e-3' },
    batch: { type: 'string', default: '16' },
    threads: { type: 'string' },
  },
});

const out = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-ftcot-experiment-'));
const rows: string[] = [];
for (const task of values.tasks!.split(',')) {
  const file = path.join(values.shared!, `${task}.jsonl`);
  const acc: Record<string, string> = {};
  for (const format of values.formats!.split(',') as ('vanilla' | 'ft-cot')[]) {
    const config = parseFtCotConfig({
      format, answerType: PAPER_TASKS[task], task,
      model: values.model
        ? { kind: 'folder', path: path.resolve(values.model) }
        : { kind: 'fresh', layers: Number(values.layers), dim: Number(values.dim), heads: Number(values.heads), seed: 0 },
      // Fine-tune-CoT learns from the rationales whose teacher answer was right (the paper's filter); vanilla from every training question's gold answer.
      data: { train: file, trainSplit: 'train', test: file, testSplit: 'test', keptOnly: format === 'ft-cot' },
      train: { epochs: Number(values.epochs), batchSize: Number(values.batch), lr: Number(values.lr), warmupSteps: 50, schedule: 'cosine', seed: 0 },
      eval: { batchSize: 32 },
      runtime: { provider: values.provider, ...(values.threads ? { threads: Number(values.threads) } : {}) },
    });
    const t0 = performance.now();
    const r = await runFtCot({ config, runDir: path.join(out, task, format) }, (e) => {
      if (e.type === 'log') console.error(`${task} ${format}: ${e.message}`);
      if (e.type === 'step' && e.step % 100 === 0) console.error(`${task} ${format}: step ${e.step}/${e.totalSteps} loss ${e.loss.toFixed(3)}`);
    }, new TrainerControl());
    acc[format] = r.test ? `${(100 * r.test.accuracy).toFixed(2)} (${r.test.correct}/${r.test.total})` : 'n/a';
    console.error(`${task} ${format}: test ${acc[format]} in ${((performance.now() - t0) / 1e3).toFixed(0)} s`);
  }
  const paper = PAPER_RESULTS[task];
  rows.push(`| ${task} | ${acc.vanilla ?? '–'} | ${acc['ft-cot'] ?? '–'} | ${paper?.vanilla?.toFixed(2) ?? '–'} | ${paper?.ftCot?.toFixed(2) ?? '–'} |`);
}
const student = values.model ? `GPT-2 from ${values.model}` : `fresh ${values.layers}×${values.dim}, word tokenizer`;
console.log(`\nStudents: ${student}; ${values.epochs} epochs, lr ${values.lr}, batch ${values.batch}; paper: GPT-2 (124M)\n`);
console.log('| task | vanilla | Fine-tune-CoT | paper vanilla | paper Fine-tune-CoT |\n|---|---|---|---|---|');
console.log(rows.join('\n'));
