import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compactTokenizerFromSpec, MULT_SYMBOLS, multTokenizer } from '../../src-main/engine/tokenizers/compact.ts';
import { gpt2Tokenizer } from '../../src-main/engine/tokenizers/gpt2.ts';
import { TextTokenizer } from '../../src-main/engine/tokenizers/hf.ts';
import { folderTokenizer, TOKENIZER_SPEC_FILE } from '../../src-main/engine/tokenizers/spec.ts';
import { compactTokenizerFor, encodeExample, encodePrompt, IGNORE_INDEX, parseGenerated } from '../../src-main/methods/icot/layout.ts';
import { parseLine, readExamples } from '../../src-main/methods/shared/examples.ts';
import { byteBpeJson } from '../fixtures/byte-bpe.ts';

const ICOT = path.resolve(import.meta.dirname, '../../../shared/data/icot');
const SIZES = [4, 5, 7, 9];

const tok = multTokenizer();
/** Compact ids: <pad> 0, <eos> 1, digit d → d + 2, then * + ( ) ####. */
const D = (s: string) => s.split(' ').map((x) => MULT_SYMBOLS.indexOf(x));

describe('the compact multiplication tokenizer', () => {
  it('has 17 ids: <pad> 0, <eos> 1, the digits, * + ( ) ####', () => {
    expect(tok.vocabSize).toBe(17);
    expect([tok.padId, tok.eosId, tok.kind]).toEqual([0, 1, 'compact']);
    expect(tok.encode(' 7 6 * 1 + ( ) #### ')).toEqual([9, 8, 12, 3, 13, 14, 15, 16]);
    expect(tok.spec()).toEqual({ kind: 'compact', symbols: [...MULT_SYMBOLS] });
  });

  it('round-trips every shared multiplication line, one token per digit or sign', () => {
    for (const n of SIZES) {
      for (const split of ['valid', 'test']) {
        for (const ex of readExamples(path.join(ICOT, `${n}_by_${n}_mult/${split}.txt`))) {
          for (const text of [ex.input, ex.cot, ex.answer]) {
            const ids = tok.encode(text);
            expect(ids.length).toBe(text.split(' ').length);
            const back = tok.decode(ids);
            if (back !== text) expect(back).toBe(text);
          }
        }
      }
    }
  });

  it('names an unknown symbol', () => {
    expect(() => tok.encode('7 6 - 1')).toThrow('the compact tokenizer has no symbol "-" (in "7 6 - 1")');
    expect(() => tok.decode([17])).toThrow('token id 17 is outside the compact vocabulary of 17');
  });

  it('a data-derived vocabulary keeps the multiplication ids, adds the data’s symbols in code-point order, and restores from its spec', () => {
    const derived = compactTokenizerFor([{ input: '3 + 4 =', cot: '<< 3 + 4 = 7 >>', answer: '7' }, { input: 'x - y', cot: '', answer: 'z' }]);
    expect((derived.spec() as { symbols: string[] }).symbols).toEqual([...MULT_SYMBOLS, '-', '<<', '=', '>>', 'x', 'y', 'z']);
    expect(derived.encode('3 + 4')).toEqual(tok.encode('3 + 4'));
    expect(derived.decode(derived.encode('<< x - y = z >>'))).toBe('<< x - y = z >>');
    const restored = compactTokenizerFromSpec(JSON.parse(JSON.stringify(derived.spec())));
    expect(restored.encode('x = y')).toEqual(derived.encode('x = y'));
    expect(compactTokenizerFor(readExamples(path.join(ICOT, '4_by_4_mult/test.txt'))).spec()).toEqual(tok.spec());
    expect(() => compactTokenizerFromSpec({ kind: 'compact', symbols: ['<eos>', '<pad>'] })).toThrow('to start with "<pad>", "<eos>"');
    expect(() => compactTokenizerFromSpec({ kind: 'compact', symbols: ['<pad>', '<eos>', 'a', 'a'] })).toThrow('the compact symbol "a" appears twice');
  });
});

