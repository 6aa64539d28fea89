/**
 * One Bitune or LoRA run from data to evaluated adapters (runs inside a worker
 * thread): load the frozen base (a fresh GPT-2 or Llama-shaped model with a
 * word-level tokenizer, or a Hugging Face folder of either family), lay out the instruction data, train the adapters
 * and mixing parameters with the engine's trainer, validate at each epoch's
 * end, and test at the end: exact-match accuracy of greedy answers on the test
 * split, and zero-shot multiple-choice accuracy (acc, acc_norm) on the files
 * the config names.
 *
 * Run folder: `checkpoints/` (adapters, mixing and their AdamW state only),
 * `adapters/<name>/` (each adapter in PEFT's layout: LoRA, DoRA or IA3; under
 * full fine-tuning each copy of the model as a model folder), `adapters/bitune.safetensors`
 * (the mixing θ), `adapters/stepwise-adapters.json` (the variant), `base/` (a
 * fresh base, so the adapters have their model), `merged/` (the base with the
 * `default` adapter merged in, once the run finished), `run.json`.
 */
import { deviceRecord } from '../../engine/gpu-adapter.ts';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadChatTemplate } from '../../engine/hf/chat-template.ts';
import { exportModelFolder, loadModelFolder } from '../../engine/hf/model-folder.ts';
import { initModel } from '../../engine/init.ts';
import { fullCopyWeights, initFullCopy } from '../../engine/full-finetune.ts';
import { initAdapter, loraModules, mergeAdapter, saveAdapterPeft, type Adapter, type PeftType } from '../../engine/lora.ts';
import { modelFamily, type ModelArch, type ModelFamily, type WeightDtype } from '../../engine/models/family.ts';
import { writeSafetensors, type TensorMap } from '../../engine/safetensors.ts';
import { compactTokenizerForTexts } from '../../engine/tokenizers/compact.ts';
import { TOKENIZER_FILES } from '../../engine/tokenizers/hf.ts';
import type { SeqTokenizer } from '../../engine/tokenizers/seq-tokenizer.ts';
import { folderTokenizer, TOKENIZER_SPEC_FILE } from '../../engine/tokenizers/spec.ts';
import { train, type PredictionRow, type TrainerControl, type TrainerEvent } from '../../engine/trainer.ts';
import { extractAnswer, firstWord, goldAnswer, sameAnswer } from '../shared/instruct/answers.ts';
import { choiceCorrect, readChoiceFile, type ChoiceQuestion } from '../shared/instruct/choices.ts';
import { chatInstructTemplate, promptText, QUESTION_ANSWER, readInstructFile, type InstructExample, type InstructTemplate } from '../shared/instruct/format.ts';
import { adamwOf, freshArch, trainerConfigOf, type MethodJob, type MethodOutcome } from '../run-config.ts';
import { BituneModel } from './infer.ts';
import { isFullFinetune } from './graph.ts';
import { InstructBatches, shapeFor, type TokenPair } from './layout.ts';
import { loraOf, parseBituneConfig, PEFT_PREFIX, variantOf, WEIGHT_LAYOUT, type BituneRunConfig } from './recipe.ts';
import { AdapterStep } from './step.ts';
import { MIX_K, MIX_V, mixingAlpha, passesOf, type Variant } from './variant.ts';

/** In a run's adapters folder: the mixing θ, and the variant the adapters were trained for. */
export const MIXING_FILE = 'bitune.safetensors';
export const VARIANT_FILE = 'stepwise-adapters.json';

export type BituneJob = MethodJob<BituneRunConfig>;

export interface BituneEval {
  accuracy: number;
  correct: number;
  total: number;
  /** Test examples answered per second (greedy, in batches of eval.batchSize). */
  examplesPerS: number;
  /** Per multiple-choice file (by base name): acc and acc_norm. */
  choices: Record<string, { acc: number; accNorm: number; total: number }>;
}

/** A finished run's adapters with their base, and the base with the `default` adapter merged in (a model of the library). */
export interface MergedExport {
  /** The merged model's Hugging Face folder (`merged/` in the run folder). */
  path: string;
  step: number;
  method: 'bitune' | 'lora';
  /** The fine-tuning type (the config's `peft`). */
  peft: PeftType;
  arch: ModelArch;
  /** The frozen base's folder. */
  base: string | null;
  /** The adapters in PEFT's layout (`adapters/`). */
  adapters: string;
}

