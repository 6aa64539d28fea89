/**
 * `jobs.export` / `stepwise export-job`: a run as a self-contained folder that trains on a cluster
 * with plain PyTorch (docs/JOB-FORMAT.md). The folder carries the run's config and data files, the
 * starting model in Hugging Face layout (for a fresh model: the very weights Stepwise initialised,
 * so the job starts where the run started), the examples as Stepwise tokenized them (tokens.json:
 * the job needs no tokenizer of its own), `train.py` and the launch files (resources/job/).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pkg from '../../package.json' with { type: 'json' };
import type { Handlers } from '../contract/dispatcher.ts';
import type { JsonObject } from '../contract/entities.ts';
import type { JobExportResult } from '../contract/areas/jobs.ts';
import { StepwiseError } from '../contract/errors.ts';
import { exportModelFolder } from '../engine/hf/model-folder.ts';
import { modelFamily, type ModelArch } from '../engine/models/family.ts';
import type { TensorMap } from '../engine/safetensors.ts';
import { hasTokenizer } from '../engine/tokenizers/hf.ts';
import type { SeqTokenizer } from '../engine/tokenizers/seq-tokenizer.ts';
import { TOKENIZER_SPEC_FILE } from '../engine/tokenizers/spec.ts';
import { saveAdapterPeft } from '../engine/lora.ts';
import { shapeFor } from '../methods/bitune/layout.ts';
import { parseBituneConfig, PEFT_PREFIX, variantOf, WEIGHT_LAYOUT } from '../methods/bitune/recipe.ts';
import { encodePair, prepareBitune, VARIANT_FILE } from '../methods/bitune/run.ts';
import { passesOf } from '../methods/bitune/variant.ts';
import { encodeStudentPrompt } from '../methods/finetune-cot/layout.ts';
import { QUESTION_ANSWER } from '../methods/shared/instruct/format.ts';
import { parseFtCotConfig } from '../methods/finetune-cot/recipe.ts';
import { prepare as prepareFtCot } from '../methods/finetune-cot/run.ts';
import { encodePrompt } from '../methods/icot/layout.ts';
import { parseIcotConfig } from '../methods/icot/recipe.ts';
import { prepare as prepareIcot } from '../methods/icot/run.ts';
import type { LabContext } from './lab.ts';

/** The methods train.py trains. */
export const EXPORTABLE_METHODS = ['icot-si', 'fine-tune-cot', 'lora', 'bitune'] as const;

/** The launch files every job carries, from resources/job/. */
const TEMPLATES = ['train.py', 'requirements.txt', 'README.md', 'slurm.sbatch', 'sky.yaml'] as const;

export interface ExportRequest {
  runId: number;
  /** The job folder to create: absent or empty. */
  out: string;
  /** Ask train.py for bf16 autocast on CUDA (job.json launch.bf16). */
  bf16?: boolean;
}

export type ExportReport = JobExportResult;

/** Where resources/job is, from source (src-main/services/) or from the desktop bundle (out/main/ or out/main/chunks/). */
export function jobTemplatesFolder(): string {
  for (const up of ['../../resources/job/', '../../../resources/job/']) {
    const dir = fileURLToPath(new URL(up, import.meta.url));
    if (fs.existsSync(path.join(dir, 'train.py'))) return dir;
  }
  throw new StepwiseError('internal', 'resources/job/train.py is not beside this installation: reinstall Stepwise');
}

/** The git commit of this Stepwise's sources, or null outside a clone. */
function sourceCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: path.dirname(fileURLToPath(import.meta.url)), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || null;
  } catch {
    return null;
  }
}

/** What the tokenizer writes for each id, and how decoding joins them (the compact tokenizer: with spaces; the others: as they are). */
function decodeTable(tok: SeqTokenizer): { joiner: string; pieces: string[] } {
  const pieces: string[] = [];
  for (let id = 0; id < tok.vocabSize; id++) pieces.push(tok.decode([id]));
  return { joiner: tok.kind === 'compact' ? ' ' : '', pieces };
}

/** A name for each data file under data/, its own unless two share one. */
function dataNames(files: string[]): Map<string, string> {
  const names = new Map<string, string>();
  const taken = new Set<string>();
  for (const file of files) {
    if (names.has(file)) continue;
    const ext = path.extname(file);
    const stem = path.basename(file, ext);
    let name = `${stem}${ext}`;
    for (let k = 2; taken.has(name); k++) name = `${stem}-${k}${ext}`;
    taken.add(name);
    names.set(file, name);
  }
  return names;
}

