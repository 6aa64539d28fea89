/**
 * One Fine-tune-CoT student run from data to a tested model (runs inside a
 * worker thread): read the rationales, build the tokenizer (a word tokenizer
 * from the training text for a fresh model, else the folder's) and the model
 * (fresh GPT-2 or Llama, or a folder of either family), train on
 * `{question} ###` → ` {rationale} --> {answer}` EOS (or the vanilla
 * ` {answer}`) with the loss on the completion only, validate at each epoch's
 * end when there is a valid file, keep the best model, and test it. The
 * outline and the run folder are the shared supervised run's
 * (../shared/supervised-run.ts).
 */
import { TokenBatches, type TokenExample } from '../../engine/batches.ts';
import { modelFamily, type ModelArch } from '../../engine/models/family.ts';
import type { TensorMap } from '../../engine/safetensors.ts';
import type { SeqTokenizer } from '../../engine/tokenizers/seq-tokenizer.ts';
import { wordTokenizerFor } from '../../engine/tokenizers/word.ts';
import type { TrainerControl, TrainerEvent } from '../../engine/trainer.ts';
import type { MethodJob } from '../run-config.ts';
import { loadStartFolder, positionsOf, runSupervised, startModel, type SupervisedOutcome } from '../shared/supervised-run.ts';
import { sameAnswer } from './answers.ts';
import { evaluateStudent, type StudentEvalResult } from './evaluate.ts';
import { completionText, encodeStudentExample, folderCodec, promptText, type StudentExample } from './layout.ts';
import type { FtCotRunConfig } from './recipe.ts';
import { readTaskFile, type Task } from './tasks.ts';

export type FtCotJob = MethodJob<FtCotRunConfig>;
export type FtCotOutcome = SupervisedOutcome;

interface Prepared {
  tok: SeqTokenizer;
  arch: ModelArch;
  init: TensorMap;
  train: StudentExample[];
  valid: StudentExample[];
  test: StudentExample[];
  encoded: TokenExample[];
  /** Longest completion in training (tokens, EOS included). */
  longestCompletion: number;
}

/** Examples of one data file for a student: each line's rationale (or its teacher's), filtered by split and the teacher's correctness. */
export function readStudentData(config: FtCotRunConfig, file: string, split: string | undefined, limit: number | undefined): StudentExample[] {
  const task: Task = readTaskFile(file, { name: config.task ?? 'task', answerType: config.answerType });
  const xs = split ? task.examples.filter((e) => e.split === split) : task.examples;
  if (split && xs.length === 0) throw new Error(`${file}: has no "${split}" examples (it has ${[...new Set(task.examples.map((e) => e.split))].join(', ')})`);
  const out: StudentExample[] = [];
  for (const e of xs) {
    if (e.teacher && config.data.keptOnly && !sameAnswer(config.answerType, e.teacher.answer, e.answer, e.question)) continue;
    out.push({ question: e.question, rationale: (e.rationale ?? e.teacher?.rationale ?? '').trim(), answer: e.answer });
  }
  return limit ? out.slice(0, limit) : out;
}

export function prepare(config: FtCotRunConfig): Prepared {
  const d = config.data;
  const trainEx = readStudentData(config, d.train, d.trainSplit, d.trainLimit);
  const valid = d.valid ? readStudentData({ ...config, data: { ...d, keptOnly: false } }, d.valid, d.validSplit, d.validLimit) : [];
  const test = d.test ? readStudentData({ ...config, data: { ...d, keptOnly: false } }, d.test, d.testSplit, d.testLimit) : [];
  if (config.format !== 'vanilla') {
    const missing = trainEx.findIndex((e) => e.rationale === '');
    if (missing >= 0) throw new Error(`${d.train}: training example ${missing + 1} has no rationale; a ${config.format} student needs one for every example (vanilla needs none)`);
  }
  const folder = loadStartFolder(config.model);
  const tok =
    folder
      ? folderCodec(folder.dir, folder.tokenizer)
      : wordTokenizerFor(trainEx.flatMap((e) => [promptText(config.format, e.question), completionText(config.format, e, config.answerType)]), { minCount: config.model.kind === 'fresh' ? config.model.minCount : undefined });
  const encoded = trainEx.map((e) => encodeStudentExample(tok, config.format, e, config.answerType));
  let longest = 0;
  let longestCompletion = 0;
  for (const e of encoded) {
    longest = Math.max(longest, e.ids.length);
    longestCompletion = Math.max(longestCompletion, e.labels!.filter((l) => l !== -100).length);
  }
  let longestPrompt = 0;
  for (const e of [...valid, ...test]) longestPrompt = Math.max(longestPrompt, tok.encode(promptText(config.format, e.question)).length);
  const wanted = Math.max(longest, longestPrompt + longestCompletion);
  const { arch, init } = startModel(config, folder, tok.vocabSize, wanted);
  const positions = positionsOf(arch);
  const tooLong = encoded.findIndex((e) => e.ids.length > positions);
  if (tooLong >= 0) throw new Error(`${d.train}: training example ${tooLong + 1} has ${encoded[tooLong].ids.length} tokens, more than the model's ${positions} positions`);
  return { tok, arch, init, train: trainEx, valid, test, encoded, longestCompletion };
}

export async function runFtCot(job: FtCotJob, emit: (e: TrainerEvent) => void, control: TrainerControl): Promise<FtCotOutcome> {
  const { config } = job;
  const p = prepare(config);
  const t = config.train;
  const family = modelFamily(p.arch);
  const batches = new TokenBatches(p.encoded, { batch: t.batchSize, seq: family.maxPositions, seed: t.seed, padId: p.tok.padId });
  const maxNewTokens = Math.min(config.eval.maxNewTokens ?? p.longestCompletion + 8, family.maxPositions - 1);
  const questions = new Set(p.train.map((e) => e.question)).size;
  return runSupervised({
    job, emit, control, arch: p.arch, init: p.init, tok: p.tok, batches, valid: p.valid, test: p.test,
    describe: (steps) =>
      `${config.format}: ${p.train.length} training examples (${questions} questions), ${batches.batchesPerEpoch} batches per epoch, ${steps} steps; ` +
      `model ${family.nLayer}×${family.hiddenSize} (${family.name === 'llama' ? 'Llama' : 'GPT-2'}), ${family.maxPositions} positions, vocabulary ${family.vocabSize} (${p.tok.kind})`,
    evaluate: (gen, examples) => evaluateStudent(gen, p.tok, examples, { format: config.format, answerType: config.answerType, maxNewTokens, batchSize: config.eval.batchSize }),
  });
}
