// Bitune and its LoRA baseline as New run methods: the fine-tuning type
// (LoRA, DoRA, IA3 or full), the adapters (targets, rank, alpha, dropout) and,
// for Bitune, the mixing's s_init, the ablation and the prefill pass's mask. Both build the config of
// src-main/methods/bitune/recipe.ts; the two differ only in `method`.
import type { JsonObject, JsonValue } from '../../src-main/contract/index.ts';
import { freshModelConfig, readFreshShape, splitFile, TRAIN_DEFAULTS, type RunFormCommon } from '../lib/run-config.ts';
import BituneSettings from './BituneSettings.svelte';
import { defineRunFormMethod } from './types.ts';

/** The config's `peft`: how the model is fine-tuned, alone or under Bitune's two passes. */
export type PeftType = 'lora' | 'dora' | 'ia3' | 'full';

export const PEFT_LABELS: Record<PeftType, string> = { lora: 'LoRA', dora: 'DoRA', ia3: 'IA3', full: 'Full fine-tuning' };

export interface AdapterSettings {
  peft: PeftType;
  /** Module name patterns, comma-separated; empty: every attention and MLP projection. */
  targets: string;
  r: number;
  alpha: number;
  dropout: number;
  ablation: 'full' | 'naive-bidirectional' | 'no-mixing' | 'only-causal' | 'shared-adapter';
  sInit: number;
  prefillMask: 'bidirectional' | 'anti-causal' | 'causal';
  /** How the frozen base is held: float32, or float16 (half the memory; adapters stay float32). */
  baseDtype: 'float32' | 'float16';
  /** Whether the settings are Bitune's (false: LoRA's, with no mixing). */
  bitune: boolean;
}

export const ADAPTER_DEFAULTS: Omit<AdapterSettings, 'bitune'> = { peft: 'lora', targets: '', r: 8, alpha: 16, dropout: 0, ablation: 'full', sInit: 0.01, prefillMask: 'bidirectional', baseDtype: 'float32' };

const isObject = (v: JsonValue | undefined): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);

export function buildAdapterConfig(method: 'bitune' | 'lora', common: RunFormCommon, s: AdapterSettings): JsonObject {
  const data: JsonObject = { train: splitFile(common.dataset, 'train') };
  if (common.dataset.splitCounts.valid! > 0) data.valid = splitFile(common.dataset, 'valid');
  if (common.dataset.splitCounts.test! > 0) data.test = splitFile(common.dataset, 'test');
  const targets = s.targets.split(',').map((t) => t.trim()).filter(Boolean);
  const config: JsonObject = {
    method,
    ...(s.peft !== 'lora' ? { peft: s.peft } : {}),
    model: common.model ? { kind: 'folder', path: common.model.path } : freshModelConfig(common.fresh),
    lora: { r: s.r, alpha: s.alpha, dropout: s.dropout, ...(targets.length ? { targets } : {}) },
    data,
    train: { ...common.train },
    // Full fine-tuning trains the base's own float32 weights: no float16 base.
    runtime: { provider: common.provider, ...(s.baseDtype === 'float16' && s.peft !== 'full' ? { baseDtype: 'float16' } : {}) },
  };
  if (method === 'bitune') config.bitune = { ablation: s.ablation, sInit: s.sInit, prefillMask: s.prefillMask };
  return config;
}

function readAdapterConfig(method: 'bitune' | 'lora', config: JsonObject) {
  if (config.method !== method) return null;
  const model = isObject(config.model) ? config.model : {};
  const data = isObject(config.data) ? config.data : {};
  const lora = isObject(config.lora) ? config.lora : {};
  const bitune = isObject(config.bitune) ? config.bitune : {};
  const runtime = isObject(config.runtime) ? config.runtime : {};
  const pick = <T extends object>(defaults: T, from: JsonObject): T => {
    const out = { ...defaults };
    for (const key of Object.keys(defaults) as (keyof T & string)[]) if (from[key] !== undefined) (out as Record<string, unknown>)[key] = from[key];
    return out;
  };
  const train = typeof data.train === 'string' ? /^(datasets\/[^/]+)\//.exec(data.train) : null;
  const settings: AdapterSettings = {
    ...pick(ADAPTER_DEFAULTS, { ...lora, ...bitune, ...(runtime.baseDtype === 'float16' ? { baseDtype: 'float16' } : {}), ...(typeof config.peft === 'string' && config.peft in PEFT_LABELS ? { peft: config.peft } : {}) }),
    targets: Array.isArray(lora.targets) ? lora.targets.join(', ') : '',
    bitune: method === 'bitune',
  };
  return {
    common: {
      datasetPath: train ? train[1]! : null,
      modelPath: model.kind === 'folder' && typeof model.path === 'string' ? model.path : null,
      fresh: readFreshShape(model),
      train: pick(TRAIN_DEFAULTS, isObject(config.train) ? config.train : {}),
      provider: typeof runtime.provider === 'string' ? runtime.provider : 'cpu',
    },
    settings,
  };
}

function adapterEntry(method: 'bitune' | 'lora', label: string, hint: string) {
  return defineRunFormMethod<AdapterSettings>({
    id: method,
    method,
    label,
    hint,
    trainable: true,
    freshModel: true,
    initialSettings: () => ({ ...ADAPTER_DEFAULTS, bitune: method === 'bitune' }),
    Settings: BituneSettings,
    trainDefaults: { epochs: 3, batchSize: 8, lr: 3e-4, weightDecay: 0 },
    buildConfig: (common, settings) => buildAdapterConfig(method, common, settings),
    readConfig: (config) => readAdapterConfig(method, config),
    datasetProblem: (dataset) => (dataset.splitCounts.train! > 0 ? null : `${dataset.name} has no train split`),
  });
}

export const bituneEntry = adapterEntry('bitune', 'Bitune', 'Read the prompt twice, causally and bidirectionally, with two adapter sets (LoRA, DoRA, IA3, or two copies of the model), and mix the two passes’ keys and values per layer.');
export const loraEntry = adapterEntry('lora', 'LoRA', 'Fine-tune once, causally (LoRA, DoRA, IA3 or the full model): the baseline Bitune is compared with.');
