/**
 * The Coconut comparison on 4×4 multiplication (issue 21; a script, not a test): fresh GPT-2s of
 * one shape on one budget (the same training problems, epochs, batch, learning rate and seed),
 * trained five ways: explicit CoT, No CoT, ICoT-SI, Coconut (continuous thoughts) and the pause-
 * token control on Coconut's curriculum. Prints the test accuracy on the first `test` problems of
 * the paper's 4×4 test set and examples/s at batch size 1 (generation only: the paper's protocol).
 *
 *   node scripts/coconut-experiment.ts '{"train": 2000, "epochs": 10, "layers": 2, "dim": 64, "out": "/tmp/coconut-4x4"}'
 *   node scripts/coconut-experiment.ts '{"only": ["coconut", "pause"]}'     # some of the five
 *   node scripts/coconut-experiment.ts '{"retime": 3, "out": "/tmp/coconut-4x4"}'   # time the trained models again
 *
 * `retime` times the five trained models again in one process, in turn, that many rounds on the
 * first `test` problems, and prints the median examples/s of each at batch size 1: on a machine
 * shared with other work, turns spread any slowdown over all five instead of the one that ran then.
 *
 * Coconut's curriculum here: c = 1 thought per step (4×4 has 4 steps: 3 partial products with
 * their running sums and the last partial product), `cotEpochs` explicit-CoT epochs, then one
 * stage every `epochsPerStage` epochs up to `maxLatentStage` (default 3), then the last stage:
 * every step gone, maxLatentStage thoughts; optimizer reset at each stage. ICoT-SI removes its CoT
 * tokens over the same epochs after the same CoT epochs.
 */
import { existsSync, readFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Generator } from '../src-main/engine/generate.ts';
import { loadModelFolder } from '../src-main/engine/hf/model-folder.ts';
import { LatentGenerator } from '../src-main/engine/latent-generate.ts';
import type { ModelArch } from '../src-main/engine/models/family.ts';
import { folderTokenizer } from '../src-main/engine/tokenizers/spec.ts';
import { evaluateCoconut } from '../src-main/methods/coconut/evaluate.ts';
import { markersOf } from '../src-main/methods/coconut/layout.ts';
import { keptPositionJump } from '../src-main/methods/icot/curriculum.ts';
import { evaluate } from '../src-main/methods/icot/evaluate.ts';
import { cotLength, encodeExample } from '../src-main/methods/icot/layout.ts';
import { TrainerControl, type TrainerEvent } from '../src-main/engine/trainer.ts';
import { parseCoconutConfig } from '../src-main/methods/coconut/recipe.ts';
import { runCoconut } from '../src-main/methods/coconut/run.ts';
import { writeMultFiles } from '../src-main/methods/icot/mult.ts';
import { parseIcotConfig } from '../src-main/methods/icot/recipe.ts';
import { runIcot } from '../src-main/methods/icot/run.ts';
import { parseLine, readExamples } from '../src-main/methods/shared/examples.ts';

const spec = JSON.parse(process.argv[2] ?? '{}') as Record<string, unknown>;
const num = (k: string, d: number) => (typeof spec[k] === 'number' ? (spec[k] as number) : d);
const out = typeof spec.out === 'string' ? spec.out : '/tmp/coconut-4x4';
const epochs = num('epochs', 10);
const cotEpochs = num('cotEpochs', 2);
const epochsPerStage = num('epochsPerStage', 2);
const tests = num('test', 200);
const only = Array.isArray(spec.only) ? (spec.only as string[]) : ['cot', 'nocot', 'icot-si', 'coconut', 'pause'];
mkdirSync(out, { recursive: true });
const t0 = performance.now();
const say = (m: string) => process.stdout.write(`[${((performance.now() - t0) / 1000).toFixed(0)} s] ${m}\n`);
if (typeof spec.retime === 'number') {
  await retime(spec.retime);
  process.exit(0);
}

// Data: training and validation problems never in the paper's test set, which is the test split.
const paperTest = path.resolve(import.meta.dirname, '../../shared/data/icot/4_by_4_mult/test.txt');
const testLines = readFileSync(paperTest, 'utf8').split('\n').filter((l) => l.trim() !== '');
const data = { train: path.join(out, 'train.txt'), valid: path.join(out, 'valid.txt'), test: paperTest };
await writeMultFiles(
  { digitsA: 4, digitsB: 4, counts: { train: num('train', 2000), valid: 100, test: 0 }, seed: 0, exclude: new Set(testLines.map((l) => parseLine(l).input)) },
  { train: data.train, valid: data.valid },
);

const shared = {
  model: { kind: 'fresh', layers: num('layers', 2), dim: num('dim', 64), heads: 4, seed: 0 },
  data: { ...data, testLimit: tests },
  train: { epochs, batchSize: 32, lr: num('lr', 1e-3), warmupSteps: 50, seed: 0 },
  runtime: { threads: num('threads', 2) },
};

interface Row { name: string; accuracy: number; b1: number; minutes: number }
const rows: Row[] = [];
async function run(name: string, go: (emit: (e: TrainerEvent) => void) => Promise<unknown>, speedKey: string) {
  if (!only.includes(name)) return;
  const started = performance.now();
  const metrics: Record<string, number> = {};
  await go((e) => {
    if (e.type === 'metric') Object.assign(metrics, e.values);
    if (e.type === 'metric' && e.values.val_accuracy !== undefined) say(`${name} epoch ${e.epoch + 1}: validation ${(100 * e.values.val_accuracy).toFixed(1)}%`);
    if (e.type === 'log' && e.level !== 'info') say(`${name}: ${e.message}`);
    if (e.type === 'status' && e.status === 'failed') say(`${name} failed: ${e.message}`);
  });
  rows.push({ name, accuracy: metrics.test_accuracy ?? NaN, b1: metrics[speedKey] ?? NaN, minutes: (performance.now() - started) / 60e3 });
  say(`${name}: test ${(100 * (metrics.test_accuracy ?? NaN)).toFixed(1)}%, ${(metrics[speedKey] ?? NaN).toFixed(1)} examples/s at batch size 1`);
}

