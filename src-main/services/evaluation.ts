/**
 * Evaluating a trained model on a file of examples, outside training: a run's
 * best model or one of its checkpoints, or any model folder of a family the
 * engine loads (GPT-2, Llama). Accuracy and speed are the paper's
 * (methods/icot/evaluate.ts); a Fine-tune-CoT student's weights are scored as
 * its run scores them (methods/finetune-cot/evaluate.ts: its prompt format and
 * answer rule), and a Coconut run's through its continuous thoughts or pause
 * tokens at the stage of its weights (methods/coconut/evaluate.ts). The
 * predictions are stored under the run the model came from,
 * so the app shows them beside the run's own.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ModelEvaluation } from '../contract/entities.ts';
import { StepwiseError } from '../contract/errors.ts';
import { listCheckpoints, loadCheckpoint } from '../engine/checkpoint.ts';
import { Generator } from '../engine/generate.ts';
import { loadModelFolder } from '../engine/hf/model-folder.ts';
import { modelFamily, type ModelArch } from '../engine/models/family.ts';
import type { ProviderName } from '../engine/runtime.ts';
import type { TensorMap } from '../engine/safetensors.ts';
import type { SeqTokenizer } from '../engine/tokenizers/seq-tokenizer.ts';
import { folderTokenizer, tokenizerFromSpec } from '../engine/tokenizers/spec.ts';
import type { AnswerType } from '../methods/finetune-cot/answers.ts';
import { finalStage, stageAt, stageLayout } from '../methods/coconut/curriculum.ts';
import { evaluateCoconut } from '../methods/coconut/evaluate.ts';
import { markersOf, type Markers, type Thoughts } from '../methods/coconut/layout.ts';
import { curriculumOf as coconutCurriculumOf, type CoconutRunConfig } from '../methods/coconut/recipe.ts';
import { LatentGenerator } from '../engine/latent-generate.ts';
import { evaluateStudent } from '../methods/finetune-cot/evaluate.ts';
import { completionText, type StudentFormat } from '../methods/finetune-cot/layout.ts';
import type { FtCotRunConfig } from '../methods/finetune-cot/recipe.ts';
import { keptPositionJump } from '../methods/icot/curriculum.ts';
import { evaluate } from '../methods/icot/evaluate.ts';
import { parseLine, readExamples, type CotExample } from '../methods/shared/examples.ts';
import { checkInputFolderSync } from '../methods/input-file.ts';
import { parseMultInput } from '../methods/icot/mult.ts';
import { cotLength, encodeExample, encodePrompt } from '../methods/icot/layout.ts';
import type { IcotRunConfig } from '../methods/icot/recipe.ts';
import type { LabContext } from './lab.ts';
import { runFolder } from './paths.ts';

export interface EvalRequest {
  /** A run's weights ('best' by default when it has a best model, else its latest checkpoint), or a model folder (GPT-2 or Llama family). */
  model: { runId: number; checkpoint?: number | 'best' | 'latest' } | { dir: string };
  /** Examples in the paper's line format or JSONL. */
  dataFile: string;
  /** Only the first this many examples. */
  limit?: number;
  /** Rows decoded together; 1 is the paper's speed protocol. */
  batchSize: number;
  /** Default: what the longest example needs. */
  maxNewTokens?: number;
  /** Default: `eval:<file name>`. */
  split?: string;
  onProgress?: (done: number, total: number) => void;
}

/** What an evaluation found: the contract's ModelEvaluation (models.evaluate answers it as it is). */
export type EvalReport = ModelEvaluation;

interface Loaded {
  description: string;
  /** Any family's (GPT-2, Llama). */
  arch: ModelArch;
  params: TensorMap;
  tok: SeqTokenizer;
  /** The run and step the weights belong to, if any. */
  owner: { runId: number; step: number } | null;
  /**
   * CoT tokens removed when these weights were saved, for a run that kept positions (the tokens
   * after the prompt then sit where the removed CoT left them); absent otherwise.
   */
  removedCot?: number;
  /** The side the CoT was removed from (default left; it matters only while some CoT is left). */
  removedSide?: 'left' | 'right';
  /** A Fine-tune-CoT student's prompt format and answer rule (from its run's config): it is scored as its run scores it. */
  student?: { format: StudentFormat; answerType: AnswerType };
  /** The multiplication the run trained on (digits of each operand), when it trained on multiplication. */
  mult?: { runId: number; a: number; b: number };
  /** A Coconut run's thoughts at the stage of these weights: it is scored through them, as its run scores it. */
  coconut?: { thoughts: Thoughts; n: number; markers: Markers };
  provider?: ProviderName;
  threads?: number;
  maxNewTokens?: number;
}

