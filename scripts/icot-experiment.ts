/**
 * The ICoT-SI experiment on this machine (a script, not a test):
 *
 *   node scripts/icot-experiment.ts --digits 4 --train 80000 --epochs 30 --out /tmp/icot-4x4
 *
 * 1. generates A×B multiplication data in the paper's format, excluding every
 *    pair of the paper's test file (so training never sees it);
 * 2. trains a fresh GPT-2 from scratch with explicit CoT for --pretrain epochs,
 *    then internalizes the CoT with ICoT-SI (Δ tokens per epoch, λ smoothing);
 * 3. reports exact-match accuracy on ../shared/data/icot/<A>_by_<B>_mult/test.txt
 *    of the best fully internalized model, the wall time, and examples/s at
 *    batch size 1 (generation time only, as the paper measures speed) of the
 *    internalized model against the explicit-CoT model at the end of pretraining.
 * Progress goes to stderr; the summary is printed as JSON at the end.
 */
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Generator } from '../src-main/engine/generate.ts';
import { loadGpt2Folder } from '../src-main/engine/hf/gpt2-folder.ts';
import { TrainerControl } from '../src-main/engine/trainer.ts';
import { keptPositionJump } from '../src-main/methods/icot/curriculum.ts';
import { evaluate } from '../src-main/methods/icot/evaluate.ts';
import { formatLine, readExamples, type IcotExample } from '../src-main/methods/icot/format.ts';
import { generateMult, readMultPairs } from '../src-main/methods/icot/mult.ts';
import { parseIcotConfig } from '../src-main/methods/icot/recipe.ts';
import { prepare, runIcot } from '../src-main/methods/icot/run.ts';

const { values: a } = parseArgs({
  options: {
    digits: { type: 'string', default: '4' },
    train: { type: 'string', default: '80000' },
    valid: { type: 'string', default: '500' },
    epochs: { type: 'string', default: '30' },
    pretrain: { type: 'string', default: '6' },
    delta: { type: 'string', default: '4' },
    lambda: { type: 'string', default: '4' },
    reset: { type: 'boolean', default: false },
    /** Hold the removal while validation is below this fraction (curriculum.holdBelow; 0: never). */
    hold: { type: 'string', default: '0' },
    /** Remove the next token at once after validation reaches this fraction (curriculum.advanceAbove; 0: never). */
    advance: { type: 'string', default: '0' },
    /** Remove every CoT token once this many are scheduled (curriculum.removeAllWhenBeyond; default: never). */
    'remove-all': { type: 'string' },
    /** Remove the CoT from the left (the paper's default) or from the right (curriculum.side). */
    side: { type: 'string', default: 'left' },
    'keep-position': { type: 'boolean', default: false },
    layers: { type: 'string', default: '4' },
    dim: { type: 'string', default: '128' },
    heads: { type: 'string', default: '4' },
    batch: { type: 'string', default: '32' },
    lr: { type: 'string', default: '1e-3' },
    warmup: { type: 'string', default: '200' },
    /** After the warm-up: cosine (default), linear or constant. */
    schedule: { type: 'string', default: 'cosine' },
    /** The last epochs decay the rate linearly to 0 (train.cooldownEpochs). */
    cooldown: { type: 'string', default: '0' },
    threads: { type: 'string' },
    /** Go on from the last checkpoint in --out (the same flags otherwise; --threads may differ). */
    resume: { type: 'boolean', default: false },
    out: { type: 'string', default: '/tmp/stepwise-icot-experiment' },
  },
  strict: true,
});
const n = (k: keyof typeof a) => Number(a[k]);
const digits = n('digits');
const shared = path.resolve(import.meta.dirname, '../../shared/data/icot', `${digits}_by_${digits}_mult`);
const paperTest = path.join(shared, 'test.txt');
if (!existsSync(paperTest)) throw new Error(`no paper test file for ${digits}×${digits} at ${paperTest}`);
const out = path.resolve(a.out!);
mkdirSync(out, { recursive: true });
const t0 = performance.now();
const log = (msg: string) => process.stderr.write(`[${((performance.now() - t0) / 60e3).toFixed(1)} min] ${msg}\n`);

// 1. Data: never a pair of the paper's test set (nor its valid set: it is our validation data).
const exclude = readMultPairs([paperTest, path.join(shared, 'valid.txt')]);
const lines: string[] = [];
for (const { example } of generateMult({ digitsA: digits, digitsB: digits, counts: { train: n('train'), valid: 0, test: 0 }, seed: 1, exclude })) lines.push(formatLine(example));
writeFileSync(path.join(out, 'train.txt'), lines.join('\n') + '\n');
cpSync(path.join(shared, 'valid.txt'), path.join(out, 'valid.txt'));
log(`${lines.length} training examples written (paper test and valid pairs excluded)`);

