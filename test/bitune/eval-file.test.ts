/**
 * What `stepwise eval` on adapters reads: the kind of an evaluation file is
 * told from its first line — multiple-choice JSONL (PIQA, ARC, SIQA, MMLU
 * shapes), instruction JSONL, or the paper's `input||cot #### answer` lines
 * (the shared GSM8K-Aug file) — and bad files are refused naming file and line.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goldAnswer } from '../../src-main/methods/shared/instruct/answers.ts';
import { readInstructFile } from '../../src-main/methods/shared/instruct/format.ts';
import { readEvalFile } from '../../src-main/services/adapters-eval.ts';

const GSM8K = path.resolve(import.meta.dirname, '../../../shared/data/icot/gsm8k/valid.txt');
let tmp: string;
const write = (name: string, lines: unknown[]) => {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n'));
  return file;
};

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-eval-file-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('evaluation files for adapters', () => {
  it("reads the paper's GSM8K-Aug lines as questions whose gold answer follows ####", () => {
    const data = readEvalFile(GSM8K);
    if (data.kind !== 'answers') throw new Error(`read as ${data.kind}`);
    expect(data.examples).toHaveLength(500);
    expect(data.examples[0].question).toBe('John cuts his grass to 2 inches.  It grows .5 inches per month.  When it gets to 4 inches he cuts it back down to 2 inches.  It cost $100 to get his grass cut.  How much does he pay per year?');
    expect(data.examples[0].answer).toBe('<<4-2=2>> <<2/.5=4>> <<12/4=3>> <<100*3=300>> #### 300');
    expect(goldAnswer(data.examples[1].answer)).toBe('10');
  });

  it("training data may be the paper's lines too (a GSM8K-Aug dataset of the library), and a bad line is named", () => {
    expect(readInstructFile(GSM8K).slice(0, 2)).toEqual((readEvalFile(GSM8K) as { examples: unknown[] }).examples.slice(0, 2));
    const bad = write('bad.txt', ['1 2||3 #### 4', 'no separator here']);
    expect(() => readInstructFile(bad)).toThrow(`${bad}:2: expected one '||' between the input and the chain of thought`);
  });

  it('tells multiple-choice shapes from instruction JSONL', () => {
    const piqa = readEvalFile(write('piqa.jsonl', [{ goal: 'open a jar', sol1: 'twist the lid', sol2: 'shake it', label: 0 }]));
    expect(piqa).toEqual({ kind: 'choices', questions: [{ question: 'open a jar', choices: ['twist the lid', 'shake it'], gold: 0 }] });
    const arc = readEvalFile(write('arc.jsonl', [{ question: { stem: 'Which is a gas?', choices: [{ label: 'A', text: 'ice' }, { label: 'B', text: 'steam' }] }, answerKey: 'B' }]));
    expect(arc).toEqual({ kind: 'choices', questions: [{ question: 'Which is a gas?', choices: ['ice', 'steam'], gold: 1 }] });
    const mmlu = readEvalFile(write('mmlu.jsonl', [{ question: '2 + 2?', choices: ['3', '4', '5'], answer: 1 }]));
    expect(mmlu.kind).toBe('choices');
    const instruct = readEvalFile(write('instruct.jsonl', [{ instruction: 'Add', input: '2 and 2', output: '4' }]));
    expect(instruct).toEqual({ kind: 'answers', examples: [{ question: 'Add\n\n2 and 2', answer: '4' }] });
  });

  it('refuses bad files naming the file and line', () => {
    const bad = write('bad.jsonl', [{ question: 'q', answer: 'a' }, '{ not json']);
    expect(() => readEvalFile(bad)).toThrow(`${bad}:2: not valid JSON`);
    const badChoice = write('badchoice.jsonl', [{ question: 'q', choices: ['a', 'b'], answer: 5 }]);
    expect(() => readEvalFile(badChoice)).toThrow(`${badChoice}:1: the answer 5 is not one of the 2 choices`);
    expect(() => readEvalFile(path.join(tmp, 'missing.jsonl'))).toThrow(`${path.join(tmp, 'missing.jsonl')}: no such file`);
  });
});