/** No best model is kept by validation: the run's result is its final adapters (see merged). */
export interface BituneOutcome extends MethodOutcome<BituneEval, null> {
  adaptersDir: string | null;
  /** Set when the run finished. */
  merged: MergedExport | null;
}

const limit = <T>(xs: T[], n?: number) => (n ? xs.slice(0, n) : xs);

export interface PreparedBitune {
  family: ModelFamily;
  base: TensorMap;
  tok: SeqTokenizer;
  /** How examples become text: the base folder's chat template where it has one, else `Question: …\n\nAnswer: …`. */
  template: InstructTemplate;
  adapters: Adapter[];
  train: InstructExample[];
  valid: InstructExample[];
  test: InstructExample[];
  pairs: TokenPair[];
  /** Initial trainable parameters. */
  init: TensorMap;
}

/** An example's prompt and answer tokens; the answer ends with EOS (appended unless the template's end of turn has it). */
export function encodePair(tok: SeqTokenizer, ex: InstructExample, template: InstructTemplate = QUESTION_ANSWER, withAnswer = true): TokenPair {
  const prompt = tok.encode(template.prompt(ex.question));
  if (!withAnswer) return { prompt, answer: [] };
  const answer = tok.encode(template.answer(ex.question, ex.answer));
  return { prompt, answer: answer.includes(tok.eosId) ? answer : [...answer, tok.eosId] };
}

/** The instruction template of a base model folder: its chat template where it has one, else the default. */
export function instructTemplateOf(dir: string): InstructTemplate {
  const chat = loadChatTemplate(dir);
  return chat ? chatInstructTemplate(chat) : QUESTION_ANSWER;
}

function loadBase(config: BituneRunConfig, examples: InstructExample[]): { arch: ModelArch; base: TensorMap; tok: SeqTokenizer; template: InstructTemplate } {
  const m = config.model;
  if (m.kind === 'folder') {
    const f = loadModelFolder(m.path);
    return { arch: f.config, base: f.params, tok: folderTokenizer(m.path, f.tokenizer), template: instructTemplateOf(m.path) };
  }
  // Word-level: every whitespace-separated symbol of the prompts and answers.
  const tok = compactTokenizerForTexts(examples.flatMap((e) => [promptText(e.question), e.answer]));
  let longest = 0;
  for (const e of examples) {
    const p = encodePair(tok, e);
    longest = Math.max(longest, p.prompt.length + p.answer.length);
  }
  const arch = freshArch(config, tok.vocabSize, Math.max(16, Math.ceil((longest + 16) / 8) * 8));
  return { arch, base: initModel(arch, m.seed), tok, template: QUESTION_ANSWER };
}

export function prepareBitune(config: BituneRunConfig): PreparedBitune {
  const d = config.data;
  const trainSet = limit(readInstructFile(d.train), d.trainLimit);
  const valid = d.valid ? limit(readInstructFile(d.valid), d.validLimit) : [];
  const test = d.test ? limit(readInstructFile(d.test), d.testLimit) : [];
  const { arch, base, tok, template } = loadBase(config, [...trainSet, ...valid, ...test]);
  const family = modelFamily(arch);
  const lora = loraOf(config, family.name);
  const variant = variantOf(config);
  const type = config.peft;
  if (type === 'full' && config.runtime.baseDtype === 'float16') throw new Error('peft "full" trains the base\'s own weights in float32: set runtime.baseDtype to "float32" (a float16 base needs lora, dora or ia3)');
  const modules = type === 'full' ? [] : loraModules(family.paramShapes(), lora, WEIGHT_LAYOUT[family.name]);
  const adapters: Adapter[] = passesOf(variant).adapters.map((name) => ({ name, type, config: lora, modules }));
  // DoRA's magnitude starts at ‖W‖ of the base as the graph reads it (a float16 base: on the float16 grid).
  let rounded: TensorMap | null = null;
  const held = () => (config.runtime.baseDtype === 'float16' ? (rounded ??= new Map([...base].map(([n, t]) => [n, { shape: t.shape, data: t.data.map(Math.f16round) }]))) : base);
  const init: TensorMap = new Map();
  adapters.forEach((a, i) => {
    const own = type === 'full' ? initFullCopy(a.name, base) : initAdapter(a, config.lora.seed * 7919 + i, held(), WEIGHT_LAYOUT[family.name]);
    for (const [n, t] of own) init.set(n, t);
  });
  if (passesOf(variant).mixing) {
    // θ starts at s_init: α = 0.5, an even mix of the two passes.
    for (const name of [MIX_K, MIX_V]) init.set(name, { shape: [family.nLayer], data: new Float32Array(family.nLayer).fill(variant.sInit) });
  }
  const pairs = trainSet.map((e) => encodePair(tok, e, template));
  return { family, base, tok, template, adapters, train: trainSet, valid, test, pairs, init };
}

