/**
 * One ICoT run from data to a tested model (runs inside a worker thread):
 * read and lay out the data, build the tokenizer and the model (fresh GPT-2 or
 * Llama, or a Hugging Face folder of either family), train with the recipe's
 * batches, validate at the end of each epoch with the currently scheduled
 * removal and no smoothing, keep the best model once all CoT is removed, test
 * it, and (ICoT-SI) time it at batch size 1 against the explicit-CoT model of
 * the same shape. The outline (run.json, checkpoints, best/, test, wall time)
 * is the shared supervised run's (../shared/supervised-run.ts); the curriculum
 * is this file's.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AuxProbeStep, type AuxProbeSpec } from '../../engine/aux-probe.ts';
import { Generator } from '../../engine/generate.ts';
import { exportModelFolder, loadModelFolder } from '../../engine/hf/model-folder.ts';
import { modelFamily, type ModelArch } from '../../engine/models/family.ts';
import type { TensorMap } from '../../engine/safetensors.ts';
import type { SeqTokenizer } from '../../engine/tokenizers/seq-tokenizer.ts';
import { folderTokenizer, TOKENIZER_SPEC_FILE } from '../../engine/tokenizers/spec.ts';
import type { TrainerControl, TrainerEvent } from '../../engine/trainer.ts';
import { adamwOf, type MethodJob } from '../run-config.ts';
import { loadStartFolder, positionsOf, runSupervised, startModel, type SupervisedOutcome } from '../shared/supervised-run.ts';
import { CurriculumBatches } from './batches.ts';
import { advancesNow, everHolds, holds, holdThreshold, keptPositionJump, removeCot, type CurriculumState } from './curriculum.ts';
import type { EvalResult } from '../shared/eval-result.ts';
import { readExamples, type CotExample } from '../shared/examples.ts';
import { evaluate } from './evaluate.ts';
import { compactTokenizerFor, cotLength, encodeExample, type EncodedExample } from './layout.ts';
import { curriculumOf, type IcotRunConfig } from './recipe.ts';
import { runningSumsOf, RunningSumTargets, scoreRunningSumProbe, type ProbeRow } from './running-sum.ts';

export type IcotJob = MethodJob<IcotRunConfig>;
export type IcotOutcome = SupervisedOutcome;

interface Prepared {
  tok: SeqTokenizer;
  arch: ModelArch;
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
  /** The running-sum probe (config.runningSum): what it reads, its targets, and ĉ of every training and validation problem. */
  runningSum?: { spec: AuxProbeSpec; targets: RunningSumTargets; trainSums: number[][]; validSums: number[][] };
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
  const folder = loadStartFolder(config.model);
  const tok = folder ? folderTokenizer(folder.dir, folder.tokenizer) : compactTokenizerFor(all);
  // Every example laid out once; loops rather than Math.max(...xs), which overflows the stack on large data.
  const encoded = all.map((ex) => encodeExample(tok, ex));
  let longest = 0;
  for (const e of encoded) longest = Math.max(longest, e.ids.length);
  const laid = encoded.slice(0, train.length);
  let maxCot = 0;
  for (const e of laid) maxCot = Math.max(maxCot, cotLength(e));
  // Each example's CoT length, from this one encoding (kept positions need it at every evaluation).
  const cotLengths = new Map(all.map((ex, i) => [ex, cotLength(encoded[i])]));
  const { arch, init } = startModel(config, folder, tok.vocabSize, longest);
  if (longest > positionsOf(arch)) throw new Error(`the longest example has ${longest} tokens, more than the model's ${positionsOf(arch)} positions`);
  return {
    tok, arch, init, train, valid, test, laid, longest, maxCot, cotLength: (ex) => cotLengths.get(ex) ?? cotLength(encodeExample(tok, ex)),
    runningSum: config.runningSum && prepareRunningSum(config, tok, arch, train, valid),
  };
}