describe('the example layout input EOS cot EOS #### answer EOS', () => {
  const ex = parseLine('2 1 * 5 4 3||0 6 0 + 0 8 4 0 ( 0 4 5 0 ) + 0 0 6 3 0 #### 0 4 1 4 0');

  it('lays out ids with EOS after the input, the CoT and the answer, and labels −100 before the first EOS only', () => {
    const { ids, labels, eos } = encodeExample(tok, ex);
    const expected = [...D('2 1 * 5 4 3'), 1, ...D('0 6 0 + 0 8 4 0 ( 0 4 5 0 ) + 0 0 6 3 0'), 1, 16, ...D('0 4 1 4 0'), 1];
    expect(ids).toEqual(expected);
    expect(eos).toEqual([6, 27, 34]); // 6 input tokens, 20 CoT tokens, #### and 5 answer digits
    expect(eos.map((i) => ids[i])).toEqual([1, 1, 1]);
    expect(eos[2]).toBe(ids.length - 1);
    expect(labels).toEqual([...Array(6).fill(IGNORE_INDEX), ...expected.slice(6)]);
  });

  it('an empty CoT leaves two EOS side by side', () => {
    const { ids, eos } = encodeExample(tok, { input: '3 * 3', cot: '', answer: '9 0' });
    expect(ids).toEqual([...D('3 * 3'), 1, 1, 16, ...D('9 0'), 1]);
    expect(eos).toEqual([3, 4, 8]);
  });

  it('the prompt is input EOS, the start of the laid-out example', () => {
    const prompt = encodePrompt(tok, ex.input);
    expect(prompt).toEqual([...D('2 1 * 5 4 3'), 1]);
    expect(encodeExample(tok, ex).ids.slice(0, prompt.length)).toEqual(prompt);
  });

  it('parseGenerated reads back the CoT and the answer of a well-formed generation', () => {
    const full = encodeExample(tok, ex).ids;
    const generated = full.slice(encodePrompt(tok, ex.input).length);
    expect(parseGenerated(tok, generated)).toEqual({ cot: ex.cot, answer: ex.answer });
    expect(parseGenerated(tok, [...generated, 9, 9])).toEqual({ cot: ex.cot, answer: ex.answer }); // anything after the 2nd EOS is ignored
  });

  it('parseGenerated on malformed generations: no EOS, no ####, no closing EOS', () => {
    expect(parseGenerated(tok, D('0 6 0 +'))).toEqual({ cot: '0 6 0 +', answer: null });
    expect(parseGenerated(tok, [...D('0 6'), 1, ...D('4 1'), 1])).toEqual({ cot: '0 6', answer: null });
    expect(parseGenerated(tok, [...D('0 6'), 1, 16, ...D('4 1')])).toEqual({ cot: '0 6', answer: '4 1' });
    expect(parseGenerated(tok, [1, 16, 1])).toEqual({ cot: '', answer: '' });
    expect(parseGenerated(tok, [])).toEqual({ cot: '', answer: null });
  });
});

// A small GPT-2 style byte-level BPE (bytes, then merges of ' ' with digits and '####'), built the way tokenizer.test.ts builds one.
const MERGES = [...'0123456789*+()'.split('').map((c) => `Ġ ${c}`), '# #', '## ##', 'Ġ ####'];
const EOT = 256 + MERGES.length;
const gpt2Like = () => new TextTokenizer(byteBpeJson({ special: { '<|endoftext|>': EOT }, merges: MERGES, postProcessor: true }));