export async function evaluateFile(context: LabContext, request: EvalRequest): Promise<EvalReport> {
  const loaded = 'dir' in request.model ? loadFolder(context, request.model.dir) : loadRun(context, request.model.runId, request.model.checkpoint);
  const all = readExamples(request.dataFile);
  const examples = request.limit ? all.slice(0, request.limit) : all;
  if (examples.length === 0) throw new StepwiseError('invalid_input', `${request.dataFile} has no examples`);
  if (loaded.mult) checkMultFile(request.dataFile, examples, loaded.mult);
  const maxNewTokens = request.maxNewTokens ?? loaded.maxNewTokens ?? (loaded.student ? studentBudget(loaded, examples) : cotBudget(loaded.tok, examples));

  const result = await score(loaded, examples, maxNewTokens, request);

  let stored: EvalReport['stored'] = null;
  if (loaded.owner) {
    const split = request.split ?? `eval:${path.basename(request.dataFile)}`;
    const { runId, step } = loaded.owner;
    context.store.predictions.record(
      runId,
      split,
      step,
      result.predictions.map((r) => ({ index: r.index, input: r.input, target: r.target, generated: r.generated, correct: r.correct, answer: r.answer ?? null, cotTokens: r.cotTokens ?? null })),
    );
    const line =
      `evaluated ${loaded.description} on ${request.dataFile}: accuracy ${(100 * result.accuracy).toFixed(1)}% (${result.correct}/${result.total}), ` +
      `${result.examplesPerS.toFixed(1)} examples/s at batch size ${request.batchSize}; predictions stored as split "${split}"`;
    context.events.emit('run.log', context.store.logs.append(runId, 'info', line));
    stored = { runId, split, step };
  }
  return {
    model: loaded.description,
    accuracy: result.accuracy,
    correct: result.correct,
    total: result.total,
    meanCotTokens: result.meanCotTokens,
    examplesPerS: result.examplesPerS,
    batchSize: request.batchSize,
    stored,
  };
}

/** The loaded model's scores on the examples, as its run scores them: through a Coconut run's thoughts, a student's format, or ICoT's layout. */
async function score(loaded: Loaded, examples: CotExample[], maxNewTokens: number, request: EvalRequest) {
  const session = { provider: loaded.provider, threads: loaded.threads };
  if (loaded.coconut) {
    const gen = new LatentGenerator(loaded.arch, loaded.params, session);
    try {
      return await evaluateCoconut(gen, loaded.tok, loaded.coconut.markers, examples, { thoughts: loaded.coconut.thoughts, n: loaded.coconut.n, maxNewTokens, batchSize: request.batchSize, onProgress: request.onProgress });
    } finally {
      await gen.release();
    }
  }
  const generator = Generator.create(loaded.arch, loaded.params, session);
  try {
    const { student } = loaded;
    if (student) {
      const questions = examples.map((ex) => ({ question: ex.input, answer: ex.answer }));
      return await evaluateStudent(generator, loaded.tok, questions, { ...student, maxNewTokens, batchSize: request.batchSize, onProgress: request.onProgress });
    }
    const removed = loaded.removedCot;
    const positionJump = removed === undefined ? undefined : (ex: CotExample) => keptPositionJump(cotLength(encodeExample(loaded.tok, ex)), removed, loaded.removedSide ?? 'left');
    return await evaluate(generator, loaded.tok, examples, { maxNewTokens, batchSize: request.batchSize, positionJump, onProgress: request.onProgress });
  } finally {
    await generator.release();
  }
}

/** ICoT-SI's budget: what the longest example's CoT, answer and EOS tokens need. */
function cotBudget(tok: SeqTokenizer, examples: CotExample[]): number {
  let needed = 0; // a loop, not Math.max(...): a large file would overflow the stack
  for (const ex of examples) needed = Math.max(needed, encodeExample(tok, ex).ids.length - encodePrompt(tok, ex.input).length);
  return needed;
}

/**
 * A student's budget, as its run sets it: the longest completion (rationale, answer mark, answer)
 * plus 8; where an example gives no rationale to measure, what the context leaves after the prompt.
 */
function studentBudget(loaded: Loaded, examples: CotExample[]): number {
  const { format, answerType } = loaded.student!;
  const context = modelFamily(loaded.arch).maxPositions;
  let longest = 0;
  for (const ex of examples) {
    if (format !== 'vanilla' && ex.cot === '') return context - 1; // generation stops at the context's end
    longest = Math.max(longest, loaded.tok.encode(completionText(format, { question: ex.input, rationale: ex.cot, answer: ex.answer }, answerType)).length + 1);
  }
  return Math.min(longest + 8, context - 1);
}

