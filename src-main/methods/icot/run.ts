/**
 * One ICoT run from data to a tested model (runs inside a worker thread):
 * read and lay out the data, build the tokenizer and the model (fresh, or a
 * Hugging Face GPT-2 folder), train with the recipe's batches, validate at the
 * end of each epoch with the currently scheduled removal and no smoothing,
 * keep the best model once all CoT is removed, and test it.
 *
 * Run folder layout: `checkpoints/` (resumable checkpoints), `best/` (the best
 * model as a Hugging Face GPT-2 folder, loadable by other tools), `run.json`.
 */
import { deviceRecord } from '../../engine/gpu-adapter.ts';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Generator } from '../../engine/generate.ts';
import { exportGpt2Folder, loadGpt2Folder } from '../../engine/hf/gpt2-folder.ts';
import { initGPT2 } from '../../engine/init.ts';
import type { GPT2Config } from '../../engine/models/gpt2.ts';
import type { TensorMap } from '../../engine/safetensors.ts';
import { hasTokenizer } from '../../engine/tokenizers/hf.ts';
import type { SeqTokenizer } from '../../engine/tokenizers/seq-tokenizer.ts';
import { folderTokenizer, TOKENIZER_SPEC_FILE } from '../../engine/tokenizers/spec.ts';
import { train, type TrainerControl, type TrainerEvent } from '../../engine/trainer.ts';
import { freshArch, trainerConfigOf, type MethodJob, type MethodOutcome } from '../run-config.ts';
import { CurriculumBatches } from './batches.ts';
import { advancesNow, everHolds, holds, holdThreshold, keptPositionJump, type CurriculumState } from './curriculum.ts';
import type { EvalResult } from '../shared/eval-result.ts';
import { readExamples, type CotExample } from '../shared/examples.ts';
import { evaluate } from './evaluate.ts';
import { compactTokenizerFor, cotLength, encodeExample, type EncodedExample } from './layout.ts';
import { curriculumOf, type IcotRunConfig } from './recipe.ts';

export type IcotJob = MethodJob<IcotRunConfig>;
export type IcotOutcome = MethodOutcome<Omit<EvalResult, 'predictions'>>;

interface Prepared {
  tok: SeqTokenizer;
  arch: GPT2Config;
  init: TensorMap;
  train: CotExample[];
  valid: CotExample[];
  test: CotExample[];
  /** The training examples laid out (input EOS cot EOS #### answer EOS). */
  laid: EncodedExample[];
  /** Longest laid-out example (tokens), over all splits. */
  longest: number;
  /** Longest CoT (tokens) in training: removing this many removes everything. */
  maxCot: number;
  /** CoT tokens of an example (from the layout above for the run's own examples). */
  cotLength: (ex: CotExample) => number;
}

const limit = <T>(xs: T[], n?: number) => (n ? xs.slice(0, n) : xs);