/** The probe's spec and targets; every training and validation example must be a multiplication of one size. */
function prepareRunningSum(config: IcotRunConfig, tok: SeqTokenizer, arch: ModelArch, train: CotExample[], valid: CotExample[]): Prepared['runningSum'] {
  const o = config.runningSum!;
  const family = modelFamily(arch);
  if (o.read === 'heads' && family.name !== 'gpt2') throw new Error("runningSum.read: the probe reads attention heads of GPT-2 models only; read 'residual' instead");
  const layer = o.layer ?? family.nLayer;
  if (layer > family.nLayer) throw new Error(`runningSum.layer: the model has ${family.nLayer} blocks, so the layer is 1 to ${family.nLayer}, got ${layer}`);
  const trainSums = train.map((ex, i) => runningSumsOf(ex, `${config.data.train}, example ${i + 1}`));
  const validSums = valid.map((ex, i) => runningSumsOf(ex, `${config.data.valid}, example ${i + 1}`));
  const targets = new RunningSumTargets(tok, trainSums, o.at);
  if (validSums.some((v) => v.length !== targets.slots)) throw new Error(`${config.data.valid}: every problem must have ${targets.slots} answer digits, as the training problems do`);
  return { spec: { source: o.read, layer, slots: targets.slots, weight: o.weight, l2: o.l2 }, targets, trainSums, validSums };
}

