import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatLine, parseLine } from '../../src-main/methods/shared/examples.ts';
import {
  generateMult, multExample, multInput, multOptionsProblem, multPairCount, parseDigits, parseMultInput, readMultPairs,
} from '../../src-main/methods/icot/mult.ts';
import type { MultSplit } from '../../src-main/methods/icot/mult.ts';

const ICOT = path.resolve(import.meta.dirname, '../../../shared/data/icot');
const SIZES = [4, 5, 7, 9];

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-icot-mult-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Digits least significant first. */
const lsf = (n: number) => String(n).split('').reverse().map(Number);

describe('the multiplication format', () => {
  it('writes 2967 × 6361 as the paper does: partial products A+1+i digits wide, running sums after all but the first and last', () => {
    expect(formatLine(multExample(lsf(2967), lsf(6361)))).toBe(
      '7 6 9 2 * 1 6 3 6||7 6 9 2 0 + 0 2 0 8 7 1 ( 7 8 9 0 8 1 ) + 0 0 1 0 9 8 0 ( 7 8 0 1 7 0 1 ) + 0 0 0 2 0 8 7 1 #### 7 8 0 3 7 8 8 1',
    );
  });

  it('a zero digit in the second operand gives an all-zero partial product', () => {
    expect(formatLine(multExample(lsf(38049), lsf(10241)))).toBe(
      '9 4 0 8 3 * 1 4 2 0 1||9 4 0 8 3 0 + 0 6 9 1 2 5 1 ( 9 0 0 0 6 5 1 ) + 0 0 8 9 0 6 7 0 ( 9 0 8 9 6 1 9 0 ) + 0 0 0 0 0 0 0 0 0 ( 9 0 8 9 6 1 9 0 0 ) + 0 0 0 0 9 4 0 8 3 0 #### 9 0 8 9 5 6 9 8 3 0',
    );
  });

  it('handles unequal and one-digit operands: a single partial product has no running sum; the answer has A+B digits', () => {
    expect(multExample([3], [3])).toEqual({ input: '3 * 3', cot: '9 0', answer: '9 0' });
    expect(multExample(lsf(12), lsf(345))).toEqual({
      input: '2 1 * 5 4 3',
      cot: '0 6 0 + 0 8 4 0 ( 0 4 5 0 ) + 0 0 6 3 0',
      answer: '0 4 1 4 0',
    });
    expect(12 * 345).toBe(4140);
  });

  it('reproduces all 8,000 lines of the paper’s 4×4, 5×5, 7×7 and 9×9 valid and test files from their inputs', () => {
    let checked = 0;
    for (const n of SIZES) {
      for (const split of ['valid', 'test']) {
        const lines = fs.readFileSync(path.join(ICOT, `${n}_by_${n}_mult/${split}.txt`), 'utf8').split('\n').filter((l) => l !== '');
        expect(lines).toHaveLength(1000);
        for (const line of lines) {
          const pair = parseMultInput(parseLine(line).input)!;
          expect([pair.a.length, pair.b.length]).toEqual([n, n]);
          const ours = formatLine(multExample(pair.a, pair.b));
          if (ours !== line) expect(ours).toBe(line); // only build the diff on a mismatch
          checked++;
        }
      }
    }
    expect(checked).toBe(8000);
  });

  it('parses AxB digit specs and multiplication inputs, refusing other text', () => {
    expect(parseDigits('4x4')).toEqual({ digitsA: 4, digitsB: 4 });
    expect(parseDigits('5×7')).toEqual({ digitsA: 5, digitsB: 7 });
    for (const bad of ['4by4', '4', 'x4', '0x3', '4x31', '']) expect(parseDigits(bad), bad).toBeNull();
    expect(parseMultInput(' 7 6  9 2 * 1 6 3 6 ')).toEqual({ a: [7, 6, 9, 2], b: [1, 6, 3, 6] });
    for (const bad of ['7692 * 1636', '7 6 * 1 6 * 2', 'seven * 1', '7 6 x 1 6']) expect(parseMultInput(bad), bad).toBeNull();
  });
});