describe('the GPT-2 tokenizer in the layout', () => {
  const text = gpt2Like();
  const g = gpt2Tokenizer(text);
  const sp = (c: string) => 256 + MERGES.indexOf(`Ġ ${c}`); // ' 7' as one token

  it('EOS and padding are <|endoftext|>; the spec names the source', () => {
    expect([g.kind, g.eosId, g.padId, g.vocabSize]).toEqual(['gpt2', EOT, EOT, EOT + 1]);
    expect(g.spec()).toEqual({ kind: 'gpt2', source: '<tokenizer.json>', eosId: EOT, vocabSize: EOT + 1 });
  });

  it('encodes with the leading space (" 7" is one token) and a lone space before each EOS, as the paper’s fast tokenizer does', () => {
    const { ids, labels, eos } = encodeExample(g, { input: '2 1 * 5', cot: '0 6', answer: '10' });
    const MARK = 256 + MERGES.indexOf('Ġ ####');
    expect(text.idToToken(32)).toBe('Ġ'); // a lone space is the byte 0x20's token, GPT-2's 220
    expect(ids).toEqual([sp('2'), sp('1'), sp('*'), sp('5'), 32, EOT, sp('0'), sp('6'), 32, EOT, MARK, sp('1'), 48, 32, EOT]);
    expect(eos).toEqual([5, 9, 14]);
    expect(labels.slice(0, 5)).toEqual(Array(5).fill(-100));
    expect(labels.slice(5)).toEqual(ids.slice(5));
    // The same ids as encoding the paper's whole string, which splits on <|endoftext|> first.
    expect(ids).toEqual(text.encode(' 2 1 * 5 <|endoftext|> 0 6 <|endoftext|> #### 10 <|endoftext|>'));
  });

  it('parseGenerated strips the spaces and the commas of the answer', () => {
    const generated = text.encode(' 0 6 <|endoftext|> #### 1,000 <|endoftext|>');
    expect(parseGenerated(g, generated)).toEqual({ cot: '0 6', answer: '1000' });
    expect(encodePrompt(g, '2 1')).toEqual([sp('2'), sp('1'), 32, EOT]);
  });

  it('refuses a tokenizer without <|endoftext|> or an eos_token', () => {
    const noEos = new TextTokenizer({ model: { type: 'BPE', vocab: { a: 0 }, merges: [] } }, {}, 'folder/tokenizer.json');
    expect(() => gpt2Tokenizer(noEos)).toThrow("folder/tokenizer.json: the tokenizer has no '<|endoftext|>' token and names no eos_token");
  });
});

describe('GSM8K-Aug with GPT-2', () => {
  it('every shared GSM8K line lays out with exactly three EOS', () => {
    const g = gpt2Tokenizer(gpt2Like());
    const lines = fs.readFileSync(path.join(ICOT, 'gsm8k/valid.txt'), 'utf8').split('\n').filter(Boolean).slice(0, 50);
    for (const line of lines) {
      const { ids, eos } = encodeExample(g, parseLine(line));
      expect(ids.filter((id) => id === EOT)).toHaveLength(3);
      expect(eos.map((i) => ids[i])).toEqual([EOT, EOT, EOT]);
    }
  });
});

describe('model folder tokenizers', () => {
  it("a folder Stepwise trained from scratch carries its compact tokenizer in stepwise-tokenizer.json", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-folder-tok-'));
    const tok = multTokenizer();
    fs.writeFileSync(path.join(dir, TOKENIZER_SPEC_FILE), JSON.stringify(tok.spec()));
    const back = folderTokenizer(dir, null);
    expect(back.kind).toBe('compact');
    expect(back.encode('1 2 * 3 4')).toEqual(tok.encode('1 2 * 3 4'));
    expect(back.eosId).toBe(tok.eosId);
  });

  it('a folder with no tokenizer, or a broken description, is refused naming the file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-folder-tok-'));
    expect(() => folderTokenizer(dir, null)).toThrow(/has no tokenizer: expected stepwise-tokenizer\.json, tokenizer\.json/);
    fs.writeFileSync(path.join(dir, TOKENIZER_SPEC_FILE), '{"kind": "morse"}');
    expect(() => folderTokenizer(dir, null)).toThrow(/stepwise-tokenizer\.json: unknown tokenizer kind "morse"/);
    fs.writeFileSync(path.join(dir, TOKENIZER_SPEC_FILE), '{ nope');
    expect(() => folderTokenizer(dir, null)).toThrow(/stepwise-tokenizer\.json: not valid JSON/);
  });
});