// 2. Train: explicit CoT, then ICoT-SI.
const config = parseIcotConfig({
  recipe: 'icot-si',
  model: { kind: 'fresh', layers: n('layers'), dim: n('dim'), heads: n('heads'), seed: 0 },
  data: { train: path.join(out, 'train.txt'), valid: path.join(out, 'valid.txt'), test: paperTest, validLimit: n('valid') },
  train: { epochs: n('epochs'), batchSize: n('batch'), lr: n('lr'), warmupSteps: n('warmup'), schedule: a.schedule, cooldownEpochs: n('cooldown'), seed: 0 },
  curriculum: { pretrainEpochs: n('pretrain'), removePerEpoch: n('delta'), smoothingLambda: n('lambda'), resetOptimizer: a.reset, side: a.side, keepPosition: a['keep-position'], holdBelow: n('hold'), advanceAbove: n('advance'), removeAllWhenBeyond: a['remove-all'] === undefined ? null : n('remove-all') },
  eval: { batchSize: 100 },
  runtime: { threads: a.threads ? n('threads') : undefined },
});
const { listCheckpoints, loadCheckpoint } = await import('../src-main/engine/checkpoint.ts');
const resumeFrom = a.resume ? listCheckpoints(path.join(out, 'checkpoints')).at(-1)?.path : undefined;
if (a.resume && !resumeFrom) throw new Error(`--resume: no checkpoint in ${path.join(out, 'checkpoints')}`);
if (resumeFrom) log(`resuming from ${resumeFrom}`);
const outcome = await runIcot({ config, runDir: out, resumeFrom }, (e) => {
  if (e.type === 'step' && e.step % 200 === 0) log(`step ${e.step}/${e.totalSteps} loss ${e.loss.toFixed(4)} removed ${e.info?.allCotRemoved === 1 ? 'all' : e.info?.scheduledRemoval} ${e.tokensPerS.toFixed(0)} tokens/s`);
  if (e.type === 'metric') log(`epoch ${e.epoch + 1}: ${JSON.stringify(e.values)}`);
  if (e.type === 'log') log(e.message);
}, new TrainerControl());

// 3. Speed at batch size 1: the internalized model against the explicit-CoT one.
const p = prepare(config);
const test = readExamples(paperTest).slice(0, 200);
const speed = async (params: Map<string, { shape: number[]; data: Float32Array }>, internalized: boolean) => {
  const gen = Generator.create(p.arch, params, { threads: config.runtime.threads });
  // With kept positions, the internalized model reads its answer where the removed CoT left it.
  const positionJump = internalized && config.curriculum.keepPosition ? (ex: IcotExample) => keptPositionJump(p.cotLength(ex), Infinity, config.curriculum.side) : undefined;
  const r = await evaluate(gen, p.tok, test, { maxNewTokens: p.longest, batchSize: 1, positionJump });
  await gen.release();
  return { accuracy: r.accuracy, examplesPerS: r.examplesPerS, cotTokens: r.meanCotTokens };
};
const internalized = outcome.best ? await speed(loadGpt2Folder(outcome.best.path).params, true) : null;
// The explicit-CoT model: the checkpoint at the end of pretraining (one is written every epoch).
let explicit = null;
{
  const pretrainSteps = config.curriculum.pretrainEpochs * Math.floor(p.train.length / config.train.batchSize);
  const ck = listCheckpoints(path.join(out, 'checkpoints')).find((c) => c.step === pretrainSteps);
  if (ck) explicit = await speed(loadCheckpoint(ck.path).params, false);
  else log(`no checkpoint at step ${pretrainSteps} (the end of pretraining): no explicit-CoT speed`);
}
const summary = {
  digits, trainExamples: lines.length, config, resumedFrom: resumeFrom ?? null,
  /** This process's minutes (a resumed run's earlier minutes are in its first log). */
  wallMinutes: (performance.now() - t0) / 60e3,
  best: outcome.best, paperTest: outcome.test,
  speedBatch1: { internalized, explicitCot: explicit, ratio: internalized && explicit ? internalized.examplesPerS / explicit.examplesPerS : null },
};
writeFileSync(path.join(out, 'summary.json'), JSON.stringify(summary, null, 2));
console.log(JSON.stringify(summary, null, 2));
