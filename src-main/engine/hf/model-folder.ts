/**
 * Any Hugging Face model folder Stepwise can load, by its config.json's
 * model_type: "gpt2" (gpt2-folder.ts) or a Llama-family type (llama-folder.ts).
 * Callers that take "a model folder" use this and get the architecture as a
 * ModelArch, whatever the family.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ModelArch } from '../models/family.ts';
import { isLlama } from '../models/family.ts';
import type { TensorMap } from '../safetensors.ts';
import type { TextTokenizer } from '../tokenizers/hf.ts';
import type { ChatTemplate } from './chat-template.ts';
import { exportGpt2Folder, gpt2ConfigFromHf, HfFolderError, loadGpt2Folder, readJson, type GenerationDefaults } from './gpt2-folder.ts';
import { exportLlamaFolder, LLAMA_MODEL_TYPES, llamaConfigFromHf, loadLlamaFolder } from './llama-folder.ts';

export interface HfModel {
  dir: string;
  config: ModelArch;
  hfConfig: Record<string, unknown>;
  generation: Partial<GenerationDefaults>;
  params: TensorMap;
  tokenizer: TextTokenizer | null;
  chatTemplate: ChatTemplate | null;
}

export const MODEL_TYPES = ['gpt2', ...LLAMA_MODEL_TYPES];

/** Load a folder of any supported family (see MODEL_TYPES). */
export function loadModelFolder(dir: string): HfModel {
  const configFile = path.join(dir, 'config.json');
  if (!existsSync(configFile)) throw new HfFolderError(`${dir}: no config.json; a Hugging Face model folder holds config.json and model.safetensors`);
  const type = readJson(configFile).model_type;
  if (type === 'gpt2') return { ...loadGpt2Folder(dir), chatTemplate: null };
  if (LLAMA_MODEL_TYPES.includes(type as string)) return loadLlamaFolder(dir);
  throw new HfFolderError(`${configFile}: model_type is ${JSON.stringify(type)}, expected one of ${MODEL_TYPES.map((t) => `"${t}"`).join(', ')}`);
}

/** A folder's architecture from its config.json alone (no weight is read), whatever the family. */
export function readModelFolderArch(dir: string): ModelArch {
  const configFile = path.join(dir, 'config.json');
  if (!existsSync(configFile)) throw new HfFolderError(`${dir}: no config.json; a Hugging Face model folder holds config.json and model.safetensors`);
  const hf = readJson(configFile);
  if (hf.model_type === 'gpt2') return gpt2ConfigFromHf(hf, configFile);
  if (LLAMA_MODEL_TYPES.includes(hf.model_type as string)) return llamaConfigFromHf(hf, configFile);
  throw new HfFolderError(`${configFile}: model_type is ${JSON.stringify(hf.model_type)}, expected one of ${MODEL_TYPES.map((t) => `"${t}"`).join(', ')}`);
}

/** What a model folder is written from, whatever the family. */
export interface ModelFolderExport {
  arch: ModelArch;
  params: TensorMap;
  /** Extra config.json fields (e.g. a loaded folder's hfConfig: bos/eos ids). */
  hfExtra?: Record<string, unknown>;
  /** Written as generation_config.json when given. */
  generation?: Partial<GenerationDefaults>;
  /** A folder whose tokenizer files are copied alongside. */
  tokenizerFrom?: string;
}

/** Write a Hugging Face folder of the architecture's family (GPT2LMHeadModel, or LlamaForCausalLM / the folder's own model_type via hfExtra). */
export function exportModelFolder(dir: string, e: ModelFolderExport): void {
  const common = { params: e.params, hfExtra: e.hfExtra, generation: e.generation, tokenizerFrom: e.tokenizerFrom };
  if (isLlama(e.arch)) exportLlamaFolder(dir, { config: e.arch, ...common });
  else exportGpt2Folder(dir, { config: e.arch, ...common });
}

/** The architecture as the library lists it (a model row's `architecture`). */
export function architectureSummary(arch: ModelArch): Record<string, string | number | boolean> {
  if (isLlama(arch)) {
    return { family: 'llama', nLayer: arch.nLayer, nHead: arch.nHead, nKvHead: arch.nKvHead, hiddenSize: arch.hiddenSize, vocabSize: arch.vocabSize, blockSize: arch.maxPositions, tiedEmbeddings: arch.tieWordEmbeddings };
  }
  return { family: 'gpt2', nLayer: arch.nLayer, nHead: arch.nHead, nEmbd: arch.nEmbd, vocabSize: arch.vocabSize, blockSize: arch.nPositions };
}