const icot = (recipe: 'cot' | 'nocot' | 'icot-si', extra: Record<string, unknown>) => (emit: (e: TrainerEvent) => void) =>
  runIcot({ config: parseIcotConfig({ ...shared, recipe, ...extra }), runDir: path.join(out, recipe) }, emit, new TrainerControl());
const coco = (thoughts: 'continuous' | 'pause') => (emit: (e: TrainerEvent) => void) =>
  runCoconut({
    config: parseCoconutConfig({
      ...shared, method: 'coconut', thoughts,
      curriculum: { thoughtsPerStep: num('c', 1), epochsPerStage, cotEpochs, maxLatentStage: num('maxLatentStage', 3), resetOptimizer: true },
      eval: { batchSize: 100, everyEpoch: false, speedExamples: tests },
    }),
    runDir: path.join(out, thoughts === 'continuous' ? 'coconut' : 'pause'),
  }, emit, new TrainerControl());

// Explicit CoT and No CoT are scored at batch size 1 directly (their test speed is the batch-1 speed).
await run('cot', icot('cot', { eval: { batchSize: 1, everyEpoch: false } }), 'test_examples_per_s');
await run('nocot', icot('nocot', { eval: { batchSize: 1, everyEpoch: false } }), 'test_examples_per_s');
await run('icot-si', icot('icot-si', {
  curriculum: { pretrainEpochs: cotEpochs, removePerEpoch: Math.ceil(46 / Math.max(1, epochs - cotEpochs - 2)), smoothingLambda: 1, side: 'right', keepPosition: true, resetOptimizer: false, removeAllWhenBeyond: 40 },
  eval: { batchSize: 100, everyEpoch: false, speedExamples: tests },
}), 'speed_b1_examples_per_s');
await run('coconut', coco('continuous'), 'speed_b1_examples_per_s');
await run('pause', coco('pause'), 'speed_b1_examples_per_s');

process.stdout.write(`\n4×4 multiplication, GPT-2 ${shared.model.layers}×${shared.model.dim}, ${num('train', 2000)} training problems, ${epochs} epochs; first ${tests} test problems of the paper's test set\n`);
process.stdout.write('| method | test accuracy | examples/s at batch 1 | wall minutes |\n|---|---|---|---|\n');
for (const r of rows) process.stdout.write(`| ${r.name} | ${(100 * r.accuracy).toFixed(1)}% | ${r.b1.toFixed(1)} | ${r.minutes.toFixed(1)} |\n`);

/** Batch-1 examples/s of each trained model, `rounds` turns each, in turn; the medians. */
async function retime(rounds: number) {
  const paper = path.resolve(import.meta.dirname, '../../shared/data/icot/4_by_4_mult/test.txt');
  const examples = readExamples(paper).slice(0, tests);
  const models = only.filter((name) => existsSync(path.join(out, name, 'best', 'config.json'))).map((name) => {
    const folder = loadModelFolder(path.join(out, name, 'best'));
    return { name, folder, tok: folderTokenizer(folder.dir, folder.tokenizer) };
  });
  const budget = 64;
  const times = new Map<string, number[]>(models.map((m) => [m.name, []]));
  const accuracy = new Map<string, number>();
  const written = new Map<string, number>();
  for (let round = 0; round < rounds; round++) {
    for (const { name, folder, tok } of models) {
      let r;
      if (name === 'coconut' || name === 'pause') {
        const info = JSON.parse(readFileSync(path.join(out, name, 'run.json'), 'utf8')) as { config: { curriculum: { maxLatentStage: number; thoughtsPerStep: number } } };
        const n = info.config.curriculum.maxLatentStage * info.config.curriculum.thoughtsPerStep;
        const thoughts = name === 'coconut' ? 'continuous' : 'pause';
        const gen = new LatentGenerator(folder.config as ModelArch, folder.params, { threads: num('threads', 2) });
        r = await evaluateCoconut(gen, tok, markersOf(tok, thoughts), examples, { thoughts, n, maxNewTokens: budget, batchSize: 1 });
        await gen.release();
      } else {
        const gen = Generator.create(folder.config as ModelArch, folder.params, { threads: num('threads', 2) });
        // ICoT-SI kept positions and removed its CoT from the right: the answer sits where the CoT left it.
        const positionJump = name === 'icot-si' ? (ex: (typeof examples)[number]) => keptPositionJump(cotLength(encodeExample(tok, ex)), Infinity, 'right') : undefined;
        r = await evaluate(gen, tok, examples, { maxNewTokens: budget, batchSize: 1, positionJump });
        await gen.release();
      }
      times.get(name)!.push(r.examplesPerS);
      accuracy.set(name, r.accuracy);
      written.set(name, r.meanCotTokens);
      say(`round ${round + 1}: ${name} ${r.examplesPerS.toFixed(1)} examples/s, ${(100 * r.accuracy).toFixed(1)}%`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  process.stdout.write(`\nbatch-1 examples/s on the first ${examples.length} test problems, median of ${rounds} turns each\n| method | test accuracy | examples/s at batch 1 | tokens before the first EOS |\n|---|---|---|---|\n`);
  for (const { name } of models) process.stdout.write(`| ${name} | ${(100 * accuracy.get(name)!).toFixed(1)}% | ${median(times.get(name)!).toFixed(1)} | ${written.get(name)!.toFixed(1)} |\n`);
}
