/**
 * One Fine-tune-CoT student run from data to a tested model (runs inside a
 * worker thread): read the rationales, build the tokenizer (a word tokenizer
 * from the training text for a fresh model, else the folder's) and the
 * model, train on `{question} ###` → ` {rationale} --> {answer}` EOS (or the
 * vanilla ` {answer}`) with the loss on the completion only, validate at
 * each epoch's end when there is a valid file, keep the best model, and test it.
 *
 * Run folder layout, as ICoT's: `checkpoints/`, `best/` (a Hugging Face
 * GPT-2 folder with `stepwise-tokenizer.json`), `run.json`.
 */
import { deviceRecord } from '../../engine/gpu-adapter.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TokenBatches, type TokenExample } from '../../engine/batches.ts';
import { Generator } from '../../engine/generate.ts';
import { exportGpt2Folder, loadGpt2Folder } from '../../engine/hf/gpt2-folder.ts';
import { initGPT2 } from '../../engine/init.ts';
import type { GPT2Config } from '../../engine/models/gpt2.ts';
import type { TensorMap } from '../../engine/safetensors.ts';
import { hasTokenizer } from '../../engine/tokenizers/hf.ts';
import type { SeqTokenizer } from '../../engine/tokenizers/seq-tokenizer.ts';
import { TOKENIZER_SPEC_FILE } from '../../engine/tokenizers/spec.ts';
import { wordTokenizerFor } from '../../engine/tokenizers/word.ts';
import { train, type TrainerControl, type TrainerEvent } from '../../engine/trainer.ts';
import { freshArch, trainerConfigOf, type BestModel, type MethodJob, type MethodOutcome } from '../run-config.ts';
import { sameAnswer } from './answers.ts';
import { evaluateStudent, type StudentEvalResult } from './evaluate.ts';
import { completionText, encodeStudentExample, folderCodec, promptText, type StudentExample } from './layout.ts';
import type { FtCotRunConfig } from './recipe.ts';
import { readTaskFile, type Task } from './tasks.ts';

export type FtCotJob = MethodJob<FtCotRunConfig>;
export type FtCotOutcome = MethodOutcome<Omit<StudentEvalResult, 'predictions'>>;

interface Prepared {
  tok: SeqTokenizer;
  arch: GPT2Config;
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
  const folder = config.model.kind === 'folder' ? loadGpt2Folder(config.model.path) : null;
  const tok =
    config.model.kind === 'folder'
      ? folderCodec(config.model.path, folder!.tokenizer)
      : wordTokenizerFor(trainEx.flatMap((e) => [promptText(config.format, e.question), completionText(config.format, e, config.answerType)]), { minCount: config.model.minCount });
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
  const arch = folder ? folder.config : freshArch(config, tok.vocabSize, Math.ceil(wanted / 8) * 8);
  const init = folder ? folder.params : initGPT2(arch, config.model.kind === 'fresh' ? config.model.seed : 0);
  const tooLong = encoded.findIndex((e) => e.ids.length > arch.nPositions);
  if (tooLong >= 0) throw new Error(`${d.train}: training example ${tooLong + 1} has ${encoded[tooLong].ids.length} tokens, more than the model's ${arch.nPositions} positions`);
  return { tok, arch, init, train: trainEx, valid, test, encoded, longestCompletion };
}