export function prepare(config: IcotRunConfig): Prepared {
  const d = config.data;
  const train = limit(readExamples(d.train), d.trainLimit);
  const valid = limit(readExamples(d.valid), d.validLimit);
  const test = d.test ? limit(readExamples(d.test), d.testLimit) : [];
  // An empty file trains or measures nothing: say so now, not as a run that learns from no examples.
  if (train.length === 0) throw new Error(`${d.train}: expected at least one training example, found none`);
  if (valid.length === 0) throw new Error(`${d.valid}: expected at least one validation example, found none`);
  const all = [...train, ...valid, ...test];
  // The tokenizer first: a compact one from the data for a fresh model, else the folder's.
  const folder = config.model.kind === 'folder' ? loadGpt2Folder(config.model.path) : null;
  const tok = config.model.kind === 'folder' ? folderTokenizer(config.model.path, folder!.tokenizer) : compactTokenizerFor(all);
  // Every example laid out once; loops rather than Math.max(...xs), which overflows the stack on large data.
  const encoded = all.map((ex) => encodeExample(tok, ex));
  let longest = 0;
  for (const e of encoded) longest = Math.max(longest, e.ids.length);
  const laid = encoded.slice(0, train.length);
  let maxCot = 0;
  for (const e of laid) maxCot = Math.max(maxCot, cotLength(e));
  // Each example's CoT length, from this one encoding (kept positions need it at every evaluation).
  const cotLengths = new Map(all.map((ex, i) => [ex, cotLength(encoded[i])]));
  const arch = folder ? folder.config : freshArch(config, tok.vocabSize, Math.ceil(longest / 8) * 8);
  const init = folder ? folder.params : initGPT2(arch, config.model.kind === 'fresh' ? config.model.seed : 0);
  if (longest > arch.nPositions) throw new Error(`the longest example has ${longest} tokens, more than the model's ${arch.nPositions} positions`);
  return { tok, arch, init, train, valid, test, laid, longest, maxCot, cotLength: (ex) => cotLengths.get(ex) ?? cotLength(encodeExample(tok, ex)) };
}

