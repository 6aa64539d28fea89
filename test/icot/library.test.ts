/** Datasets in the library, through the contract against a real store in a temporary data folder. */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Dataset, DatasetExample, Page } from '../../src-main/contract/entities.ts';
import { formatLine, readExamples } from '../../src-main/methods/shared/examples.ts';
import { loadDatasetSplit } from '../../src-main/services/dataset-library.ts';
import { openLab } from '../../src-main/services/lab.ts';
import type { Lab } from '../../src-main/services/lab.ts';

const ICOT = path.resolve(import.meta.dirname, '../../../shared/data/icot');
const GSM_TEST = path.join(ICOT, 'gsm8k/test.txt');
const MULT4_TEST = path.join(ICOT, '4_by_4_mult/test.txt');

let dataDir: string;
let lab: Lab;
beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-library-'));
  lab = openLab(dataDir);
});
afterEach(() => {
  lab.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function call<T>(name: string, input: unknown): Promise<T> {
  const answer = await lab.dispatch(name, input);
  if (!answer.ok) throw new Error(`${answer.error.code}: ${answer.error.message}`);
  return answer.result as T;
}

async function refused(name: string, input: unknown) {
  const answer = await lab.dispatch(name, input);
  if (answer.ok) throw new Error(`${name} was expected to fail`);
  return answer.error;
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
/** What `sha256sum * | sha256sum` gives in the dataset's folder. */
const listingHash = (files: [name: string, file: string][]) => sha256(files.map(([name, file]) => `${sha256(fs.readFileSync(file))}  ${name}\n`).join(''));

/** Everything under the data folder except the database files. */
function filesUnder(): string[] {
  return (fs.readdirSync(dataDir, { recursive: true }) as string[]).filter((f) => !f.startsWith('stepwise.db')).sort();
}

describe('datasets.import', () => {
  it('copies the paper’s GSM8K test file as a split, with its sha256, count, kind and a preview of the first five examples', async () => {
    const dataset = await call<Dataset>('datasets.import', { path: GSM_TEST, name: 'GSM8K-Aug test', split: 'test' });
    expect(dataset).toMatchObject({ name: 'GSM8K-Aug test', kind: 'gsm8k-aug', splitCounts: { test: 1319 }, path: `datasets/${dataset.id}` });
    const stored = path.join(dataDir, dataset.path, 'test.txt');
    expect(fs.readFileSync(stored)).toEqual(fs.readFileSync(GSM_TEST));
    expect(fs.readdirSync(path.join(dataDir, 'datasets'))).toEqual([String(dataset.id)]); // no staging folder left
    expect(dataset.contentHash).toBe(listingHash([['test.txt', GSM_TEST]]));
    const examples = readExamples(GSM_TEST);
    expect(dataset.preview).toEqual(examples.slice(0, 5).map(formatLine));
    expect(dataset.preview[0]).toMatch(/\|\|<<16-3-4=9>> <<9\*2=18>> #### 18$/);
    expect(await call<Dataset>('datasets.get', { id: dataset.id })).toEqual(dataset);
    expect(loadDatasetSplit(dataDir, dataset, 'test')).toEqual(examples);
  });

  it('datasets.examples pages through a split in file order, and names a split the dataset lacks', async () => {
    const { id } = await call<Dataset>('datasets.import', { path: GSM_TEST, name: 'g', split: 'test' });
    const examples = readExamples(GSM_TEST);
    const first = await call<Page<DatasetExample>>('datasets.examples', { id, split: 'test', offset: 0, limit: 3 });
    expect(first).toEqual({ items: examples.slice(0, 3), total: 1319 });
    const last = await call<Page<DatasetExample>>('datasets.examples', { id, split: 'test', offset: 1317, limit: 10 });
    expect(last).toEqual({ items: examples.slice(1317), total: 1319 });
    expect(await call<Page<DatasetExample>>('datasets.examples', { id, split: 'test', offset: 5000 })).toEqual({ items: [], total: 1319 });
    const missing = await refused('datasets.examples', { id, split: 'train' });
    expect(missing).toMatchObject({ code: 'not_found', message: `datasets.examples: dataset ${id} has no train split (it has test)` });
    expect(await refused('datasets.examples', { id: id + 1, split: 'test' })).toMatchObject({ code: 'not_found' });
  });

  it('kinds: multiplication files and JSONL records (stored as .jsonl)', async () => {
    const mult = await call<Dataset>('datasets.import', { path: MULT4_TEST, name: '4x4' });
    expect(mult).toMatchObject({ kind: 'multiplication', splitCounts: { train: 1000 } });
    const jsonl = path.join(dataDir, 'records.jsonl');
    fs.writeFileSync(jsonl, `${JSON.stringify({ question: 'q1', rationale: 'r1', answer: '1,000' })}\n${JSON.stringify({ question: 'q2', answer: 2 })}\n`);
    const records = await call<Dataset>('datasets.import', { path: jsonl, name: 'records', split: 'valid' });
    expect(records).toMatchObject({ kind: 'jsonl', splitCounts: { valid: 2 }, preview: ['q1||r1 #### 1000', 'q2|| #### 2'] });
    expect(fs.readdirSync(path.join(dataDir, records.path))).toEqual(['valid.jsonl']);
    expect((await call<Page<DatasetExample>>('datasets.examples', { id: records.id, split: 'valid' })).items).toEqual([
      { input: 'q1', cot: 'r1', answer: '1000' },
      { input: 'q2', cot: '', answer: '2' },
    ]);
  });

  it('datasetId adds a split the dataset lacks, in its format, and refuses one it has, another format or a task dataset', async () => {
    const lines = fs.readFileSync(MULT4_TEST, 'utf8').split('\n');
    const valid = path.join(dataDir, 'valid.txt');
    fs.writeFileSync(valid, `${lines.slice(0, 5).join('\n')}\n`);
    const mult = await call<Dataset>('datasets.import', { path: MULT4_TEST, name: '4x4' });
    const added = await call<Dataset>('datasets.import', { path: valid, name: '4x4', split: 'valid', datasetId: mult.id });
    expect(added).toMatchObject({ id: mult.id, name: '4x4', kind: 'multiplication', splitCounts: { train: 1000, valid: 5 } });
    const folder = path.join(dataDir, mult.path);
    expect(fs.readdirSync(folder).sort()).toEqual(['train.txt', 'valid.txt']);
    expect(added.contentHash).toBe(listingHash([['train.txt', MULT4_TEST], ['valid.txt', valid]]));
    expect(lab.store.datasets.count()).toBe(1);

    const again = await refused('datasets.import', { path: valid, name: '4x4', split: 'valid', datasetId: mult.id });
    expect(again.message).toBe('datasets.import: 4x4 already has a valid split (5 examples)');
    const jsonl = path.join(dataDir, 'test.jsonl');
    fs.writeFileSync(jsonl, `${JSON.stringify({ question: 'q', answer: 1 })}\n`);
    expect((await refused('datasets.import', { path: jsonl, name: '4x4', split: 'test', datasetId: mult.id })).message).toBe(`datasets.import: ${jsonl} is JSONL, but 4x4's splits are lines`);
    const task = await call<Dataset>('finetune.generateTask', { kind: 'coin-flip', counts: { train: 2, test: 1 }, seed: 0, name: 'coins' });
    expect((await refused('datasets.import', { path: jsonl, name: 'coins', split: 'valid', datasetId: task.id })).message).toBe(
      'datasets.import: coins is a fine-tune-cot dataset; splits are added only to imported or generated line and JSONL datasets',
    );
    expect((await refused('datasets.import', { path: valid, name: 'x', split: 'test', datasetId: 999 })).code).toBe('not_found');
    expect(fs.readdirSync(folder).sort()).toEqual(['train.txt', 'valid.txt']);
    expect((await call<Dataset>('datasets.get', { id: mult.id })).splitCounts).toEqual({ train: 1000, valid: 5 });
  });

  it('a bad line imports nothing: no row, no file, and the error names the file, line and what was expected', async () => {
    const bad = path.join(os.tmpdir(), `stepwise-bad-${process.pid}.txt`);
    fs.writeFileSync(bad, `${fs.readFileSync(MULT4_TEST, 'utf8').split('\n').slice(0, 40).join('\n')}\n7 6 9 2 * 1 6 3 6||7 6 9 2 0\n`);
    try {
      const error = await refused('datasets.import', { path: bad, name: 'bad' });
      expect(error.code).toBe('invalid_input');
      expect(error.message).toBe(`datasets.import: ${bad}:41: expected '#### answer' after the chain of thought, as in 'input||cot #### answer' in "7 6 9 2 * 1 6 3 6||7 6 9 2 0"`);
      expect(error.issues).toEqual([{ path: ['path'], message: `${bad}:41: expected '#### answer' after the chain of thought, as in 'input||cot #### answer' in "7 6 9 2 * 1 6 3 6||7 6 9 2 0"` }]);
      expect(lab.store.datasets.count()).toBe(0);
      expect(filesUnder()).toEqual(['datasets']);
    } finally {
      fs.rmSync(bad, { force: true });
    }
  });

  it('a missing file, a folder or an empty file is refused the same way', async () => {
    expect((await refused('datasets.import', { path: '/nonexistent/x.txt', name: 'x' })).message).toBe('datasets.import: /nonexistent/x.txt: no such file');
    expect((await refused('datasets.import', { path: ICOT, name: 'x' })).message).toContain(`${ICOT}: is a folder, expected a file of examples`);
    const empty = path.join(dataDir, 'empty.txt');
    fs.writeFileSync(empty, '\n\n');
    expect((await refused('datasets.import', { path: empty, name: 'x' })).message).toBe(`datasets.import: ${empty}: expected at least one example, found none`);
    expect(lab.store.datasets.count()).toBe(0);
    expect(filesUnder()).toEqual(['datasets', 'empty.txt']);
  });
});

describe('datasets.generateMult', () => {
  const request = { digitsA: 4, digitsB: 4, counts: { train: 300, valid: 30, test: 30 }, seed: 11, excludePaths: [MULT4_TEST], name: '4×4' };

  it('writes seeded train/valid/test files that share no pair and avoid the excluded file, and registers them', async () => {
    const dataset = await call<Dataset>('datasets.generateMult', request);
    expect(dataset).toMatchObject({ name: '4×4', kind: 'multiplication', splitCounts: { train: 300, valid: 30, test: 30 } });
    const folder = path.join(dataDir, dataset.path);
    expect(fs.readdirSync(folder).sort()).toEqual(['test.txt', 'train.txt', 'valid.txt']);
    const splits = Object.fromEntries(['train', 'valid', 'test'].map((s) => [s, readExamples(path.join(folder, `${s}.txt`))]));
    expect([splits.train.length, splits.valid.length, splits.test.length]).toEqual([300, 30, 30]);
    const inputs = [...splits.train, ...splits.valid, ...splits.test].map((ex) => ex.input);
    expect(new Set(inputs).size).toBe(360);
    const paperTest = new Set(readExamples(MULT4_TEST).map((ex) => ex.input));
    expect(inputs.filter((input) => paperTest.has(input))).toEqual([]);
    expect(dataset.preview).toEqual(splits.train.slice(0, 5).map(formatLine));
    expect(dataset.contentHash).toBe(listingHash(['test.txt', 'train.txt', 'valid.txt'].map((n) => [n, path.join(folder, n)])));
    // Same request, same files (under a name of its own: names are unique).
    const again = await call<Dataset>('datasets.generateMult', { ...request, name: '4×4 again' });
    expect(again.contentHash).toBe(dataset.contentHash);
    expect(again.id).toBe(dataset.id + 1);
  });

  it('more examples than distinct pairs, or an exclusion file that is not multiplication, writes nothing', async () => {
    const tooMany = await refused('datasets.generateMult', { ...request, digitsA: 1, digitsB: 1, counts: { train: 80, valid: 1, test: 1 }, excludePaths: undefined });
    expect(tooMany).toMatchObject({ code: 'invalid_input', message: 'datasets.generateMult: 82 examples were asked for, but there are only 81 distinct 1×1 pairs' });
    expect(tooMany.issues?.[0].path).toEqual(['counts']);
    const notMult = await refused('datasets.generateMult', { ...request, excludePaths: [GSM_TEST] });
    expect(notMult.message).toContain(`datasets.generateMult: ${GSM_TEST}:1: expected a multiplication input like '7 6 9 2 * 1 6 3 6'`);
    expect(lab.store.datasets.count()).toBe(0);
    expect(filesUnder()).toEqual([]);
  });
});
