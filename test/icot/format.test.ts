import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataFormatError, extractAnswer, formatLine, parseLine, readExamples } from '../../src-main/methods/shared/examples.ts';

const ICOT = path.resolve(import.meta.dirname, '../../../shared/data/icot');
const FIRST_4x4 =
  '7 6 9 2 * 1 6 3 6||7 6 9 2 0 + 0 2 0 8 7 1 ( 7 8 9 0 8 1 ) + 0 0 1 0 9 8 0 ( 7 8 0 1 7 0 1 ) + 0 0 0 2 0 8 7 1 #### 7 8 0 3 7 8 8 1';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-icot-format-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, text);
  return f;
}

describe('the paper line format input||cot #### answer', () => {
  it('splits a multiplication line into input, CoT and answer (without ####)', () => {
    expect(parseLine(FIRST_4x4)).toEqual({
      input: '7 6 9 2 * 1 6 3 6',
      cot: '7 6 9 2 0 + 0 2 0 8 7 1 ( 7 8 9 0 8 1 ) + 0 0 1 0 9 8 0 ( 7 8 0 1 7 0 1 ) + 0 0 0 2 0 8 7 1',
      answer: '7 8 0 3 7 8 8 1',
    });
  });

  it('serialises back to the same line', () => {
    expect(formatLine(parseLine(FIRST_4x4))).toBe(FIRST_4x4);
  });

  it('extract_answer takes the text after ####, stripped, commas removed', () => {
    expect(extractAnswer('<<a=b>> #### 2,125 ')).toBe('2125');
    expect(extractAnswer('#### 18')).toBe('18');
    expect(() => extractAnswer('no answer here')).toThrow("expected '####' before the answer");
  });

  it('reads every GSM8K-Aug line: calculator equations as CoT, commas stripped from answers, empty CoTs allowed', () => {
    const test = readExamples(path.join(ICOT, 'gsm8k/test.txt'));
    expect(test).toHaveLength(1319);
    expect(test[0]).toEqual({
      input: expect.stringMatching(/^Janet’s ducks lay 16 eggs per day\..*farmers' market\?$/),
      cot: '<<16-3-4=9>> <<9*2=18>>',
      answer: '18',
    });
    const withComma = test.find((ex) => ex.input.startsWith('Johnny is picking up the toys'))!;
    expect(withComma.answer).toBe('2125');
    expect(test.every((ex) => !ex.answer.includes(','))).toBe(true);
    const valid = readExamples(path.join(ICOT, 'gsm8k/valid.txt'));
    expect(valid).toHaveLength(500);
    const noCot = valid.find((ex) => ex.input.startsWith('Tracy has been collecting novels'))!;
    expect(noCot).toMatchObject({ cot: '', answer: '9' });
    expect(formatLine(noCot)).toMatch(/\|\| #### 9$/);
  });

  it('skips blank lines and handles CRLF, as the paper reader does', () => {
    const f = file('crlf.txt', `1 * 2||2 0 #### 2 0\r\n\r\n   \r\n3 * 3||9 0 #### 9 0\r\n`);
    expect(readExamples(f)).toEqual([
      { input: '1 * 2', cot: '2 0', answer: '2 0' },
      { input: '3 * 3', cot: '9 0', answer: '9 0' },
    ]);
  });

  it('JSONL records: question, optional rationale, answer (string or number)', () => {
    const f = file(
      'records.jsonl',
      [
        JSON.stringify({ question: 'What is 2+2?', rationale: ' 2 plus 2 is 4. ', answer: '4', extra: 1 }),
        JSON.stringify({ question: 'How many?', answer: 1200 }),
        JSON.stringify({ question: 'Big?', rationale: null, answer: '1,000' }),
      ].join('\n'),
    );
    expect(readExamples(f)).toEqual([
      { input: 'What is 2+2?', cot: '2 plus 2 is 4.', answer: '4' },
      { input: 'How many?', cot: '', answer: '1200' },
      { input: 'Big?', cot: '', answer: '1000' },
    ]);
  });
});

describe('a bad line names the file, the line and what was expected', () => {
  const cases: [string, string, string][] = [
    ['no-separator.txt', '1 * 2||2 0 #### 2 0\n1 * 2 2 0 #### 2 0\n', ":2: expected one '||' between the input and the chain of thought, as in 'input||cot #### answer' (found none)"],
    ['two-separators.txt', '1 * 2||2 0||x #### 2 0\n', ":1: expected one '||' between the input and the chain of thought, as in 'input||cot #### answer' (found 2)"],
    ['no-answer-mark.txt', '\n1 * 2||2 0 2 0\n', ":2: expected '#### answer' after the chain of thought"],
    ['empty-answer.txt', '1 * 2||2 0 #### \n', ":1: expected an answer after '####'"],
    ['empty-input.txt', '  ||2 0 #### 2 0\n', ":1: expected an input before '||'"],
    ['not-json.jsonl', '{"question": "q", "answer": "a"}\n{"question": \n', ':2: expected a JSON object like {"question": …, "rationale": …, "answer": …}'],
    ['array.jsonl', '[1, 2]\n', ':1: expected a JSON object like'],
    ['no-question.jsonl', '{"answer": "a"}\n', ':1: expected "question" to be a non-empty string'],
    ['bad-rationale.jsonl', '{"question": "q", "rationale": 3, "answer": "a"}\n', ':1: expected "rationale", when given, to be a string'],
    ['no-answer.jsonl', '{"question": "q", "rationale": "r"}\n', ':1: expected "answer" to be a non-empty string or a number'],
  ];
  for (const [name, text, expected] of cases) {
    it(`${name} →${expected.slice(expected.indexOf(' '), 70)}`, () => {
      const f = file(name, text);
      let error: unknown;
      try {
        readExamples(f);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(DataFormatError);
      expect((error as Error).message).toContain(`${f}${expected}`);
      expect((error as DataFormatError).line).toBe(Number(expected.split(':')[1]));
    });
  }

  it('a missing file is named', () => {
    expect(() => readExamples(path.join(tmp, 'nope.txt'))).toThrow(`${path.join(tmp, 'nope.txt')}: no such file`);
  });
});
