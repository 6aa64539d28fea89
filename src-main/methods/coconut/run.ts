/**
 * One Coconut run from data to a tested model (in a worker thread): read the
 * data, build the tokenizer (the data's symbols and the markers) and the model
 * (a fresh GPT-2 or Llama, or a Coconut run's folder), train on the
 * curriculum's stages, the continuous-thought step unrolling n+1 passes
 * (engine/latent-step.ts) or, for the pause-token control, the ordinary step;
 * validate each epoch at the stage it trained, keep the best model of the
 * last stage, test it, and time it at batch size 1. The outline (run.json,
 * checkpoints, best/, wall time) is the shared supervised run's.
 */
import { LatentGenerator } from '../../engine/latent-generate.ts';
import { LatentStep } from '../../engine/latent-step.ts';
import { loadModelFolder } from '../../engine/hf/model-folder.ts';
import { modelFamily, type ModelArch } from '../../engine/models/family.ts';
import type { TensorMap } from '../../engine/safetensors.ts';
import type { SeqTokenizer } from '../../engine/tokenizers/seq-tokenizer.ts';
import { folderTokenizer } from '../../engine/tokenizers/spec.ts';
import type { TrainerControl, TrainerEvent } from '../../engine/trainer.ts';
import { adamwOf, type MethodJob } from '../run-config.ts';
import type { EvalResult } from '../shared/eval-result.ts';
import { readExamples, type CotExample } from '../shared/examples.ts';
import { loadStartFolder, positionsOf, runSupervised, startModel, type SupervisedOutcome } from '../shared/supervised-run.ts';
import { CoconutBatches } from './batches.ts';
import { finalStage, stageAt, stageLayout, type CoconutCurriculum } from './curriculum.ts';
import { evaluateCoconut } from './evaluate.ts';
import { coconutTokenizerFor, encodeAtStage, markersOf, tokenizeExample, type Markers, type TokenizedExample } from './layout.ts';
import { curriculumOf, type CoconutRunConfig } from './recipe.ts';

export type CoconutJob = MethodJob<CoconutRunConfig>;
export type CoconutOutcome = SupervisedOutcome;

interface Prepared {
  tok: SeqTokenizer;
  markers: Markers;
  arch: ModelArch;
  init: TensorMap;
  train: TokenizedExample[];
  valid: CotExample[];
  test: CotExample[];
  curriculum: CoconutCurriculum;
  /** Most reasoning steps of a training example (what the last stage removes). */
  maxSteps: number;
  /** Longest laid-out example over every stage and split. */
  longest: number;
}

const limit = <T>(xs: T[], n?: number) => (n ? xs.slice(0, n) : xs);

export function prepare(config: CoconutRunConfig): Prepared {
  const d = config.data;
  const train = limit(readExamples(d.train), d.trainLimit);
  const valid = limit(readExamples(d.valid), d.validLimit);
  const test = d.test ? limit(readExamples(d.test), d.testLimit) : [];
  if (train.length === 0) throw new Error(`${d.train}: expected at least one training example, found none`);
  if (valid.length === 0) throw new Error(`${d.valid}: expected at least one validation example, found none`);
  const folder = loadStartFolder(config.model);
  const tok = folder ? folderTokenizer(folder.dir, folder.tokenizer) : coconutTokenizerFor([...train, ...valid, ...test]);
  const markers = markersOf(tok, config.thoughts);
  const curriculum = curriculumOf(config.curriculum);
  const tokenized = train.map((ex) => tokenizeExample(tok, ex));
  let longest = 0;
  let maxSteps = 0;
  for (const ex of [...tokenized, ...[...valid, ...test].map((e) => tokenizeExample(tok, e))]) {
    maxSteps = Math.max(maxSteps, ex.steps.length);
    for (let stage = 0; stage <= finalStage(curriculum); stage++) longest = Math.max(longest, encodeAtStage(tok, markers, ex, curriculum, stage).ids.length);
  }
  const { arch, init } = startModel(config, folder, tok.vocabSize, longest);
  if (longest > positionsOf(arch)) throw new Error(`the longest example has ${longest} tokens at some stage, more than the model's ${positionsOf(arch)} positions`);
  return { tok, markers, arch, init, train: tokenized, valid, test, curriculum, maxSteps, longest };
}