/** Greedy answers to each question: right when the answer text matches the gold one (GSM8K-style: the extracted number). */
export async function evaluateAnswers(
  model: BituneModel, tok: SeqTokenizer, examples: InstructExample[],
  opts: { batchSize: number; maxNewTokens: number; template?: InstructTemplate; onProgress?: (done: number, total: number) => void },
): Promise<{ accuracy: number; correct: number; predictions: PredictionRow[] }> {
  const template = opts.template ?? QUESTION_ANSWER;
  const predictions: PredictionRow[] = [];
  let correct = 0;
  for (let i = 0; i < examples.length; i += opts.batchSize) {
    const chunk = examples.slice(i, i + opts.batchSize);
    const prompts = chunk.map((e) => encodePair(tok, e, template, false).prompt);
    const out = await model.generate(prompts, { maxNewTokens: opts.maxNewTokens, eosId: tok.eosId, padId: tok.padId });
    chunk.forEach((e, k) => {
      const ids = out[k].filter((t) => t !== tok.eosId);
      const generated = template.cut(tok.decode(ids));
      // GSM8K-style golds (`… #### 42`) compare the extracted answers; others the whole answer text.
      const gsm = e.answer.includes('####');
      const answer = gsm ? extractAnswer(generated) : firstWord(generated);
      const ok = gsm ? sameAnswer(answer, goldAnswer(e.answer)) : generated.trim().replace(/\s+/g, ' ') === e.answer.trim().replace(/\s+/g, ' ');
      if (ok) correct++;
      predictions.push({ index: i + k, input: e.question, target: e.answer, generated, correct: ok, answer });
    });
    opts.onProgress?.(Math.min(i + opts.batchSize, examples.length), examples.length);
  }
  return { accuracy: examples.length ? correct / examples.length : 0, correct, predictions };
}

/** Zero-shot multiple choice, lm-evaluation-harness style: acc and acc_norm. */
export async function evaluateChoices(
  model: BituneModel, tok: SeqTokenizer, questions: ChoiceQuestion[], batchSize: number,
  opts: { template?: InstructTemplate; onProgress?: (done: number, total: number) => void } = {},
): Promise<{ acc: number; accNorm: number; total: number }> {
  const template = opts.template ?? QUESTION_ANSWER;
  const rows: { q: number; c: number; pair: TokenPair; bytes: number }[] = [];
  questions.forEach((q, qi) => q.choices.forEach((choice, ci) => {
    const text = template.choice(choice);
    rows.push({ q: qi, c: ci, pair: { prompt: tok.encode(template.prompt(q.question)), answer: tok.encode(text) }, bytes: new TextEncoder().encode(text).length });
  }));
  const logprob = new Array<number>(rows.length);
  for (let i = 0; i < rows.length; i += batchSize) {
    const chunk = rows.slice(i, i + batchSize);
    const s = await model.score(chunk.map((r) => r.pair), tok.padId);
    s.logprob.forEach((lp, k) => (logprob[i + k] = lp));
    opts.onProgress?.(Math.min(i + batchSize, rows.length), rows.length);
  }
  let acc = 0;
  let accNorm = 0;
  questions.forEach((q, qi) => {
    const mine = rows.map((r, i) => ({ r, i })).filter(({ r }) => r.q === qi);
    const r = choiceCorrect(q, { logprob: mine.map(({ i }) => logprob[i]), bytes: mine.map(({ r: x }) => x.bytes) });
    if (r.acc) acc++;
    if (r.accNorm) accNorm++;
  });
  return { acc: acc / questions.length, accNorm: accNorm / questions.length, total: questions.length };
}

/** The model a run's `default` adapter makes: the base with it merged in, or under full fine-tuning the `default` copy. */
export function defaultModel(p: Pick<PreparedBitune, 'adapters' | 'base' | 'family'>, trained: TensorMap): TensorMap {
  if (isFullFinetune(p.adapters)) return fullCopyWeights('default', trained, p.family.paramShapes());
  return mergeAdapter(p.base, p.adapters.find((a) => a.name === 'default')!, trained, WEIGHT_LAYOUT[p.family.name]);
}

