/**
 * A grid of Bitune and LoRA runs in one command: tasks × methods × PEFT types
 * × seeds, each run a real run in a lab's data folder (so `stepwise results`
 * and the Bitune page show them), one after another, with a progress bar and
 * ETA over the whole grid. Ctrl-C cancels the current run and ends the grid
 * (a second Ctrl-C quits at once); running the same command again skips the
 * runs already completed. At the end it prints the results table of the
 * grid's runs: per method its mean over seeds, spread and 95% bootstrap
 * interval, and the paired difference from its baseline.
 *
 *   node scripts/bitune-experiment.ts --data-dir /tmp/bitune-exp --tasks late,choice-late --seeds 1-10
 *   node scripts/bitune-experiment.ts --methods lora,bitune --peft lora,dora,ia3,full --seeds 1,2,3
 *   npx stepwise results --data-dir /tmp/bitune-exp        # the table again, later
 *
 * The tasks are generated from a fixed seed (test/bitune/reading-tasks.ts):
 * late, lookup, choice, choice-late. Every run of a task reads the same
 * files; a run's seed sets its fresh frozen base, its adapters' initialisation
 * and its data order. Options: --data-dir (default: a new folder in the
 * system's temporary folder), --tasks, --methods (lora, bitune, or a Bitune
 * ablation such as no-mixing), --peft, --seeds (1,2,3 or 1-10), --train,
 * --test (examples), --epochs, --batch, --lr, --layers, --dim, --heads, --r,
 * --alpha, --threads (per run; default 1), --metric.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { formatResults } from '../src-main/cli/commands/results.ts';
import { progressBar } from '../src-main/cli/progress.ts';
import type { AdapterOutputs } from '../src-main/contract/areas/adapters.ts';
import type { JsonObject, Run } from '../src-main/contract/entities.ts';
import { ABLATIONS } from '../src-main/methods/bitune/variant.ts';
import { armLabel } from '../src-main/services/adapters-compare.ts';
import { openLab } from '../src-main/services/lab.ts';
import { READING_TASKS, writeReadingTask, type ReadingTask } from '../test/bitune/reading-tasks.ts';

const PEFT = ['lora', 'dora', 'ia3', 'full'];

const { values } = parseArgs({
  options: {
    'data-dir': { type: 'string' },
    tasks: { type: 'string', default: 'late' },
    methods: { type: 'string', default: 'lora,bitune' },
    peft: { type: 'string', default: 'lora' },
    seeds: { type: 'string', default: '1,2,3' },
    train: { type: 'string', default: '512' },
    test: { type: 'string', default: '200' },
    epochs: { type: 'string', default: '6' },
    batch: { type: 'string', default: '16' },
    lr: { type: 'string', default: '3e-3' },
    layers: { type: 'string', default: '2' },
    dim: { type: 'string', default: '64' },
    heads: { type: 'string', default: '4' },
    r: { type: 'string', default: '8' },
    alpha: { type: 'string', default: '16' },
    threads: { type: 'string', default: '1' },
    metric: { type: 'string', default: 'test_accuracy' },
  },
});

function fail(message: string): never {
  process.stderr.write(`bitune-experiment: ${message}\n`);
  process.exit(2);
}
function number(name: keyof typeof values, { integer = true } = {}): number {
  const text = values[name] as string;
  const x = Number(text);
  if (!Number.isFinite(x) || x <= 0 || (integer && !Number.isInteger(x))) fail(`--${name} expects a positive ${integer ? 'whole ' : ''}number (got "${text}")`);
  return x;
}
function list(name: keyof typeof values, allowed: readonly string[]): string[] {
  const items = (values[name] as string).split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of items) if (!allowed.includes(item)) fail(`--${name}: "${item}" is not one of ${allowed.join(', ')}`);
  if (items.length === 0) fail(`--${name} names nothing`);
  return items;
}
function seedList(text: string): number[] {
  const seeds = text.split(',').flatMap((part) => {
    const range = /^(\d+)-(\d+)$/.exec(part.trim());
    if (range) return Array.from({ length: Math.max(0, Number(range[2]) - Number(range[1]) + 1) }, (_, i) => Number(range[1]) + i);
    if (!/^\d+$/.test(part.trim())) fail(`--seeds expects whole numbers or ranges such as 1,2,3 or 1-10 (got "${part}")`);
    return [Number(part)];
  });
  if (seeds.length === 0) fail('--seeds names no seed');
  return seeds;
}

const tasks = list('tasks', READING_TASKS) as ReadingTask[];
const methods = list('methods', ['lora', 'bitune', ...ABLATIONS]);
const pefts = list('peft', PEFT);
const seeds = seedList(values.seeds!);
const [train, test, epochs, batch, layers, dim, heads, r, alpha, threads] = (['train', 'test', 'epochs', 'batch', 'layers', 'dim', 'heads', 'r', 'alpha', 'threads'] as const).map((k) => number(k));
const lr = number('lr', { integer: false });
const dataDir = path.resolve(values['data-dir'] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-bitune-experiment-')));

interface Cell {
  name: string;
  method: 'lora' | 'bitune';
  config: JsonObject;
}
const cells: Cell[] = [];
for (const task of tasks) {
  const files = writeReadingTask(task, path.join(dataDir, 'tasks', `${task}-${train}-${test}`), { train, test });
  for (const seed of seeds) {
    for (const peft of pefts) {
      for (const m of methods) {
        const method = m === 'lora' ? 'lora' : 'bitune';
        const ablation = m === 'bitune' ? 'full' : m;
        const arm = armLabel({ method, peft, ablation: method === 'bitune' ? ablation : null, sInit: 0.01, prefillMask: 'bidirectional' });
        cells.push({
          name: `${task} · ${arm} · seed ${seed}`,
          method,
          config: {
            method,
            ...(peft === 'lora' ? {} : { peft }),
            model: { kind: 'fresh', layers, dim, heads, seed },
            lora: { r, alpha, seed },
            ...(method === 'bitune' ? { bitune: { ablation } } : {}),
            data: files,
            train: { epochs, batchSize: batch, lr, seed },
            eval: { everyEpoch: false, maxNewTokens: 4 },
            runtime: { threads },
          },
        });
      }
    }
  }
}

const stepsPerRun = epochs * Math.ceil(train / batch);
const total = cells.length * stepsPerRun;
const lab = openLab(dataDir);
const bar = progressBar('grid');
const started = Date.now();
let done = 0;
let stopping = false;
let current: number | null = null;
const say = (line: string) => {
  bar.finish();
  process.stderr.write(`${line}\n`);
  bar.update(done, total);
};
process.on('SIGINT', () => {
  if (stopping) {
    process.stderr.write('\nQuit without waiting.\n');
    process.exit(130);
  }
  stopping = true;
  say(`Cancelling${current === null ? '' : ` run ${current}`} and ending the grid (Ctrl-C again to quit at once); the same command later skips the runs completed.`);
  if (current !== null) void lab.dispatch('runs.cancel', { id: current });
});

process.stderr.write(`${cells.length} runs (${tasks.join(', ')} × ${methods.join(', ')} × ${pefts.join(', ')} × seeds ${seeds.join(', ')}), ${stepsPerRun} steps each, in ${dataDir}\n`);
const runIds: number[] = [];
const unsubscribe = lab.events.subscribe((event, payload) => {
  if (event === 'run.progress' && (payload as { runId: number }).runId === current) bar.update(done + (payload as { step: number }).step, total);
});
try {
  for (const [i, cell] of cells.entries()) {
    if (stopping) break;
    const earlier = lab.store.runs.list({ method: cell.method, limit: 1000, offset: 0 }).items.find((run) => run.name === cell.name && run.status === 'completed' && JSON.stringify(run.config) === JSON.stringify(cell.config));
    if (earlier) {
      runIds.push(earlier.id);
      done += stepsPerRun;
      say(`[${i + 1}/${cells.length}] ${cell.name}: run ${earlier.id} already completed, skipped`);
      continue;
    }
    const t0 = Date.now();
    const answer = await lab.dispatch('runs.start', { method: cell.method, name: cell.name, config: cell.config });
    if (!answer.ok) {
      say(`[${i + 1}/${cells.length}] ${cell.name}: refused: ${answer.error.message}`);
      done += stepsPerRun;
      continue;
    }
    current = (answer.result as Run).id;
    if (stopping) void lab.dispatch('runs.cancel', { id: current }); // Ctrl-C came while it was starting
    const end = await lab.training.whenDone(current)!;
    done += stepsPerRun;
    const accuracy = lab.store.metrics.series(current, { keys: ['test_accuracy'] })[0]?.values.at(-1);
    const eta = done < total ? `, ETA ${Math.ceil((((Date.now() - started) / done) * (total - done)) / 1000)}s` : '';
    say(`[${i + 1}/${cells.length}] ${cell.name}: run ${current} ${end.run.status}${end.run.status === 'failed' ? ` (${end.run.error})` : ''}, test accuracy ${accuracy == null ? '—' : `${(100 * accuracy).toFixed(1)}%`}, ${((Date.now() - t0) / 1000).toFixed(1)} s${eta}`);
    if (end.run.status === 'completed') runIds.push(current);
    current = null;
  }
} finally {
  unsubscribe();
  bar.finish();
}

if (runIds.length) {
  const answer = await lab.dispatch('adapters.results', { runIds });
  if (!answer.ok) fail(answer.error.message);
  const table = answer.result as AdapterOutputs['adapters.results'];
  process.stdout.write(formatResults(table, table.metrics.includes(values.metric!) ? values.metric : 'test_accuracy'));
}
process.stdout.write(`${runIds.length} of ${cells.length} runs completed in ${((Date.now() - started) / 60_000).toFixed(1)} minutes; the table again: npx stepwise results --data-dir ${dataDir}\n`);
lab.close();
process.exit(stopping ? 130 : 0);
