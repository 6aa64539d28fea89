/**
 * A folder's tokenizer through @huggingface/tokenizers: a small real GPT-2
 * style byte-level BPE written by the test as tokenizer.json, and the same
 * tokenizer as the older vocab.json + merges.txt pair.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportGpt2Folder, loadGpt2Folder } from '../../src-main/engine/hf/gpt2-folder.ts';
import { readSafetensors } from '../../src-main/engine/safetensors.ts';
import { loadTokenizer, TextTokenizer } from '../../src-main/engine/tokenizers/hf.ts';
import { byteChars } from '../fixtures/byte-bpe.ts';

let tmp: string;


// ids 0..255 are the bytes; merges then add 256.. in order; <|endoftext|> is last.
const MERGES = ['h e', 'l l', 'he ll', 'hell o', 'Ġ w', 'o r', 'Ġw or', 'l d', 'Ġwor ld'];
const EOT = 256 + MERGES.length; // 265
const ID = { hello: 259, ' world': 264 };

function vocab(): Record<string, number> {
  const v: Record<string, number> = {};
  byteChars().forEach((c, b) => (v[c] = b));
  MERGES.forEach((m, i) => (v[m.replace(' ', '')] = 256 + i));
  v['<|endoftext|>'] = EOT;
  return v;
}

function tokenizerJson(): Record<string, unknown> {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: EOT, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab: vocab(), merges: MERGES },
  };
}

function dirWith(name: string, files: Record<string, string>): string {
  const dir = path.join(tmp, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(path.join(dir, f), text);
  return dir;
}

const TOKENIZER_CONFIG = JSON.stringify({ eos_token: '<|endoftext|>', bos_token: '<|endoftext|>', model_max_length: 32 });

beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'stepwise-tok-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('tokenizer.json through @huggingface/tokenizers', () => {
  let tok: TextTokenizer;
  beforeAll(() => {
    tok = loadTokenizer(dirWith('json', { 'tokenizer.json': JSON.stringify(tokenizerJson()), 'tokenizer_config.json': TOKENIZER_CONFIG }));
  });

  it('applies the BPE merges: "hello world" is two tokens, and decodes back', () => {
    expect(tok.encode('hello world')).toEqual([ID.hello, ID[' world']]);
    expect(tok.decode([ID.hello, ID[' world']])).toBe('hello world');
    expect(tok.encode('hold')).toEqual([vocab().h, vocab().o, 263]); // h o ld
  });

  it('round-trips any text byte by byte, including accents, symbols and newlines', () => {
    for (const text of ['héllo wörld ✓', "it's 42 o'clock,\n\tthen  more.", 'emoji 🙂 and 中文', ' leading and trailing ']) {
      expect(tok.decode(tok.encode(text)), text).toBe(text);
    }
  });

  it('<|endoftext|> in the text is one special id, kept or skipped when decoding', () => {
    const ids = tok.encode('hello<|endoftext|> world');
    expect(ids).toEqual([ID.hello, EOT, ID[' world']]);
    expect(tok.decode(ids)).toBe('hello<|endoftext|> world');
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('hello world');
    expect(tok.specialTokens).toEqual(new Map([['<|endoftext|>', EOT]]));
    expect(tok.eosTokenId).toBe(EOT);
    expect(tok.vocabSize).toBe(EOT + 1);
    expect(tok.decode([])).toBe('');
  });

  it('vocab.json + merges.txt alone give the same tokenizer', () => {
    const pair = loadTokenizer(dirWith('pair', { 'vocab.json': JSON.stringify(vocab()), 'merges.txt': `#version: 0.2\n${MERGES.join('\n')}\n` }));
    for (const text of ['hello world', 'hello<|endoftext|> world', 'héllo wörld ✓']) expect(pair.encode(text), text).toEqual(tok.encode(text));
    expect(pair.decode(pair.encode('emoji 🙂 and 中文'))).toBe('emoji 🙂 and 中文');
  });

  it('a model type the library lacks, a missing merges.txt and broken JSON are reported with the file', () => {
    const wordLevel = { ...tokenizerJson(), model: { type: 'WordLevel', vocab: { a: 0 }, unk_token: 'a' } };
    let dir = dirWith('wordlevel', { 'tokenizer.json': JSON.stringify(wordLevel) });
    expect(() => loadTokenizer(dir)).toThrow(`${dir}/tokenizer.json: tokenizer model type 'WordLevel' is not supported by @huggingface/tokenizers; expected BPE, WordPiece or Unigram`);
    dir = dirWith('vocab-only', { 'vocab.json': '{}' });
    expect(() => loadTokenizer(dir)).toThrow(`${dir}: no tokenizer found; expected tokenizer.json, or vocab.json with merges.txt (found only vocab.json)`);
    dir = dirWith('broken', { 'tokenizer.json': '{"model": ' });
    expect(() => loadTokenizer(dir)).toThrow(new RegExp(`${dir}/tokenizer\\.json: not valid JSON`));
  });
});

describe('tokenizers in model folders', () => {
  it('a folder with tokenizer files loads its tokenizer, and export copies the files', () => {
    const src = path.resolve(__dirname, '../../../shared/reference/gpt2-tiny');
    const withTok = path.join(tmp, 'model-with-tokenizer');
    const ref = loadGpt2Folder(src);
    // The tiny model's vocabulary (20 ids) is smaller than this tokenizer's, so give the config a larger one.
    const big = { ...ref.config, vocabSize: EOT + 1 };
    const params = new Map(ref.params);
    params.set('wte.weight', { shape: [EOT + 1, 32], data: new Float32Array((EOT + 1) * 32) });
    const tokDir = dirWith('tok-files', { 'tokenizer.json': JSON.stringify(tokenizerJson()), 'tokenizer_config.json': TOKENIZER_CONFIG });
    exportGpt2Folder(withTok, { config: big, params, tokenizerFrom: tokDir });
    const back = loadGpt2Folder(withTok);
    expect(back.tokenizer?.encode('hello world')).toEqual([ID.hello, ID[' world']]);
    expect(back.tokenizer?.eosTokenId).toBe(EOT);
    expect(readSafetensors(path.join(withTok, 'model.safetensors')).tensors.get('wte.weight')!.shape).toEqual([EOT + 1, 32]);
    // A tokenizer with more ids than the model's vocabulary is refused.
    const small = path.join(tmp, 'model-too-small');
    exportGpt2Folder(small, { config: ref.config, params: ref.params, tokenizerFrom: tokDir });
    expect(() => loadGpt2Folder(small)).toThrow(`${small}: the tokenizer has ${EOT + 1} ids but config.json's vocab_size is 20`);
  });
});