/**
 * The base with the `default` adapter merged in, as a Hugging Face folder of
 * its family with the base's tokenizer (and chat template). For LoRA this is
 * the trained model itself; for Bitune it is its decoder: generating from it
 * reads the prompt causally, without the mixed cache of the two prompt passes.
 */
export function exportMerged(dir: string, p: PreparedBitune, trained: TensorMap, baseDir: string | undefined): void {
  const params = defaultModel(p, trained);
  const tokenizerFrom = baseDir && TOKENIZER_FILES.some((f) => existsSync(path.join(baseDir, f))) ? baseDir : undefined;
  exportModelFolder(dir, { arch: p.family.arch, params, tokenizerFrom });
  writeFileSync(path.join(dir, TOKENIZER_SPEC_FILE), JSON.stringify(p.tok.spec()));
}

/**
 * Write the adapters in PEFT's layout (under full fine-tuning, each copy of the model as a
 * model folder), the mixing θ beside them, and which variant and fine-tuning type they are for (see saved.ts).
 */
export function saveAdapters(dir: string, p: PreparedBitune, trained: TensorMap, baseModel: string | undefined, variant: Variant, baseDtype: WeightDtype = 'float32'): void {
  const full = isFullFinetune(p.adapters);
  for (const a of p.adapters) {
    if (full) exportModelFolder(path.join(dir, a.name), { arch: p.family.arch, params: fullCopyWeights(a.name, trained, p.family.paramShapes()) });
    else saveAdapterPeft(path.join(dir, a.name), a, trained, { modulePrefix: PEFT_PREFIX[p.family.name], layout: WEIGHT_LAYOUT[p.family.name], baseModel });
  }
  const mixing: TensorMap = new Map();
  for (const name of [MIX_K, MIX_V]) if (trained.has(name)) mixing.set(name, trained.get(name)!);
  if (mixing.size) writeSafetensors(path.join(dir, MIXING_FILE), mixing, { format: 'pt' });
  const peft: PeftType = p.adapters[0]?.type ?? 'lora';
  writeFileSync(path.join(dir, VARIANT_FILE), JSON.stringify({ ...variant, peft, adapters: p.adapters.map((a) => a.name), baseModel: baseModel ?? null, baseDtype }, null, 2));
}