describe('generated splits', () => {
  const counts = { train: 3000, valid: 300, test: 300 };

  function generate(seed: number, c = counts, exclude?: Set<string>) {
    const bySplit: Record<MultSplit, string[]> = { train: [], valid: [], test: [] };
    for (const { split, example } of generateMult({ digitsA: 2, digitsB: 2, counts: c, seed, exclude })) bySplit[split].push(formatLine(example));
    return bySplit;
  }

  it('have the counts asked for, operands without a leading zero, and never share a pair', () => {
    const s = generate(7);
    expect([s.train.length, s.valid.length, s.test.length]).toEqual([3000, 300, 300]);
    const inputs = [...s.train, ...s.valid, ...s.test].map((l) => parseLine(l).input);
    expect(new Set(inputs).size).toBe(3600);
    for (const input of inputs) {
      const { a, b } = parseMultInput(input)!;
      expect(a.at(-1)).not.toBe(0);
      expect(b.at(-1)).not.toBe(0);
    }
  });

  it('every generated line is correct arithmetic: the answer digits read back as a × b', () => {
    for (const line of generate(3, { train: 0, valid: 0, test: 200 }).test) {
      const ex = parseLine(line);
      const { a, b } = parseMultInput(ex.input)!;
      const num = (d: number[]) => BigInt(d.slice().reverse().join(''));
      expect(BigInt(ex.answer.split(' ').reverse().join(''))).toBe(num(a) * num(b));
    }
  });

  it('are deterministic in the seed; test and valid do not change when only the train count does', () => {
    expect(generate(7)).toEqual(generate(7));
    expect(generate(8).test).not.toEqual(generate(7).test);
    const smaller = generate(7, { train: 10, valid: 300, test: 300 });
    expect(smaller.test).toEqual(generate(7).test);
    expect(smaller.valid).toEqual(generate(7).valid);
    expect(smaller.train).toEqual(generate(7).train.slice(0, 10));
  });

  it('exclusion keeps every pair of the paper’s 4×4 test file out of all splits', () => {
    const testFile = path.join(ICOT, '4_by_4_mult/test.txt');
    const excluded = readMultPairs([testFile]);
    expect(excluded.size).toBe(1000);
    expect(excluded.has('7 6 9 2 * 1 6 3 6')).toBe(true);
    // Draw from a 4×4 space shrunk by the excluded pairs: make the exclusion bite by excluding from what the seed would draw.
    const unexcluded = [...generateMult({ digitsA: 4, digitsB: 4, counts: { train: 2000, valid: 0, test: 0 }, seed: 1 })].map((g) => g.example.input);
    const planted = new Set([...excluded, ...unexcluded.slice(0, 500)]);
    const drawn = [...generateMult({ digitsA: 4, digitsB: 4, counts: { train: 2000, valid: 100, test: 100 }, seed: 1, exclude: planted })].map((g) => g.example.input);
    expect(drawn).toHaveLength(2200);
    expect(drawn.filter((input) => planted.has(input))).toEqual([]);
  });

  it('a request larger than the distinct pairs left is refused, naming the numbers', () => {
    expect(multPairCount(1, 1)).toBe(81);
    expect(multOptionsProblem({ digitsA: 1, digitsB: 1, counts: { train: 80, valid: 1, test: 1 }, seed: 0 })).toBe(
      '82 examples were asked for, but there are only 81 distinct 1×1 pairs',
    );
    expect(multOptionsProblem({ digitsA: 1, digitsB: 1, counts: { train: 80, valid: 0, test: 0 }, seed: 0, exclude: new Set([multInput([3], [3]), multInput([4], [4])]) })).toBe(
      '80 examples were asked for, but there are only 79 distinct 1×1 pairs once the 2 excluded ones are left out',
    );
    // All 81 pairs can be drawn.
    expect(new Set([...generateMult({ digitsA: 1, digitsB: 1, counts: { train: 81, valid: 0, test: 0 }, seed: 5 })].map((g) => g.example.input)).size).toBe(81);
  });

  it('an exclusion file that is not multiplication is refused at its line', () => {
    const f = path.join(tmp, 'not-mult.txt');
    fs.writeFileSync(f, '1 2 * 3 4||x #### 1\nwhat is 2+2?||<<2+2=4>> #### 4\n');
    expect(() => readMultPairs([f])).toThrow(`${f}:2: expected a multiplication input like '7 6 9 2 * 1 6 3 6'`);
  });
});