function emptyFolder(out: string): string {
  const dir = path.resolve(out);
  if (fs.existsSync(dir)) {
    if (!fs.statSync(dir).isDirectory()) throw new StepwiseError('invalid_input', `${dir} is a file; export-job writes a folder (--out DIR), give a new or empty one`);
    if (fs.readdirSync(dir).length > 0) throw new StepwiseError('conflict', `${dir} is not empty: export-job writes a new job folder, give a new or empty one`);
  }
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** What a method's run gives the job: the model to start from, the tokens, and the config with its data files. */
interface Exportable {
  arch: ModelArch;
  init: TensorMap;
  tok: SeqTokenizer;
  config: { model: { kind: string; path?: string }; data: { train: string; valid?: string; test?: string }; train: { epochs: number; batchSize: number }; runtime: { checkpointEveryEpochs: number } };
  /** tokens.json's examples, and the decoding budget. */
  tokens: { train: unknown[]; valid: unknown[]; test: unknown[]; maxNewTokens: number } & Record<string, unknown>;
  trainExamples: number;
  /** The README's one line on what the job trains. */
  what: string;
  /** The initial adapters (LoRA, Bitune): the folder under the job they go to, and what writes them there. */
  adapter?: { folder: string; write: (dir: string) => void };
}

/** ICoT-SI: `input EOS cot EOS #### answer EOS` (train: ids and the three EOS positions; the loss from the first EOS on). */
function icotExportable(json: unknown, where: string): Exportable {
  const config = parseIcotConfig(json, where);
  const p = prepareIcot(config);
  const evalRow = (ex: (typeof p.valid)[number]) => ({ input: ex.input, answer: ex.answer, prompt: encodePrompt(p.tok, ex.input), cotLength: p.cotLength(ex) });
  return {
    arch: p.arch, init: p.init, tok: p.tok, config, trainExamples: p.laid.length, what: config.recipe,
    tokens: {
      longest: p.longest, maxCot: p.maxCot, maxNewTokens: config.eval.maxNewTokens ?? p.longest,
      train: p.laid.map((e) => ({ ids: e.ids, eos: e.eos })), valid: p.valid.map(evalRow), test: p.test.map(evalRow),
    },
  };
}

/** Fine-tune-CoT: prompt then completion and EOS (train: ids and the prompt's length, which takes no loss). */
function ftcotExportable(json: unknown, where: string): Exportable {
  const config = parseFtCotConfig(json, where);
  const p = prepareFtCot(config);
  const positions = modelFamily(p.arch).maxPositions;
  const evalRow = (ex: (typeof p.valid)[number]) => ({ question: ex.question, answer: ex.answer, prompt: encodeStudentPrompt(p.tok, config.format, ex.question) });
  return {
    arch: p.arch, init: p.init, tok: p.tok, config, trainExamples: p.encoded.length, what: `a ${config.format} student`,
    tokens: {
      format: config.format, answerType: config.answerType,
      maxNewTokens: Math.min(config.eval.maxNewTokens ?? p.longestCompletion + 8, positions - 1),
      train: p.encoded.map((e) => ({ ids: e.ids, prompt: e.labels!.findIndex((l) => l !== -100) })),
      valid: p.valid.map(evalRow), test: p.test.map(evalRow),
    },
  };
}

/**
 * LoRA and Bitune with peft lora: the frozen base in model/, each example's prompt and answer tokens (the
 * layout of methods/bitune/layout.ts), and the initial adapters in PEFT's layout: LoRA's in model/adapter/,
 * Bitune's sets in model/adapters/<name>/ beside the variant's record (stepwise-adapters.json), with the
 * passes its ablation runs (variant.ts passesOf) in tokens.json `bitune`. What train.py does not train yet is
 * refused, naming the field: DoRA, IA3 and full fine-tuning, a float16 base, chat templates and
 * multiple-choice files.
 */
function adapterExportable(method: 'lora' | 'bitune', json: unknown, where: string): Exportable {
  const config = parseBituneConfig(json, where);
  const refuse = (field: string, why: string) => {
    throw new Error(`${field}: ${why}; train.py trains LoRA and Bitune with peft lora (a float32 base, no eval.choices) for now`);
  };
  if (config.method !== method) refuse('method', `is ${config.method} in a ${method} run's config`);
  if (config.peft !== 'lora') refuse('peft', `is ${config.peft}`);
  if (config.runtime.baseDtype !== 'float32') refuse('runtime.baseDtype', `is ${config.runtime.baseDtype}`);
  if (config.eval.choices.length) refuse('eval.choices', 'names multiple-choice files (score them on the imported adapters with stepwise eval)');
  const p = prepareBitune(config);
  if (p.template.name !== QUESTION_ANSWER.name) refuse('model', "has a chat template (train.py lays examples out as 'Question: …\\n\\nAnswer: …' only)");
  const adapter = p.adapters[0];
  const { prefix, rest } = shapeFor(p.pairs, p.family.maxPositions);
  const evalRow = (ex: (typeof p.valid)[number]) => ({ question: ex.question, answer: ex.answer, prompt: encodePair(p.tok, ex, p.template, false).prompt });
  const family = p.family.name;
  const peft = { modulePrefix: PEFT_PREFIX[family], layout: WEIGHT_LAYOUT[family] };
  const lora = { scale: config.lora.alpha / config.lora.r, dropout: config.lora.dropout, modulePrefix: PEFT_PREFIX[family], modules: adapter.modules.map((m) => m.module) };
  const common = { arch: p.family.arch, init: p.base, tok: p.tok, config, trainExamples: p.pairs.length };
  const tokens = { prefix, rest, maxNewTokens: config.eval.maxNewTokens, train: p.pairs, valid: p.valid.map(evalRow), test: p.test.map(evalRow) };
  if (method === 'lora') {
    return {
      ...common, what: `LoRA r ${config.lora.r} on ${adapter.modules.length} modules`,
      tokens: { ...tokens, lora: { adapter: 'model/adapter', ...lora } },
      adapter: { folder: 'model/adapter', write: (dir) => saveAdapterPeft(dir, adapter, p.init, peft) },
    };
  }
  const variant = variantOf(config);
  const folderOf = (name: string) => `model/adapters/${name}`;
  return {
    ...common, what: `Bitune (${variant.ablation}, s_init ${variant.sInit}, ${variant.prefillMask} prefill) with LoRA r ${config.lora.r} on ${adapter.modules.length} modules per set`,
    tokens: {
      ...tokens,
      lora: { adapter: folderOf('default'), ...lora },
      bitune: {
        ablation: variant.ablation, sInit: variant.sInit, prefillMask: variant.prefillMask, passes: passesOf(variant),
        adapters: Object.fromEntries(p.adapters.map((a) => [a.name, folderOf(a.name)])), variant: `model/adapters/${VARIANT_FILE}`,
      },
    },
    adapter: {
      folder: 'model/adapters',
      write: (dir) => {
        for (const a of p.adapters) saveAdapterPeft(path.join(dir, a.name), a, p.init, peft);
        // As a Stepwise run's adapters folder records its variant (run.ts saveAdapters); the job's checkpoints carry it.
        fs.writeFileSync(path.join(dir, VARIANT_FILE), JSON.stringify({ ...variant, peft: config.peft, adapters: p.adapters.map((a) => a.name), baseModel: null, baseDtype: config.runtime.baseDtype }, null, 2));
      },
    },
  };
}

const EXPORTABLE: Record<(typeof EXPORTABLE_METHODS)[number], (json: unknown, where: string) => Exportable> = {
  'icot-si': icotExportable,
  'fine-tune-cot': ftcotExportable,
  lora: (json, where) => adapterExportable('lora', json, where),
  bitune: (json, where) => adapterExportable('bitune', json, where),
};

export function exportJob(lab: LabContext, req: ExportRequest): ExportReport {
  const run = lab.store.runs.get(req.runId);
  if (!run) throw new StepwiseError('not_found', `there is no run ${req.runId} in ${lab.dataDir}`);
  const exportable = EXPORTABLE[run.method as (typeof EXPORTABLE_METHODS)[number]] as ((json: unknown, where: string) => Exportable) | undefined;
  if (!exportable) {
    throw new StepwiseError('invalid_input', `run ${run.id} is a ${run.method} run; export-job exports ${EXPORTABLE_METHODS.slice(0, -1).join(', ')} and ${EXPORTABLE_METHODS.at(-1)} runs (train.py trains those)`);
  }
  // Everything that could fail reads first, so a bad run leaves no half-written folder.
  let p: Exportable;
  try {
    p = exportable(run.config, `run ${run.id}'s config`);
  } catch (error) {
    throw new StepwiseError('invalid_input', `run ${run.id} cannot be exported: ${(error as Error).message}`);
  }
  const { config } = p;
  const templates = jobTemplatesFolder();
  const dir = emptyFolder(req.out);
  const files: string[] = [];
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
    files.push(rel);
  };

  // The data files, under their own names.
  const d = config.data;
  const names = dataNames([d.train, ...(d.valid ? [d.valid] : []), ...(d.test ? [d.test] : [])]);
  fs.mkdirSync(path.join(dir, 'data'));
  for (const [file, name] of names) {
    fs.copyFileSync(file, path.join(dir, 'data', name));
    files.push(`data/${name}`);
  }
  const rel = (file: string) => `data/${names.get(file)}`;

  // The starting model: the folder's weights, or the fresh model's initial ones, in one float32 file.
  const source = config.model.kind === 'folder' && config.model.path && hasTokenizer(config.model.path) ? config.model.path : undefined;
  exportModelFolder(path.join(dir, 'model'), { arch: p.arch, params: p.init, tokenizerFrom: source });
  fs.writeFileSync(path.join(dir, 'model', TOKENIZER_SPEC_FILE), JSON.stringify(p.tok.spec()));
  for (const f of fs.readdirSync(path.join(dir, 'model'))) files.push(`model/${f}`);
  if (p.adapter) {
    p.adapter.write(path.join(dir, p.adapter.folder));
    for (const f of fs.readdirSync(path.join(dir, p.adapter.folder), { recursive: true, withFileTypes: true })) {
      if (f.isFile()) files.push(path.relative(dir, path.join(f.parentPath, f.name)).split(path.sep).join('/'));
    }
  }

  write('tokens.json', JSON.stringify({
    format: 'stepwise-tokens', version: 1,
    tokenizer: { kind: p.tok.kind, eos: p.tok.eosId, pad: p.tok.padId, vocabSize: p.tok.vocabSize, ...decodeTable(p.tok) },
    ...p.tokens,
  }));

  const jobConfig = {
    ...config,
    data: { ...d, train: rel(d.train), ...(d.valid ? { valid: rel(d.valid) } : {}), ...(d.test ? { test: rel(d.test) } : {}) },
    model: config.model.kind === 'folder' ? { kind: 'folder', path: 'model' } : config.model,
  };
  const exported = { at: new Date().toISOString(), stepwise: pkg.version, commit: sourceCommit() };
  write('job.json', JSON.stringify({
    format: 'stepwise-job', version: 1, method: run.method,
    parent: { runId: run.id, name: run.name, lab: lab.dataDir },
    config: jobConfig as unknown as JsonObject,
    start: { model: 'model', tokens: 'tokens.json', arch: p.arch },
    launch: { bf16: req.bf16 ?? false },
    exported,
  }, null, 2));

  const batchesPerEpoch = Math.floor(p.trainExamples / config.train.batchSize);
  const steps = config.train.epochs * batchesPerEpoch;
  const fill: Record<string, string | number> = {
    name: run.name, runId: run.id, lab: lab.dataDir, at: exported.at, version: pkg.version, method: run.method,
    jobName: `stepwise-run-${run.id}`, slug: `${run.id}-${exported.at.slice(0, 10)}`,
    summary: `${p.what} on ${p.trainExamples} training examples, ${config.train.epochs} epochs of ${batchesPerEpoch} batches (${steps} steps)`,
    batchSize: config.train.batchSize, checkpointEvery: batchesPerEpoch * config.runtime.checkpointEveryEpochs,
  };
  for (const name of TEMPLATES) {
    const text = fs.readFileSync(path.join(templates, name), 'utf8');
    write(name, text.replace(/\{\{(\w+)\}\}/g, (whole, key: string) => (key in fill ? String(fill[key]) : whole)));
  }
  fs.chmodSync(path.join(dir, 'train.py'), 0o755);
  return { dir, method: run.method, files: files.sort(), steps };
}

export function jobExportHandlers(context: LabContext): Pick<Handlers, 'jobs.export'> {
  return {
    'jobs.export': ({ runId, out, bf16 }) => exportJob(context, { runId, out, bf16 }),
  };
}
