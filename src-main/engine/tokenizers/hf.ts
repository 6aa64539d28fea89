/**
 * Text ↔ token ids with a Hugging Face model folder's own tokenizer, through
 * @huggingface/tokenizers (a pure-JS port of the Rust `tokenizers` library).
 *
 * A folder's `tokenizer.json` (plus `tokenizer_config.json` when present) is
 * used as it is. A folder with only GPT-2's older `vocab.json` + `merges.txt`
 * gets the byte-level BPE tokenizer those files describe, assembled in the
 * `tokenizer.json` format (what `GPT2TokenizerFast` does when it converts them).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';

/** Files that make up a tokenizer in a Hugging Face folder (copied on export). */
export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt', 'added_tokens.json'];

export class TokenizerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenizerError';
  }
}

interface AddedTokenJson {
  id: number;
  content: string;
  special?: boolean;
}

export class TextTokenizer {
  /** Where it was loaded from (a file or folder), for messages. */
  readonly source: string;
  /** Token strings → ids, special and added tokens included. */
  readonly vocab: Map<string, number>;
  /** Special tokens (e.g. '<|endoftext|>') → ids. */
  readonly specialTokens: Map<string, number>;
  /** From tokenizer_config.json, when it names them. */
  readonly eosTokenId: number | undefined;
  readonly bosTokenId: number | undefined;
  private readonly tok: Tokenizer;

  /** From the contents of a tokenizer.json and (optionally) a tokenizer_config.json. */
  constructor(tokenizerJson: Record<string, unknown>, config: Record<string, unknown> = {}, source = '<tokenizer.json>') {
    this.source = source;
    const model = tokenizerJson.model as { type?: string } | undefined;
    if (model?.type && !['BPE', 'WordPiece', 'Unigram'].includes(model.type)) {
      throw new TokenizerError(`${source}: tokenizer model type '${model.type}' is not supported by @huggingface/tokenizers; expected BPE, WordPiece or Unigram`);
    }
    // Decoding must give back the text that was encoded, so clean-up of spaces before punctuation is off unless the folder asks for it.
    const cfg = { clean_up_tokenization_spaces: false, ...config };
    try {
      this.tok = new Tokenizer({ added_tokens: [], normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, ...tokenizerJson }, cfg);
    } catch (err) {
      throw new TokenizerError(`${source}: cannot build the tokenizer (${(err as Error).message})`);
    }
    this.vocab = this.tok.get_vocab(true);
    this.specialTokens = new Map();
    for (const t of (tokenizerJson.added_tokens ?? []) as AddedTokenJson[]) if (t.special) this.specialTokens.set(t.content, t.id);
    const idOf = (key: string) => {
      const v = config[key];
      const content = typeof v === 'string' ? v : (v as { content?: string } | undefined)?.content;
      return content === undefined ? undefined : this.vocab.get(content);
    };
    this.eosTokenId = idOf('eos_token');
    this.bosTokenId = idOf('bos_token');
  }

  /** Number of ids the tokenizer can produce (1 + the largest id). */
  get vocabSize(): number {
    let max = -1;
    for (const id of this.vocab.values()) max = Math.max(max, id);
    return max + 1;
  }

  /** Special tokens written in the text (e.g. '<|endoftext|>') become their single ids. */
  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    return this.tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids;
  }

  decode(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return '';
    return this.tok.decode(ids, { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  tokenToId(token: string): number | undefined {
    return this.vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.tok.id_to_token(id);
  }
}

function readJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TokenizerError(`${file}: cannot read (${(err as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new TokenizerError(`${file}: not valid JSON (${(err as Error).message})`);
  }
}

/** True when the folder has a tokenizer this module can load. */
export function hasTokenizer(dir: string): boolean {
  return existsSync(path.join(dir, 'tokenizer.json')) || (existsSync(path.join(dir, 'vocab.json')) && existsSync(path.join(dir, 'merges.txt')));
}

/** The folder's tokenizer: tokenizer.json, else vocab.json + merges.txt (GPT-2 byte-level BPE). */
export function loadTokenizer(dir: string): TextTokenizer {
  const configFile = path.join(dir, 'tokenizer_config.json');
  const config = existsSync(configFile) ? readJson(configFile) : {};
  const specialMapFile = path.join(dir, 'special_tokens_map.json');
  const specialMap = existsSync(specialMapFile) ? readJson(specialMapFile) : {};
  const merged = { ...specialMap, ...config };
  const jsonFile = path.join(dir, 'tokenizer.json');
  if (existsSync(jsonFile)) return new TextTokenizer(readJson(jsonFile), merged, jsonFile);

  const vocabFile = path.join(dir, 'vocab.json');
  const mergesFile = path.join(dir, 'merges.txt');
  if (!existsSync(vocabFile) || !existsSync(mergesFile)) {
    const has = [vocabFile, mergesFile].filter(existsSync).map((f) => path.basename(f));
    throw new TokenizerError(`${dir}: no tokenizer found; expected tokenizer.json, or vocab.json with merges.txt${has.length ? ` (found only ${has.join(', ')})` : ''}`);
  }
  return new TextTokenizer(byteLevelBpeJson(dir, readJson(vocabFile), merged), merged, `${vocabFile} + merges.txt`);
}

/**
 * GPT-2's byte-level BPE in the tokenizer.json format, from vocab.json and
 * merges.txt. Special tokens are those tokenizer_config.json or
 * special_tokens_map.json name (bos/eos/unk/pad), and '<|endoftext|>'.
 */
function byteLevelBpeJson(dir: string, vocab: Record<string, unknown>, config: Record<string, unknown>): Record<string, unknown> {
  const mergesFile = path.join(dir, 'merges.txt');
  const merges: string[] = [];
  readFileSync(mergesFile, 'utf8').split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line === '' || (i === 0 && line.startsWith('#version'))) return;
    if (line.split(' ').length !== 2) throw new TokenizerError(`${mergesFile}:${i + 1}: expected two tokens separated by one space, got '${line}'`);
    merges.push(line);
  });
  const special = new Set<string>(['<|endoftext|>']);
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token']) {
    const v = config[key];
    const content = typeof v === 'string' ? v : (v as { content?: string } | undefined)?.content;
    if (content) special.add(content);
  }
  const added = [...special]
    .filter((t) => typeof vocab[t] === 'number')
    .map((t) => ({ id: vocab[t] as number, content: t, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }));
  return {
    version: '1.0',
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}