export async function runFtCot(job: FtCotJob, emit: (e: TrainerEvent) => void, control: TrainerControl): Promise<FtCotOutcome> {
  const { config } = job;
  const p = prepare(config);
  const t = config.train;
  const batches = new TokenBatches(p.encoded, { batch: t.batchSize, seq: p.arch.nPositions, seed: t.seed, padId: p.tok.padId });
  const steps = t.epochs * batches.batchesPerEpoch;
  const maxNewTokens = Math.min(config.eval.maxNewTokens ?? p.longestCompletion + 8, p.arch.nPositions - 1);
  const checkpointDir = path.join(job.runDir, 'checkpoints');
  const bestDir = path.join(job.runDir, 'best');
  mkdirSync(checkpointDir, { recursive: true });
  const device = await deviceRecord(config.runtime.provider);
  writeFileSync(path.join(job.runDir, 'run.json'), JSON.stringify({ config, tokenizer: p.tok.spec(), arch: p.arch, device: { provider: device.provider, adapter: device.adapter } }, null, 2));
  const questions = new Set(p.train.map((e) => e.question)).size;
  emit({
    type: 'log', level: 'info',
    message: `${config.format}: ${p.train.length} training examples (${questions} questions), ${batches.batchesPerEpoch} batches per epoch, ${steps} steps; model ${p.arch.nLayer}×${p.arch.nEmbd}, ${p.arch.nPositions} positions, vocabulary ${p.arch.vocabSize} (${p.tok.kind})`,
  });
  if (device.adapter) emit({ type: 'log', level: 'info', message: device.summary });

  let best: FtCotOutcome['best'] = null;
  const validate = async (params: TensorMap, examples: StudentExample[]) => {
    const gen = Generator.create(p.arch, params, { provider: config.runtime.provider, threads: config.runtime.threads });
    try {
      return await evaluateStudent(gen, p.tok, examples, { format: config.format, answerType: config.answerType, maxNewTokens, batchSize: config.eval.batchSize });
    } finally {
      await gen.release();
    }
  };
  const saveBest = (params: TensorMap, step: number, epoch: number, accuracy: number) => {
    exportGpt2Folder(bestDir, { config: p.arch, params, tokenizerFrom: config.model.kind === 'folder' && hasTokenizer(config.model.path) ? config.model.path : undefined });
    writeFileSync(path.join(bestDir, TOKENIZER_SPEC_FILE), JSON.stringify(p.tok.spec()));
    best = { step, epoch, accuracy, path: bestDir };
  };

  const result = await train({
    config: trainerConfigOf(config, { arch: p.arch, seq: p.arch.nPositions, steps, batchesPerEpoch: batches.batchesPerEpoch, checkpointDir }),
    data: batches,
    init: job.resumeFrom ? { resumeFrom: job.resumeFrom } : { params: p.init },
    emit,
    control,
    extraState: () => ({ best }),
    restoreExtra: (extra) => {
      best = (extra.best as FtCotOutcome['best']) ?? null;
    },
    onEpochEnd: async ({ epoch, step, trainStep }) => {
      if (p.valid.length === 0 || (!config.eval.everyEpoch && step < steps)) return;
      const params = trainStep.snapshot();
      const r = await validate(params, p.valid);
      emit({ type: 'metric', step, epoch, values: { val_accuracy: r.accuracy, val_cot_tokens: r.meanCotTokens, val_examples_per_s: r.examplesPerS } });
      emit({ type: 'predictions', step, split: 'valid', rows: r.predictions });
      if (!best || r.accuracy >= best.accuracy) {
        saveBest(params, step, epoch, r.accuracy);
        emit({ type: 'log', level: 'info', message: `epoch ${epoch + 1}: best validation accuracy so far ${(100 * r.accuracy).toFixed(1)}%, saved to ${bestDir}` });
      }
    },
  });

  let test: FtCotOutcome['test'] = null;
  if (result.status === 'completed') {
    // Without validation the last model is the one kept.
    if (p.valid.length === 0) saveBest(result.params, result.step, t.epochs - 1, Number.NaN);
    if (p.test.length) {
      const params = best && p.valid.length ? loadGpt2Folder(bestDir).params : result.params;
      const r = await validate(params, p.test);
      const { predictions, ...summary } = r;
      test = summary;
      emit({ type: 'metric', step: result.step, epoch: t.epochs - 1, values: { test_accuracy: r.accuracy, test_cot_tokens: r.meanCotTokens, test_examples_per_s: r.examplesPerS } });
      emit({ type: 'predictions', step: result.step, split: 'test', rows: predictions });
      if (p.valid.length === 0 && best) best = { ...(best as BestModel), accuracy: r.accuracy };
    }
  }
  return { status: result.status, step: result.step, best, test };
}
