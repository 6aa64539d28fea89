import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { openStore } from '../../src-main/store/store.ts';
import type { Store } from '../../src-main/store/store.ts';

let dir: string;
let store: Store;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-predictions-'));
  store = openStore(path.join(dir, 'stepwise.db'));
});
afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const row = (index: number, correct: boolean) => ({
  index, input: `${index} * 3`, target: `${3 * index}`, generated: `#### ${correct ? 3 * index : 0}`, answer: `${correct ? 3 * index : 0}`, correct, cotTokens: 0,
});

describe('predictions', () => {
  test('an evaluation is stored whole, read back in order and counted per step', () => {
    const run = store.runs.create({ method: 'icot-si', name: 'r', config: {} });
    store.predictions.record(run.id, 'valid', 10, [row(0, true), row(1, false), row(2, true)]);
    store.predictions.record(run.id, 'valid', 20, [row(0, true), row(1, true), row(2, true)]);
    const page = store.predictions.list(run.id, 'valid', 10, 1, 5);
    expect(page.map((p) => [p.index, p.correct, p.answer])).toEqual([[1, false, '0'], [2, true, '6']]);
    expect(store.predictions.evaluations(run.id, 'valid')).toEqual([{ step: 10, total: 3, correct: 2 }, { step: 20, total: 3, correct: 3 }]);
  });

  test('a failing write stores none of the evaluation, and deleting the run deletes its predictions', () => {
    const run = store.runs.create({ method: 'icot-si', name: 'r', config: {} });
    expect(() => store.predictions.record(run.id, 'test', 5, [row(0, true), { ...row(1, true), index: -1 }])).toThrow(/CHECK constraint/);
    expect(store.predictions.evaluations(run.id, 'test')).toEqual([]);
    expect(() => store.predictions.record(9999, 'test', 5, [row(0, true)])).toThrow(/FOREIGN KEY/);
    store.predictions.record(run.id, 'test', 5, [row(0, true)]);
    store.runs.delete(run.id);
    expect(store.predictions.evaluations(run.id, 'test')).toEqual([]);
  });
});