export async function runIcot(job: IcotJob, emit: (e: TrainerEvent) => void, control: TrainerControl): Promise<IcotOutcome> {
  const { config } = job;
  const p = prepare(config);
  const cur = curriculumOf(config.curriculum);
  const t = config.train;
  const batches = new CurriculumBatches(p.laid, {
    batch: t.batchSize, maxSeq: p.arch.nPositions, seed: t.seed, padId: p.tok.padId, recipe: config.recipe, curriculum: cur,
  });
  const steps = t.epochs * batches.batchesPerEpoch;
  const maxNewTokens = config.eval.maxNewTokens ?? p.longest;
  const checkpointDir = path.join(job.runDir, 'checkpoints');
  const bestDir = path.join(job.runDir, 'best');
  mkdirSync(checkpointDir, { recursive: true });
  const device = await deviceRecord(config.runtime.provider);
  writeFileSync(path.join(job.runDir, 'run.json'), JSON.stringify({ config, tokenizer: p.tok.spec(), arch: p.arch, device: { provider: device.provider, adapter: device.adapter } }, null, 2));
  emit({ type: 'log', level: 'info', message: `${config.recipe}: ${p.train.length} training examples, ${batches.batchesPerEpoch} batches per epoch, ${steps} steps; longest CoT ${p.maxCot} tokens; model ${p.arch.nLayer}×${p.arch.nEmbd}, vocabulary ${p.arch.vocabSize}` });
  if (device.adapter) emit({ type: 'log', level: 'info', message: device.summary });

  let best: IcotOutcome['best'] = null;
  /** Whether the model is, at this point, shown no CoT at all. */
  const fullyRemoved = () => config.recipe === 'nocot' || (config.recipe === 'icot-si' && batches.curriculum.scheduled >= p.maxCot);

  const validate = async (params: TensorMap, examples: CotExample[], removed: number): Promise<EvalResult> => {
    const gen = Generator.create(p.arch, params, { provider: config.runtime.provider, threads: config.runtime.threads });
    // Kept positions: the tokens after the prompt sit where the removed CoT left them.
    const positionJump = cur.keepPosition && config.recipe !== 'cot' ? (ex: CotExample) => keptPositionJump(p.cotLength(ex), removed, cur.side) : undefined;
    try {
      return await evaluate(gen, p.tok, examples, { maxNewTokens, batchSize: config.eval.batchSize, positionJump });
    } finally {
      await gen.release();
    }
  };

  // Wall time over every process of the run (a resumed run adds to what its checkpoint recorded).
  const started = performance.now();
  let earlierMs = 0;
  const wallMinutes = () => (earlierMs + performance.now() - started) / 60e3;
  // The explicit-CoT model of the same shape, kept when the CoT-only epochs end, for the speed comparison.
  const explicitDir = path.join(job.runDir, 'explicit-cot');

  const result = await train({
    config: trainerConfigOf(config, { arch: p.arch, seq: p.arch.nPositions, steps, batchesPerEpoch: batches.batchesPerEpoch, checkpointDir }),
    data: batches,
    init: job.resumeFrom ? { resumeFrom: job.resumeFrom } : { params: p.init },
    emit,
    control,
    extraState: () => ({ curriculum: { ...batches.curriculum, scheduled: Number.isFinite(batches.curriculum.scheduled) ? batches.curriculum.scheduled : -1 }, best, wallMs: wallMinutes() * 60e3 }),
    restoreExtra: (extra) => {
      const c = extra.curriculum as CurriculumState | undefined;
      if (c) batches.curriculum = { ...c, scheduled: c.scheduled < 0 ? Infinity : c.scheduled };
      best = (extra.best as IcotOutcome['best']) ?? null;
      earlierMs = typeof extra.wallMs === 'number' ? extra.wallMs : 0;
    },
    onEpochEnd: async ({ epoch, step, trainStep }) => {
      if (config.recipe === 'icot-si' && cur.pretrainEpochs > 0 && epoch + 1 === cur.pretrainEpochs) {
        exportGpt2Folder(explicitDir, { config: p.arch, params: trainStep.snapshot() });
        writeFileSync(path.join(explicitDir, TOKENIZER_SPEC_FILE), JSON.stringify(p.tok.spec()));
        emit({ type: 'log', level: 'info', message: `epoch ${epoch + 1}: the explicit-CoT model (the last CoT-only epoch) kept in ${explicitDir}, for the speed comparison at the end` });
      }
      if (!config.eval.everyEpoch && step < steps) return;
      const params = trainStep.snapshot();
      const r = await validate(params, p.valid, config.recipe === 'nocot' ? Infinity : config.recipe === 'cot' ? 0 : batches.curriculum.scheduled);
      const scheduled = batches.curriculum.scheduled;
      // The optional hold: the next epoch's batches count towards the next removal only if this validation reached holdBelow.
      const holding = config.recipe === 'icot-si' && holds(cur, scheduled, r.accuracy, p.maxCot);
      const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
      const threshold = holdThreshold(cur.holdBelow, scheduled);
      if (holding !== !!batches.curriculum.holding) {
        emit({
          type: 'log', level: 'info',
          message: holding
            ? `epoch ${epoch + 1}: validation ${pct(r.accuracy)} < ${pct(threshold)}: the removal holds at ${scheduled} token${scheduled === 1 ? '' : 's'}`
            : scheduled >= p.maxCot
              ? `epoch ${epoch + 1}: no CoT is left to remove (validation ${pct(r.accuracy)}): the hold ends`
              : `epoch ${epoch + 1}: validation ${pct(r.accuracy)} ≥ ${pct(threshold)}: the removal goes on from ${scheduled} token${scheduled === 1 ? '' : 's'}`,
        });
      }
      // The optional advance: a validation at advanceAbove or more removes the next token with the next batch.
      const advancing = config.recipe === 'icot-si' && !holding && advancesNow(cur, scheduled, r.accuracy, p.maxCot, epoch + 1);
      if (advancing) {
        emit({ type: 'log', level: 'info', message: `epoch ${epoch + 1}: validation ${pct(r.accuracy)} ≥ ${pct(cur.advanceAbove)}: one more token removed now (${scheduled + 1} in all)` });
      }
      batches.curriculum = { ...batches.curriculum, holding, advanceNow: advancing };
      emit({
        type: 'metric', step, epoch,
        values: {
          val_accuracy: r.accuracy, val_cot_tokens: r.meanCotTokens, val_examples_per_s: r.examplesPerS,
          cot_removed: config.recipe === 'cot' ? 0 : config.recipe === 'nocot' ? p.maxCot : Math.min(p.maxCot, scheduled),
          ...(everHolds(cur.holdBelow) && config.recipe === 'icot-si' ? { removal_held: holding ? 1 : 0 } : {}),
        },
      });
      emit({ type: 'predictions', step, split: 'valid', rows: r.predictions });
      // The best model counts only once no CoT is shown (for explicit CoT: the best overall).
      const eligible = config.recipe === 'cot' || fullyRemoved();
      if (eligible && (!best || r.accuracy >= best.accuracy)) {
        // A self-contained model folder: the source folder's tokenizer files travel with it.
        exportGpt2Folder(bestDir, { config: p.arch, params, tokenizerFrom: config.model.kind === 'folder' && hasTokenizer(config.model.path) ? config.model.path : undefined });
        writeFileSync(path.join(bestDir, TOKENIZER_SPEC_FILE), JSON.stringify(p.tok.spec()));
        best = { step, epoch, accuracy: r.accuracy, path: bestDir };
        emit({ type: 'log', level: 'info', message: `epoch ${epoch + 1}: best validation accuracy so far ${(100 * r.accuracy).toFixed(1)}%, saved to ${bestDir}` });
      }
    },
  });

  let test: IcotOutcome['test'] = null;
  if (result.status === 'completed' && p.test.length) {
    const params = best ? loadGpt2Folder(bestDir).params : result.params;
    const r = await validate(params, p.test, config.recipe === 'cot' ? 0 : Infinity);
    const { predictions, ...summary } = r;
    test = summary;
    emit({ type: 'metric', step: result.step, epoch: t.epochs - 1, values: { test_accuracy: r.accuracy, test_cot_tokens: r.meanCotTokens, test_examples_per_s: r.examplesPerS } });
    emit({ type: 'predictions', step: result.step, split: 'test', rows: predictions });
    if (config.recipe === 'icot-si' && best && existsSync(path.join(explicitDir, 'config.json'))) {
      // The paper's speed protocol: batch size 1, generation time only, on the first test problems;
      // the internalized model against the explicit-CoT model of the same shape.
      const sample = p.test.slice(0, config.eval.speedExamples);
      const speed = async (params: TensorMap, removed: number) => {
        const gen = Generator.create(p.arch, params, { provider: config.runtime.provider, threads: config.runtime.threads });
        const positionJump = cur.keepPosition && removed > 0 ? (ex: CotExample) => keptPositionJump(p.cotLength(ex), removed, cur.side) : undefined;
        try {
          return await evaluate(gen, p.tok, sample, { maxNewTokens, batchSize: 1, positionJump });
        } finally {
          await gen.release();
        }
      };
      const silent = await speed(loadGpt2Folder(bestDir).params, Infinity);
      const explicit = await speed(loadGpt2Folder(explicitDir).params, 0);
      const ratio = silent.examplesPerS / explicit.examplesPerS;
      emit({
        type: 'metric', step: result.step, epoch: t.epochs - 1,
        values: { speed_b1_examples_per_s: silent.examplesPerS, speed_b1_explicit_cot_examples_per_s: explicit.examplesPerS, speed_b1_ratio: ratio, speed_b1_explicit_cot_accuracy: explicit.accuracy },
      });
      emit({ type: 'log', level: 'info', message: `speed at batch size 1 on ${sample.length} test problems: ${silent.examplesPerS.toFixed(1)} examples/s with no CoT (${(100 * silent.accuracy).toFixed(1)}%), ${explicit.examplesPerS.toFixed(1)} for the explicit-CoT model (${(100 * explicit.accuracy).toFixed(1)}%): ${ratio.toFixed(2)}×` });
    }
  }
  if (result.status === 'completed') {
    emit({ type: 'metric', step: result.step, epoch: t.epochs - 1, values: { wall_minutes: wallMinutes() } });
    emit({ type: 'log', level: 'info', message: `wall time ${wallMinutes().toFixed(1)} minutes over every process of the run` });
  }
  return { status: result.status, step: result.step, best, test };
}
