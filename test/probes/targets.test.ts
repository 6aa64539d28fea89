/**
 * Probe targets and positions from the data: the digits of every partial
 * product and running sum of the paper's own 4×4 test lines, where the CoT
 * writes each, slot names that survive the curriculum's removal, pattern
 * targets; and held-out sets chosen by problem, never by token.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { Rng } from '../../src-main/engine/init.ts';
import { fitCell } from '../../src-main/engine/probes/fit.ts';
import { patternTarget } from '../../src-main/engine/probes/targets.ts';
import { multTokenizer } from '../../src-main/engine/tokenizers/compact.ts';
import { probeSequence, slotOrder } from '../../src-main/methods/icot/probes/sequences.ts';
import { multTargets } from '../../src-main/methods/icot/probes/targets.ts';
import { readExamples } from '../../src-main/methods/shared/examples.ts';

const SHARED = fileURLToPath(new URL('../../../shared/data/icot/', import.meta.url));
const examples = readExamples(path.join(SHARED, '4_by_4_mult', 'test.txt')).slice(0, 50);

describe('multiplication targets', () => {
  const targets = multTargets(examples);
  const byName = new Map(targets.map((t) => [t.name, t]));

  test('every digit of every partial product, running sum and the answer, then each as a number', () => {
    const classes = targets.filter((t) => t.kind === 'class').map((t) => t.name);
    // 4×4: partial products of 5, 6, 7, 8 digits, running sums after pp1 (6) and pp2 (7), the answer (8).
    expect(classes).toHaveLength(5 + 6 + 6 + 7 + 7 + 8 + 8);
    expect(classes.slice(0, 6)).toEqual(['pp0.d0', 'pp0.d1', 'pp0.d2', 'pp0.d3', 'pp0.d4', 'pp1.d0']);
    expect(targets.filter((t) => t.kind === 'value').map((t) => t.name)).toEqual(['pp0', 'pp1', 'sum1', 'pp2', 'sum2', 'pp3', 'ans', 'chat0', 'chat1', 'chat2', 'chat3', 'chat4', 'chat5', 'chat6', 'chat7']);
  });

  test("labels of the paper's first line: 2967 × 6361 (digits least significant first)", () => {
    // 7 6 9 2 * 1 6 3 6||7 6 9 2 0 + 0 2 0 8 7 1 ( 7 8 9 0 8 1 ) + … #### 7 8 0 3 7 8 8 1
    expect(byName.get('pp0.d0')!.labels[0]).toBe('7');
    expect(byName.get('pp1.d5')!.labels[0]).toBe('1');
    expect(byName.get('sum1.d1')!.labels[0]).toBe('8');
    expect(byName.get('ans.d7')!.labels[0]).toBe('1');
    expect(byName.get('pp0')!.labels[0]).toBe(2967); // 2967 × 1
    expect(byName.get('pp1')!.labels[0]).toBe(178020); // 2967 × 6 × 10
    expect(byName.get('sum1')!.labels[0]).toBe(180987);
    expect(byName.get('ans')!.labels[0]).toBe(2967 * 6361);
    // The running sums ĉ_k = s_k + r_{k−1} (Bai et al. 2025): ĉ_3 = 7·6 + 6·3 + 9·6 + 2·1 + 7 = 123.
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((k) => byName.get(`chat${k}`)!.labels[0])).toEqual([7, 48, 70, 123, 87, 68, 18, 1]);
  });

  test('each CoT digit names the CoT token that writes it', () => {
    // CoT tokens: pp0 (0–4) + (5) pp1 (6–11) ( (12) sum1 (13–18) ) (19) + (20) pp2 (21–27) …
    expect(byName.get('pp0.d1')!.cotSlot).toBe('cot.1');
    expect(byName.get('pp1.d0')!.cotSlot).toBe('cot.6');
    expect(byName.get('sum1.d0')!.cotSlot).toBe('cot.13');
    expect(byName.get('pp2.d0')!.cotSlot).toBe('cot.21');
    expect(byName.get('ans.d0')!.cotSlot).toBeUndefined();
    const tokens = examples[0].cot.split(' ');
    for (const t of targets) if (t.cotSlot) expect(tokens[Number(t.cotSlot.slice(4))], t.name).toBe(t.labels[0]);
  });

  test('GSM8K-style data has no multiplication targets; a pattern reads one from the CoT', () => {
    const gsm = readExamples(path.join(SHARED, 'gsm8k', 'valid.txt')).slice(0, 20);
    expect(multTargets(gsm)).toEqual([]);
    const first = patternTarget({ name: 'first result', source: 'cot', pattern: '<<[^=]*=([^>]*)>>', occurrence: 0, group: 1, kind: 'value' }, gsm);
    expect(first.labels.filter((l) => l !== null).every((l) => typeof l === 'number')).toBe(true);
    expect(first.labels[0]).toBe(Number(/<<[^=]*=([^>]*)>>/.exec(gsm[0].cot)![1]));
    const missing = patternTarget({ name: 'tenth', source: 'cot', pattern: '<<', occurrence: 9, group: 0, kind: 'class' }, gsm);
    expect(missing.labels.some((l) => l === null)).toBe(true);
    expect(() => patternTarget({ name: 'bad', source: 'cot', pattern: '[', occurrence: 0, group: 0, kind: 'class' }, gsm)).toThrow(/target "bad": pattern "\[" is not a regular expression/);
  });
});

describe('positions', () => {
  const tok = multTokenizer();
  test('slots name input, EOS, CoT, answer; removed CoT tokens drop out and the rest keep their names', () => {
    const full = probeSequence(tok, examples[0]);
    expect(full.slots.slice(0, 11)).toEqual(['input.0', 'input.1', 'input.2', 'input.3', 'input.4', 'input.5', 'input.6', 'input.7', 'input.8', 'eos.0', 'cot.0']);
    expect(full.slots.filter((s) => s.startsWith('cot.'))).toHaveLength(examples[0].cot.split(' ').length);
    expect(full.slots.slice(-3)).toEqual(['answer.7', 'answer.8', 'eos.2']);
    const cut = probeSequence(tok, examples[0], { count: 5, side: 'left', keepPosition: true });
    expect(cut.ids).toHaveLength(full.ids.length - 5);
    expect(cut.slots.slice(9, 12)).toEqual(['eos.0', 'cot.5', 'cot.6']);
    // Kept positions, as the paper's code: from the token before the removed span (eos.0) on, ids jump by 5.
    expect(cut.positions.slice(8, 11)).toEqual([8, 14, 15]);
    const all = probeSequence(tok, examples[0], { count: Infinity, side: 'left', keepPosition: false });
    expect(all.slots.filter((s) => s.startsWith('cot.'))).toEqual([]);
    expect(all.positions).toEqual(all.ids.map((_, i) => i));
    expect(slotOrder([cut.slots, all.slots, full.slots])).toEqual(full.slots);
  });
});

describe('held-out sets by problem', () => {
  test('rows of one problem never straddle the split: memorised random labels per problem do not carry to held-out problems', () => {
    // 40 problems, 3 identical rows each, a random label per problem: a probe that memorises
    // rows scores ~100% on held-out rows of problems it saw, and chance on problems it did not.
    const rng = new Rng(11);
    const d = 64;
    const X: number[] = [];
    const labels: string[] = [];
    const groups: string[] = [];
    for (let p = 0; p < 40; p++) {
      const x = Array.from({ length: d }, () => rng.normal());
      const label = String(Math.floor(rng.next() * 4));
      for (let k = 0; k < 3; k++) {
        X.push(...x);
        labels.push(label);
        groups.push(`problem ${p}`);
      }
    }
    const cell = fitCell({ X: Float32Array.from(X), d, labels, groups, types: groups }, 'class', { seeds: 5, heldOut: 0.25, controlType: 'input' });
    expect(cell.n).toBe(120);
    expect(cell.score).toBeLessThan(0.5);
    // The control task's labels are random per problem too: it scores like chance.
    expect(cell.control).toBeLessThan(0.5);
    expect(cell.std).toBeGreaterThan(0);
  });

  test('a label the features carry linearly is read on held-out problems', () => {
    const rng = new Rng(12);
    const d = 8;
    const X: number[] = [];
    const labels: string[] = [];
    const groups: string[] = [];
    for (let p = 0; p < 200; p++) {
      const k = p % 3;
      X.push(...Array.from({ length: d }, (_, j) => (j === k ? 3 : 0) + 0.3 * rng.normal()));
      labels.push(String(k));
      groups.push(`p${p}`);
    }
    const cell = fitCell({ X: Float32Array.from(X), d, labels, groups, types: groups }, 'class', { seeds: 3, heldOut: 0.2, controlType: 'input' });
    expect(cell.score).toBeGreaterThan(0.97);
    expect(cell.majority).toBeLessThan(0.5);
    expect(cell.selectivity).toBeGreaterThan(0.5);
  });
});