/** What a run's job wrote beside its checkpoints (methods/shared/supervised-run.ts): an ICoT-SI config, or a Fine-tune-CoT student's (format, no recipe). */
interface RunJson {
  config: Partial<Pick<IcotRunConfig, 'recipe'>> & Omit<IcotRunConfig, 'recipe'> & Partial<Pick<FtCotRunConfig, 'format' | 'answerType'>>;
  tokenizer: unknown;
  arch: ModelArch;
}

/** A Coconut run's thoughts at the stage of an epoch (its final stage for the best model, kept only there); undefined for any other run. */
function coconutOf(info: RunJson, tok: SeqTokenizer, epoch: number | 'final'): Loaded['coconut'] {
  const config = info.config as unknown as Partial<CoconutRunConfig>;
  if (config.method !== 'coconut' || !config.curriculum) return undefined;
  const cur = coconutCurriculumOf(config.curriculum);
  const stage = epoch === 'final' ? finalStage(cur) : stageAt(cur, epoch);
  const thoughts = config.thoughts ?? 'continuous';
  return { thoughts, n: stageLayout(cur, stage, 0).thoughts, markers: markersOf(tok, thoughts) };
}

/** A Fine-tune-CoT student's format and answer rule, from its run's config; undefined for any other run. */
function studentOf(info: RunJson): Loaded['student'] {
  const { format, answerType, recipe } = info.config;
  return recipe === undefined && format !== undefined && answerType !== undefined ? { format, answerType } : undefined;
}

function loadRun({ store, dataDir }: LabContext, runId: number, checkpoint: number | 'best' | 'latest' | undefined): Loaded {
  if (!store.runs.get(runId)) throw new StepwiseError('not_found', `there is no run ${runId}`);
  const runDir = path.join(dataDir, runFolder(runId));
  let info: RunJson;
  try {
    info = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as RunJson;
  } catch {
    throw new StepwiseError('not_found', `run ${runId} has no ${path.join(runDir, 'run.json')}: it never started, so there is no model to evaluate`);
  }
  let tok: SeqTokenizer;
  try {
    tok = tokenizerFromSpec(info.tokenizer, path.join(runDir, 'run.json'));
  } catch (error) {
    throw new StepwiseError('invalid_input', (error as Error).message);
  }
  const common = { tok, student: studentOf(info), coconut: coconutOf(info, tok, 'final'), provider: info.config.runtime?.provider, threads: info.config.runtime?.threads, maxNewTokens: info.config.eval?.maxNewTokens };
  const kept = keptPositions(info.config);
  const bestDir = path.join(runDir, 'best');
  const checkpoints = listCheckpoints(path.join(runDir, 'checkpoints'));
  const which = checkpoint ?? (fs.existsSync(path.join(bestDir, 'config.json')) ? 'best' : 'latest');
  if (which === 'best') {
    if (!fs.existsSync(path.join(bestDir, 'config.json'))) {
      throw new StepwiseError('not_found', `run ${runId} has no best model yet (it is kept once all CoT is removed); pass --checkpoint STEP or latest`);
    }
    const folder = loadModelFolder(bestDir);
    const step = bestStep(checkpoints) ?? checkpoints[checkpoints.length - 1]?.step ?? 0;
    // The best model is kept once all CoT is removed.
    return { ...common, mult: runMult(runId, info), description: `run ${runId}, best model (step ${step})`, arch: folder.config, params: folder.params, owner: { runId, step }, removedCot: kept ? Infinity : undefined };
  }
  const chosen = which === 'latest' ? checkpoints[checkpoints.length - 1] : checkpoints.find((c) => c.step === which);
  if (!chosen) {
    const steps = checkpoints.map((c) => c.step);
    throw new StepwiseError(
      'not_found',
      `run ${runId} has no checkpoint${which === 'latest' ? '' : ` at step ${which}`}${steps.length ? `; it has steps ${steps.join(', ')}` : ''}`,
    );
  }
  const state = loadCheckpoint(chosen.path);
  let removedCot: number | undefined;
  if (kept) {
    const scheduled = (state.record.extra?.curriculum as { scheduled?: number } | undefined)?.scheduled ?? 0;
    removedCot = info.config.recipe === 'nocot' || scheduled < 0 ? Infinity : scheduled; // −1 stands for all
  }
  const removedSide = info.config.curriculum?.side ?? 'left';
  return { ...common, coconut: coconutOf(info, tok, state.record.data.epoch), mult: runMult(runId, info), description: `run ${runId}, checkpoint of step ${chosen.step}`, arch: info.arch, params: state.params, owner: { runId, step: chosen.step }, removedCot, removedSide };
}

