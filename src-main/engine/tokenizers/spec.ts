/**
 * A tokenizer back from what a run stored: its description (`spec()` of a
 * SeqTokenizer), written into a model folder Stepwise exports as
 * `stepwise-tokenizer.json`; a folder without one uses its own Hugging Face
 * tokenizer.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { compactTokenizerFromSpec } from './compact.ts';
import { gpt2Tokenizer } from './gpt2.ts';
import { loadTokenizer, type TextTokenizer } from './hf.ts';
import type { SeqTokenizer } from './seq-tokenizer.ts';
import { wordTokenizerFromSpec } from './word.ts';

/** Where a model folder trained by Stepwise keeps its tokenizer's description. */
export const TOKENIZER_SPEC_FILE = 'stepwise-tokenizer.json';

/**
 * A tokenizer from the description a run stores (`spec()`: compact symbols, words, or a Hugging
 * Face folder's tokenizer by its source folder, stored as kind 'gpt2' whatever the model's family);
 * `hf` is used for the last when the caller has it loaded.
 * `where` names the file the description came from, for errors.
 */
export function tokenizerFromSpec(spec: unknown, where: string, hf: TextTokenizer | null = null): SeqTokenizer {
  const kind = (spec as { kind?: unknown } | null)?.kind;
  try {
    if (kind === 'compact') return compactTokenizerFromSpec(spec);
    if (kind === 'words') return wordTokenizerFromSpec(spec);
    if (kind === 'gpt2') {
      if (hf) return gpt2Tokenizer(hf);
      // e.g. "/models/gpt2/tokenizer.json" or "/models/gpt2/vocab.json + merges.txt"
      const source = String((spec as { source?: unknown }).source ?? '');
      return gpt2Tokenizer(loadTokenizer(path.dirname(source.split(' + ')[0])));
    }
  } catch (err) {
    throw new Error(`${where}: cannot rebuild the tokenizer: ${(err as Error).message}`);
  }
  throw new Error(`${where}: unknown tokenizer kind ${JSON.stringify(kind)} (expected compact, gpt2 or words)`);
}

/**
 * The tokenizer of a model folder: its Stepwise description (`stepwise-tokenizer.json`), else
 * the folder's own Hugging Face tokenizer (`hf`, as loadModelFolder or loadTokenizer read it; any family).
 */
export function folderTokenizer(dir: string, hf: TextTokenizer | null): SeqTokenizer {
  const specFile = path.join(dir, TOKENIZER_SPEC_FILE);
  if (existsSync(specFile)) {
    let spec: unknown;
    try {
      spec = JSON.parse(readFileSync(specFile, 'utf8'));
    } catch (err) {
      throw new Error(`${specFile}: not valid JSON (${(err as Error).message})`);
    }
    return tokenizerFromSpec(spec, specFile, hf);
  }
  if (hf) return gpt2Tokenizer(hf);
  throw new Error(`${dir} has no tokenizer: expected ${TOKENIZER_SPEC_FILE}, tokenizer.json, or vocab.json with merges.txt`);
}