export async function runCoconut(job: CoconutJob, emit: (e: TrainerEvent) => void, control: TrainerControl): Promise<CoconutOutcome> {
  const { config } = job;
  const p = prepare(config);
  const t = config.train;
  const cur = p.curriculum;
  const batches = new CoconutBatches(p.train, { batch: t.batchSize, maxSeq: positionsOf(p.arch), seed: t.seed, tok: p.tok, markers: p.markers, curriculum: cur });
  const family = modelFamily(p.arch);
  const maxNewTokens = config.eval.maxNewTokens ?? p.longest;
  const continuous = config.thoughts === 'continuous';
  const last = finalStage(cur);
  const lastEpochStage = stageAt(cur, t.epochs - 1);
  if (lastEpochStage < last) {
    emit({ type: 'log', level: 'warn', message: `${t.epochs} epochs end at stage ${lastEpochStage}, before the last stage ${last} (all steps continuous): the run keeps no best model; give it ${cur.cotEpochs + (last - 1) * cur.epochsPerStage + 1} epochs or more` });
  }
  const session = { provider: config.runtime.provider, threads: config.runtime.threads };

  const score = async (params: TensorMap, examples: CotExample[], stage: number, batchSize: number): Promise<EvalResult> => {
    const gen = new LatentGenerator(p.arch, params, session);
    try {
      return await evaluateCoconut(gen, p.tok, p.markers, examples, { thoughts: config.thoughts, n: stageLayout(cur, stage, p.maxSteps).thoughts, maxNewTokens, batchSize });
    } finally {
      await gen.release();
    }
  };
  let validStage = 0;

  return runSupervised({
    job, emit, control, arch: p.arch, init: p.init, tok: p.tok, batches, valid: p.valid, test: p.test,
    describe: (steps) =>
      `Coconut (${continuous ? 'continuous thoughts' : 'pause tokens'}): ${p.train.length} training examples of at most ${p.maxSteps} steps, ${batches.batchesPerEpoch} batches per epoch, ${steps} steps; ` +
      `c = ${cur.thoughtsPerStep}, ${cur.cotEpochs} CoT epochs then ${cur.epochsPerStage} per stage up to stage ${last}; model ${family.nLayer}×${family.hiddenSize} (${family.name === 'llama' ? 'Llama' : 'GPT-2'}), vocabulary ${family.vocabSize}`,
    createStep: continuous
      ? async (init) => LatentStep.create({ arch: p.arch, batch: t.batchSize, seq: positionsOf(p.arch), latentId: p.markers.thought, adamw: adamwOf(config), init, ...session })
      : undefined,
    scoreModel: (params, examples, split) => score(params, examples, split === 'valid' ? validStage : last, config.eval.batchSize),
    onEpochEnd: ({ epoch }) => {
      validStage = stageAt(cur, epoch);
    },
    afterValidation: () => ({ eligible: validStage === last, values: { stage: validStage, thoughts: stageLayout(cur, validStage, p.maxSteps).thoughts } }),
    afterTest: async (best, step) => {
      // The paper's speed protocol: batch size 1, generation time only (the thoughts' passes included).
      const sample = p.test.slice(0, config.eval.speedExamples);
      const r = await score(loadModelFolder(best.path).params, sample, last, 1);
      emit({ type: 'metric', step, epoch: t.epochs - 1, values: { speed_b1_examples_per_s: r.examplesPerS, speed_b1_accuracy: r.accuracy } });
      emit({ type: 'log', level: 'info', message: `speed at batch size 1 on ${sample.length} test problems: ${r.examplesPerS.toFixed(1)} examples/s (${(100 * r.accuracy).toFixed(1)}%)` });
    },
  });
}