export async function runIcot(job: IcotJob, emit: (e: TrainerEvent) => void, control: TrainerControl): Promise<IcotOutcome> {
  const { config } = job;
  const p = prepare(config);
  const cur = curriculumOf(config.curriculum);
  const t = config.train;
  const rs = p.runningSum;
  const batches = new CurriculumBatches(p.laid, {
    batch: t.batchSize, maxSeq: positionsOf(p.arch), seed: t.seed, padId: p.tok.padId, recipe: config.recipe, curriculum: cur,
    ...(rs ? { runningSum: { targets: rs.targets, sums: rs.trainSums } } : {}),
  });
  // The probe's step and its validation rows (the No-CoT layout the model trains on).
  let probeStep: AuxProbeStep | null = null;
  const probeRows: ProbeRow[] = rs
    ? p.valid.map((ex, i) => {
      const r = removeCot(encodeExample(p.tok, ex), Infinity, cur.side);
      return { ids: r.ids, positions: cur.keepPosition ? r.positions : undefined, sums: rs.validSums[i] };
    })
    : [];
  const maxNewTokens = config.eval.maxNewTokens ?? p.longest;
  const family = modelFamily(p.arch);
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

  /** Whether the model is, at this point, shown no CoT at all. */
  const fullyRemoved = () => config.recipe === 'nocot' || (config.recipe === 'icot-si' && batches.curriculum.scheduled >= p.maxCot);
  /** CoT tokens removed from what the model is shown: none (cot), all (nocot), or the schedule's (icot-si). */
  const removedNow = () => (config.recipe === 'nocot' ? Infinity : config.recipe === 'cot' ? 0 : batches.curriculum.scheduled);

  /** Kept positions: the tokens after the prompt sit where the removed CoT left them (`jumps`: whether they do here). */
  const score = (gen: Generator<ModelArch>, examples: CotExample[], removed: number, batchSize: number, jumps: boolean): Promise<EvalResult> => {
    const positionJump = jumps ? (ex: CotExample) => keptPositionJump(p.cotLength(ex), removed, cur.side) : undefined;
    return evaluate(gen, p.tok, examples, { maxNewTokens, batchSize, positionJump });
  };

  // The explicit-CoT model of the same shape, kept when the CoT-only epochs end, for the speed comparison.
  const explicitDir = path.join(job.runDir, 'explicit-cot');

  return runSupervised({
    job, emit, control, arch: p.arch, init: p.init, tok: p.tok, batches, valid: p.valid, test: p.test,
    describe: (steps) =>
      `${config.recipe}: ${p.train.length} training examples, ${batches.batchesPerEpoch} batches per epoch, ${steps} steps; longest CoT ${p.maxCot} tokens; ` +
      `model ${family.nLayer}×${family.hiddenSize} (${family.name === 'llama' ? 'Llama' : 'GPT-2'}), vocabulary ${family.vocabSize}` +
      (rs ? `; running-sum probe on ${rs.spec.source === 'heads' ? `the ${family.nHead} heads of layer ${rs.spec.layer}` : `the residual stream after block ${rs.spec.layer}`}, ${rs.spec.slots} digits, λ = ${rs.spec.weight}, L2 ${rs.spec.l2}` : ''),
    evaluate: (gen, examples, split) =>
      score(gen, examples, split === 'valid' ? removedNow() : config.recipe === 'cot' ? 0 : Infinity, config.eval.batchSize, cur.keepPosition && config.recipe !== 'cot'),
    extraState: () => ({ curriculum: { ...batches.curriculum, scheduled: Number.isFinite(batches.curriculum.scheduled) ? batches.curriculum.scheduled : -1 } }),
    restoreExtra: (extra) => {
      const c = extra.curriculum as CurriculumState | undefined;
      if (c) batches.curriculum = { ...c, scheduled: c.scheduled < 0 ? Infinity : c.scheduled };
    },
    ...(rs ? {
      createStep: async (init: TensorMap) => (probeStep = await AuxProbeStep.create({
        arch: p.arch, spec: rs.spec, batch: t.batchSize, seq: positionsOf(p.arch), adamw: adamwOf(config), init, seed: t.seed,
        provider: config.runtime.provider, threads: config.runtime.threads,
      })),
    } : {}),
    onEpochEnd: async ({ epoch, step, trainStep }) => {
      if (rs && probeStep) {
        // The auxiliary loss over the epoch's steps, and the probe on validation (teacher-forced, the model's current weights).
        const aux = probeStep.takeAuxLoss();
        const v = await scoreRunningSumProbe(probeStep, rs.targets, probeRows, p.tok.padId);
        emit({ type: 'metric', step, epoch, values: { aux_loss: aux, val_aux_loss: v.loss, val_probe_r2: v.r2, ...Object.fromEntries(v.r2PerDigit.map((r, k) => [`val_probe_r2_c${k}`, r])) } });
      }
      if (config.recipe === 'icot-si' && cur.pretrainEpochs > 0 && epoch + 1 === cur.pretrainEpochs) {
        exportModelFolder(explicitDir, { arch: p.arch, params: trainStep.snapshot() });
        writeFileSync(path.join(explicitDir, TOKENIZER_SPEC_FILE), JSON.stringify(p.tok.spec()));
        emit({ type: 'log', level: 'info', message: `epoch ${epoch + 1}: the explicit-CoT model (the last CoT-only epoch) kept in ${explicitDir}, for the speed comparison at the end` });
      }
    },
    afterValidation: (r, { epoch }) => {
      const scheduled = batches.curriculum.scheduled;
      // The optional hold: the next epoch's batches count towards the next removal only if this validation reached holdBelow.
      const holding = config.recipe === 'icot-si' && holds(cur, scheduled, r.accuracy, p.maxCot);
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
      return {
        // The best model counts only once no CoT is shown (for explicit CoT: the best overall).
        eligible: config.recipe === 'cot' || fullyRemoved(),
        values: {
          cot_removed: config.recipe === 'cot' ? 0 : config.recipe === 'nocot' ? p.maxCot : Math.min(p.maxCot, scheduled),
          ...(everHolds(cur.holdBelow) && config.recipe === 'icot-si' ? { removal_held: holding ? 1 : 0 } : {}),
        },
      };
    },
    afterTest: async (best, step) => {
      if (config.recipe !== 'icot-si' || !existsSync(path.join(explicitDir, 'config.json'))) return;
      // The paper's speed protocol: batch size 1, generation time only, on the first test problems;
      // the internalized model against the explicit-CoT model of the same shape.
      const sample = p.test.slice(0, config.eval.speedExamples);
      const speed = async (params: TensorMap, removed: number) => {
        const gen = Generator.create(p.arch, params, { provider: config.runtime.provider, threads: config.runtime.threads });
        try {
          return await score(gen, sample, removed, 1, cur.keepPosition && removed > 0);
        } finally {
          await gen.release();
        }
      };
      const silent = await speed(loadModelFolder(best.path).params, Infinity);
      const explicit = await speed(loadModelFolder(explicitDir).params, 0);
      const ratio = silent.examplesPerS / explicit.examplesPerS;
      emit({
        type: 'metric', step, epoch: t.epochs - 1,
        values: { speed_b1_examples_per_s: silent.examplesPerS, speed_b1_explicit_cot_examples_per_s: explicit.examplesPerS, speed_b1_ratio: ratio, speed_b1_explicit_cot_accuracy: explicit.accuracy },
      });
      emit({ type: 'log', level: 'info', message: `speed at batch size 1 on ${sample.length} test problems: ${silent.examplesPerS.toFixed(1)} examples/s with no CoT (${pct(silent.accuracy)}), ${explicit.examplesPerS.toFixed(1)} for the explicit-CoT model (${pct(explicit.accuracy)}): ${ratio.toFixed(2)}×` });
    },
  });
}
