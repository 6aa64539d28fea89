/**
 * Trained adapters read back from disk, ready to evaluate: a run's
 * `adapters/` folder (`default/`, `prefill/` in PEFT's layout, LoRA, DoRA or
 * IA3, or under full fine-tuning as model folders; the mixing θ in
 * `bitune.safetensors`, the variant in `stepwise-adapters.json`, see run.ts),
 * or a single PEFT adapter folder (adapter_config.json, a LoRA, DoRA or IA3
 * adapter used as `default`). The base is the folder the adapters name
 * (base_model_name_or_path) unless the caller gives one; its tokenizer and
 * chat template come with it.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadModelFolder } from '../../engine/hf/model-folder.ts';
import { fullParamName } from '../../engine/full-finetune.ts';
import { loadAdapterPeft, PEFT_CONFIG_FILE, type Adapter } from '../../engine/lora.ts';
import { modelFamily } from '../../engine/models/family.ts';
import { readSafetensors, type TensorMap } from '../../engine/safetensors.ts';
import type { SeqTokenizer } from '../../engine/tokenizers/seq-tokenizer.ts';
import { folderTokenizer } from '../../engine/tokenizers/spec.ts';
import type { InstructTemplate } from '../shared/instruct/format.ts';
import type { BituneModelParts } from './infer.ts';
import { PEFT_PREFIX, WEIGHT_LAYOUT } from './recipe.ts';
import { instructTemplateOf, MIXING_FILE, VARIANT_FILE } from './run.ts';
import { ABLATIONS, DEFAULT_VARIANT, MIX_K, MIX_V, passesOf, PREFILL_MASKS, type Variant } from './variant.ts';

export interface SavedAdapters extends BituneModelParts {
  tok: SeqTokenizer;
  template: InstructTemplate;
  /** The base model's folder. */
  baseDir: string;
}

function readJsonFile(file: string): Record<string, unknown> {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('expected a JSON object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${file}: cannot read (${(err as Error).message})`);
  }
}

/** The variant a run's adapters folder was trained for; folders without the file are told apart by what they hold. */
function variantIn(dir: string): Variant {
  const file = path.join(dir, VARIANT_FILE);
  if (!existsSync(file)) {
    const bitune = existsSync(path.join(dir, 'prefill')) || existsSync(path.join(dir, MIXING_FILE));
    return bitune ? DEFAULT_VARIANT : { ...DEFAULT_VARIANT, method: 'lora' };
  }
  const raw = readJsonFile(file);
  const method = raw.method;
  if (method !== 'bitune' && method !== 'lora') throw new Error(`${file}: method is ${JSON.stringify(method)}, expected "bitune" or "lora"`);
  const ablation = raw.ablation ?? DEFAULT_VARIANT.ablation;
  if (!(ABLATIONS as readonly unknown[]).includes(ablation)) throw new Error(`${file}: ablation is ${JSON.stringify(ablation)}, expected one of ${ABLATIONS.join(', ')}`);
  const prefillMask = raw.prefillMask ?? DEFAULT_VARIANT.prefillMask;
  if (!(PREFILL_MASKS as readonly unknown[]).includes(prefillMask)) throw new Error(`${file}: prefillMask is ${JSON.stringify(prefillMask)}, expected one of ${PREFILL_MASKS.join(', ')}`);
  const sInit = raw.sInit ?? DEFAULT_VARIANT.sInit;
  if (!(typeof sInit === 'number' && sInit > 0)) throw new Error(`${file}: sInit is ${JSON.stringify(sInit)}, expected a positive number`);
  return { method, ablation: ablation as Variant['ablation'], prefillMask: prefillMask as Variant['prefillMask'], sInit };
}

/**
 * Load adapters from `dir` over their base. `opts.base` overrides the base the
 * adapters name; `opts.variant` the variant stored with them (a run's config
 * is the authority for its own folder).
 */