export async function runBitune(job: BituneJob, emit: (e: TrainerEvent) => void, control: TrainerControl): Promise<BituneOutcome> {
  const config = parseBituneConfig(job.config);
  const p = prepareBitune(config);
  const variant = variantOf(config);
  const t = config.train;
  const { prefix, rest } = shapeFor(p.pairs, p.family.maxPositions);
  const batches = new InstructBatches(p.pairs, { batch: t.batchSize, seed: t.seed, padId: p.tok.padId, prefix, rest });
  const steps = t.epochs * batches.batchesPerEpoch;
  const checkpointDir = path.join(job.runDir, 'checkpoints');
  const adaptersDir = path.join(job.runDir, 'adapters');
  mkdirSync(checkpointDir, { recursive: true });
  const layout = WEIGHT_LAYOUT[p.family.name];
  let baseModel: string | undefined = config.model.kind === 'folder' ? config.model.path : undefined;
  if (config.model.kind === 'fresh') {
    // The adapters need their base: a fresh one is kept with the run.
    const baseDir = path.join(job.runDir, 'base');
    exportModelFolder(baseDir, { arch: p.family.arch, params: p.base });
    writeFileSync(path.join(baseDir, TOKENIZER_SPEC_FILE), JSON.stringify(p.tok.spec()));
    baseModel = baseDir;
  }
  const device = await deviceRecord(config.runtime.provider);
  writeFileSync(path.join(job.runDir, 'run.json'), JSON.stringify({ config, tokenizer: p.tok.spec(), arch: p.family.arch, shape: { prefix, rest }, device: { provider: device.provider, adapter: device.adapter } }, null, 2));
  const trainedCount = [...p.init.values()].reduce((n, x) => n + x.data.length, 0);
  const what = config.peft === 'full' ? `trained whole, ${trainedCount} trained parameters in the ${p.adapters.map((a) => a.name).join(' + ')} cop${p.adapters.length > 1 ? 'ies' : 'y'}` : `frozen, ${trainedCount} trained parameters in ${config.peft} adapter${p.adapters.length > 1 ? 's' : ''} ${p.adapters.map((a) => a.name).join(' + ')}`;
  emit({ type: 'log', level: 'info', message: `${config.method}${config.method === 'bitune' ? ` (${variant.ablation}, s_init ${variant.sInit}, ${variant.prefillMask} prefill)` : ''} with ${config.peft}: ${p.train.length} training examples, ${batches.batchesPerEpoch} batches per epoch, ${steps} steps; ${p.family.name} ${p.family.nLayer}×${p.family.hiddenSize} ${what}${passesOf(variant).mixing ? ' + mixing' : ''}` });
  if (device.adapter) emit({ type: 'log', level: 'info', message: device.summary });

  const sessionOpts = { provider: config.runtime.provider, threads: config.runtime.threads };
  const baseDtype = config.runtime.baseDtype;
  const modelOf = (trained: TensorMap) => new BituneModel({ family: p.family, variant, adapters: p.adapters, base: p.base, trained, layout, baseDtype }, sessionOpts);
  const evalOpts = { batchSize: config.eval.batchSize, maxNewTokens: config.eval.maxNewTokens };
  let step: AdapterStep | null = null;
  // α per layer with each step, read from the step's current θ.
  if (passesOf(variant).mixing) {
    batches.info = () => {
      if (!step) return undefined;
      const info: Record<string, number> = {};
      const params = step.snapshot();
      const k = params.get(MIX_K)!.data;
      const v = params.get(MIX_V)!.data;
      for (let l = 0; l < p.family.nLayer; l++) {
        info[`alpha_k_${l}`] = mixingAlpha(k[l], variant.sInit);
        info[`alpha_v_${l}`] = mixingAlpha(v[l], variant.sInit);
      }
      return info;
    };
  }

  const result = await train({
    config: trainerConfigOf(config, { arch: p.family.arch, seq: prefix + rest, steps, batchesPerEpoch: batches.batchesPerEpoch, checkpointDir }),
    data: batches,
    init: job.resumeFrom ? { resumeFrom: job.resumeFrom } : { params: p.init },
    createStep: async (init) => {
      step = await AdapterStep.create({ family: p.family, variant, adapters: p.adapters, base: p.base, init, batch: t.batchSize, prefix, seq: prefix + rest, adamw: adamwOf(config), baseDtype, ...sessionOpts });
      return step;
    },
    emit,
    control,
    onEpochEnd: async ({ epoch, step: at, trainStep }) => {
      if (!p.valid.length || (!config.eval.everyEpoch && at < steps)) return;
      const model = modelOf(trainStep.snapshot());
      try {
        const r = await evaluateAnswers(model, p.tok, p.valid, { ...evalOpts, template: p.template });
        emit({ type: 'metric', step: at, epoch, values: { val_accuracy: r.accuracy } });
        emit({ type: 'predictions', step: at, split: 'valid', rows: r.predictions });
      } finally {
        await model.release();
      }
    },
  });

  saveAdapters(adaptersDir, p, result.params, baseModel, variant, baseDtype);
  let merged: MergedExport | null = null;
  if (result.status === 'completed') {
    const mergedDir = path.join(job.runDir, 'merged');
    exportMerged(mergedDir, p, result.params, baseModel);
    merged = { path: mergedDir, step: result.step, method: config.method, peft: config.peft, arch: p.family.arch, base: baseModel ?? null, adapters: adaptersDir };
  }
  let test: BituneEval | null = null;
  if (result.status === 'completed' && (p.test.length || config.eval.choices.length)) {
    const model = modelOf(result.params);
    try {
      const values: Record<string, number> = {};
      test = { accuracy: 0, correct: 0, total: p.test.length, examplesPerS: 0, choices: {} };
      if (p.test.length) {
        const t0 = performance.now();
        const r = await evaluateAnswers(model, p.tok, p.test, { ...evalOpts, template: p.template });
        test.examplesPerS = p.test.length / ((performance.now() - t0) / 1e3);
        test.accuracy = r.accuracy;
        test.correct = r.correct;
        values.test_accuracy = r.accuracy;
        emit({ type: 'predictions', step: result.step, split: 'test', rows: r.predictions });
      }
      for (const file of config.eval.choices) {
        const name = path.basename(file).replace(/\.jsonl?$/, '');
        const r = await evaluateChoices(model, p.tok, readChoiceFile(file), config.eval.batchSize, { template: p.template });
        test.choices[name] = r;
        values[`mc_acc.${name}`] = r.acc;
        values[`mc_acc_norm.${name}`] = r.accNorm;
      }
      emit({ type: 'metric', step: result.step, epoch: t.epochs - 1, values });
    } finally {
      await model.release();
    }
  }
  return { status: result.status, step: result.step, best: null, test, adaptersDir, merged };
}