/** The step of the best model, as the latest checkpoint recorded it. */
function bestStep(checkpoints: { step: number; path: string }[]): number | null {
  const latest = checkpoints[checkpoints.length - 1];
  if (!latest) return null;
  try {
    const record = JSON.parse(fs.readFileSync(latest.path, 'utf8')) as { extra?: { best?: { step?: unknown } | null } };
    const step = record.extra?.best?.step;
    return typeof step === 'number' ? step : null;
  } catch {
    return null;
  }
}

/**
 * The multiplication a run trained on, read from the first line of its training file: A×B digits,
 * or undefined when it trained on something else (or the file is gone: then nothing is checked).
 */
function runMult(runId: number, info: RunJson): Loaded['mult'] {
  let first = '';
  try {
    const fd = fs.openSync(info.config.data.train, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
      if (!fs.fstatSync(fd).isFile()) return undefined;
      const buf = Buffer.alloc(4096);
      first = buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, 0)).toString('utf8').split('\n')[0] ?? '';
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
  let input: string;
  try {
    input = parseLine(first).input;
  } catch {
    return undefined;
  }
  const m = parseMultInput(input);
  return m ? { runId, a: m.a.length, b: m.b.length } : undefined;
}

/** A run trained on A×B multiplication is scored only on A×B multiplication in the paper's format. */
function checkMultFile(file: string, examples: CotExample[], mult: { runId: number; a: number; b: number }): void {
  const trained = `${mult.a}×${mult.b}`;
  for (let i = 0; i < examples.length; i++) {
    const m = parseMultInput(examples[i].input);
    if (!m) {
      const excerpt = examples[i].input.length > 60 ? `${examples[i].input.slice(0, 60)}…` : examples[i].input;
      throw new StepwiseError('invalid_input', `${file}, example ${i + 1}: "${excerpt}" is not multiplication in the paper's format (digits separated by spaces, least significant first, "A * B"); run ${mult.runId} was trained on ${trained} multiplication`);
    }
    if (m.a.length !== mult.a || m.b.length !== mult.b) {
      throw new StepwiseError('invalid_input', `${file}, example ${i + 1}: ${m.a.length}×${m.b.length} multiplication, but run ${mult.runId} was trained on ${trained}: evaluate it on ${trained} problems`);
    }
  }
}

/** Whether a run trained with kept positions (the paper's --keep_position). */
function keptPositions(config: RunJson['config']): boolean {
  return config.recipe !== 'cot' && config.curriculum?.keepPosition === true;
}

function loadFolder(context: LabContext, dir: string): Loaded {
  const absolute = path.resolve(dir);
  checkInputFolderSync(absolute, 'model folder'); // only regular files and folders: a FIFO inside cannot hang the load
  const folder = loadModelFolder(absolute);
  let tok: SeqTokenizer;
  try {
    tok = folderTokenizer(absolute, folder.tokenizer);
  } catch (error) {
    throw new StepwiseError('invalid_input', (error as Error).message);
  }

  // A run's best model (runs/<id>/best), or a registered model that names its run.
  const relative = path.relative(context.dataDir, absolute);
  const inRun = /^runs[\\/](\d+)[\\/]best$/.exec(relative);
  let owner: Loaded['owner'] = null;
  if (inRun && context.store.runs.get(Number(inRun[1]))) {
    const runId = Number(inRun[1]);
    const checkpoints = listCheckpoints(path.join(context.dataDir, runFolder(runId), 'checkpoints'));
    owner = { runId, step: bestStep(checkpoints) ?? checkpoints[checkpoints.length - 1]?.step ?? 0 };
  } else {
    const model = context.store.models.list(1000, 0).items.find((m) => m.path === relative && m.runId !== null);
    if (model) owner = { runId: model.runId!, step: typeof model.source.step === 'number' ? model.source.step : 0 };
  }
  let removedCot: number | undefined;
  let student: Loaded['student'];
  let coconut: Loaded['coconut'];
  if (owner) {
    try {
      const info = JSON.parse(fs.readFileSync(path.join(context.dataDir, runFolder(owner.runId), 'run.json'), 'utf8')) as RunJson;
      if (inRun && keptPositions(info.config)) removedCot = Infinity;
      student = studentOf(info);
      coconut = coconutOf(info, tok, 'final');
    } catch {
      // no run.json: the run never wrote one; evaluate without kept positions, in ICoT-SI's layout
    }
  }
  return { description: `the model in ${absolute}`, arch: folder.config, params: folder.params, tok, owner, removedCot, student, coconut };
}