export function loadSavedAdapters(dir: string, opts: { base?: string; variant?: Variant } = {}): SavedAdapters {
  if (!existsSync(dir)) throw new Error(`${dir}: no such folder`);
  const single = existsSync(path.join(dir, PEFT_CONFIG_FILE));
  // Full fine-tuning keeps each copy of the model as a model folder (default/config.json).
  const full = !single && !existsSync(path.join(dir, 'default', PEFT_CONFIG_FILE)) && existsSync(path.join(dir, 'default', 'config.json'));
  if (!single && !full && !existsSync(path.join(dir, 'default', PEFT_CONFIG_FILE))) {
    throw new Error(`${dir}: not an adapter folder (expected ${PEFT_CONFIG_FILE}, or a run's adapters folder with default/${PEFT_CONFIG_FILE}, or default/config.json after full fine-tuning)`);
  }
  const variant = opts.variant ?? (single ? { ...DEFAULT_VARIANT, method: 'lora' as const } : variantIn(dir));
  const folderOf = (name: string) => (single ? dir : path.join(dir, name));
  const namedBy = full ? path.join(dir, VARIANT_FILE) : path.join(folderOf('default'), PEFT_CONFIG_FILE);
  const named = full ? (existsSync(namedBy) ? readJsonFile(namedBy).baseModel : undefined) : readJsonFile(namedBy).base_model_name_or_path;
  const baseDir = opts.base ?? (typeof named === 'string' && named !== '' ? named : undefined);
  if (!baseDir) throw new Error(`${namedBy} names no base model (${full ? 'baseModel' : 'base_model_name_or_path'}); give the base model's folder`);
  if (!existsSync(path.join(baseDir, 'config.json'))) throw new Error(`the base model ${baseDir} (named by ${opts.base ? 'the caller' : namedBy}) is not a model folder: it has no config.json`);
  const folder = loadModelFolder(baseDir);
  const family = modelFamily(folder.config);
  const layout = WEIGHT_LAYOUT[family.name];
  const shapes = family.paramShapes();
  const adapters: Adapter[] = [];
  const trained: TensorMap = new Map();
  for (const name of passesOf(variant).adapters) {
    const sub = folderOf(name);
    if (single && name !== 'default') throw new Error(`${dir}: a single PEFT adapter cannot serve Bitune's '${name}' adapter; give a run's adapters folder`);
    if (full) {
      if (!existsSync(path.join(sub, 'config.json'))) throw new Error(`${sub}: missing; the ${variant.method} variant needs the '${name}' copy of the fully fine-tuned model`);
      const copy = loadModelFolder(sub);
      if (JSON.stringify(modelFamily(copy.config).arch) !== JSON.stringify(family.arch)) throw new Error(`${sub}: its config.json differs from the base model ${baseDir}'s`);
      adapters.push({ name, type: 'full', config: { r: 1, alpha: 1, dropout: 0, targets: [] }, modules: [] });
      for (const [k, t] of copy.params) trained.set(fullParamName(name, k), t);
      continue;
    }
    if (!existsSync(path.join(sub, PEFT_CONFIG_FILE))) throw new Error(`${sub}: missing; the ${variant.method} variant needs the '${name}' adapter`);
    const a = loadAdapterPeft(sub, name, shapes, { modulePrefix: PEFT_PREFIX[family.name], layout });
    adapters.push(a.adapter);
    for (const [k, t] of a.weights) trained.set(k, t);
  }
  if (passesOf(variant).mixing) {
    const file = path.join(dir, MIXING_FILE);
    if (!existsSync(file)) throw new Error(`${file}: missing; the ${variant.ablation} Bitune variant needs the mixing parameters`);
    const { tensors } = readSafetensors(file);
    for (const name of [MIX_K, MIX_V]) {
      const t = tensors.get(name);
      if (!t || t.shape.join(',') !== String(family.nLayer)) throw new Error(`${file}: '${name}' must be a [${family.nLayer}] tensor (one θ per layer)`);
      trained.set(name, t);
    }
  }
  // The base as the adapters were trained over it (float16 runs: on the float16 grid).
  const dtype = existsSync(path.join(dir, VARIANT_FILE)) ? readJsonFile(path.join(dir, VARIANT_FILE)).baseDtype : undefined;
  const baseDtype = dtype === 'float16' ? 'float16' : 'float32';
  return { family, variant, adapters, base: folder.params, trained, layout, baseDtype, tok: folderTokenizer(baseDir, folder.tokenizer), template: instructTemplateOf(baseDir), baseDir };
}
