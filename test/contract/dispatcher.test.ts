import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createClient } from '../../src-main/contract/client.ts';
import { StepwiseError } from '../../src-main/contract/errors.ts';
import type { EventPayloads } from '../../src-main/contract/events.ts';
import { PROCEDURE_NAMES } from '../../src-main/contract/procedures.ts';
import type { ProcedureName } from '../../src-main/contract/procedures.ts';
import { openLab } from '../../src-main/services/lab.ts';
import { tinyConfig, writeTinyMult } from '../services/tiny-run.ts';
import type { Lab } from '../../src-main/services/lab.ts';
import { LATEST_SCHEMA_VERSION } from '../../src-main/store/migrations.ts';

let dataDir: string;
let lab: Lab;
beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-contract-'));
  lab = openLab(dataDir);
});
afterEach(() => {
  lab.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** Every row of every table, to compare before and after a call. */
function snapshot(): Record<string, unknown[]> {
  const db = new Database(lab.store.file, { readonly: true });
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[];
  const rows = Object.fromEntries(tables.map((t) => [t, db.prepare(`SELECT * FROM ${t}`).all()]));
  db.close();
  return rows;
}

function seed(): void {
  const run = lab.store.runs.create({ method: 'icot-si', name: 'seed', config: { epochs: 1 } });
  lab.store.metrics.record(run.id, 0, { loss: 1 });
  lab.store.logs.append(run.id, 'info', 'hello');
  fs.mkdirSync(path.join(dataDir, 'models', 'm'), { recursive: true });
  fs.writeFileSync(path.join(dataDir, 'models', 'm', 'model.onnx'), Buffer.alloc(100));
  lab.store.models.add({ name: 'm', architecture: {}, paramCount: 25, path: 'models/m', bytesOnDisk: 100, source: { kind: 'trained' }, runId: run.id });
  lab.store.datasets.add({ name: 'd', kind: 'multiplication', contentHash: 'ff', splitCounts: { test: 1 }, path: 'datasets/d', preview: ['x'] });
}

/**
 * For every procedure, inputs that must be refused, each with a field the
 * message has to name ('input' where the whole input is wrong).
 */
const BAD_INPUTS: Record<ProcedureName, [input: unknown, names: string][]> = {
  'app.info': [[{ verbose: true }, '"verbose"'], [null, 'input'], [[], 'input']],
  'methods.list': [[{ all: true }, '"all"'], [[], 'input']],
  'configs.presets': [[{ file: 'x' }, '"file"'], [[], 'input']],
  'models.discover': [[{ folders: ['relative/dir'] }, 'folders'], [{ folders: '/abs' }, 'folders'], [{ deep: true }, '"deep"']],
  'models.list': [[{ limit: 0 }, 'limit'], [{ limit: 1001 }, 'limit'], [{ offset: -1 }, 'offset'], [{ limit: 'ten' }, 'limit'], [{ page: 2 }, '"page"']],
  'models.get': [[{ id: -3 }, 'id'], [{ id: 0 }, 'id'], [{ id: 1.5 }, 'id'], [{ id: '1' }, 'id'], [{}, 'id'], [undefined, 'input']],
  'models.delete': [[{ id: -1 }, 'id'], [{ id: null }, 'id'], [{ id: 1, force: true }, '"force"'], ['1', 'input']],
  'datasets.list': [[{ limit: 2.5 }, 'limit'], [{ offset: 'x' }, 'offset']],
  'datasets.get': [[{ id: 0 }, 'id'], [{ id: 1e20 }, 'id'], [{ name: 'd' }, 'id']],
  'datasets.update': [[{ id: 0, name: 'x' }, 'id'], [{ id: 1, name: '  ' }, 'name'], [{ id: 1 }, 'name'], [{ id: 1, name: 'x', kind: 'm' }, '"kind"']],
  'datasets.delete': [[{ id: -1 }, 'id'], [{}, 'id'], [{ id: 1, force: true }, '"force"']],
  'datasets.import': [
    [{ path: 'relative/file.txt', name: 'a' }, 'path'],
    [{ name: 'a' }, 'path'],
    [{ path: '/data/x.txt', name: '  ' }, 'name'],
    [{ path: '/data/x.txt', name: 'a', split: 'dev' }, 'split'],
    [{ path: '/data/x.txt', name: 'a', format: 'csv' }, 'format'],
  ],
  'datasets.generateMult': [
    [{ digitsA: 0, digitsB: 4, counts: { train: 1, valid: 0, test: 0 }, seed: 0, name: 'm' }, 'digitsA'],
    [{ digitsA: 4, digitsB: 31, counts: { train: 1, valid: 0, test: 0 }, seed: 0, name: 'm' }, 'digitsB'],
    [{ digitsA: 4, digitsB: 4, counts: { train: -1, valid: 0, test: 0 }, seed: 0, name: 'm' }, 'counts.train'],
    [{ digitsA: 4, digitsB: 4, counts: { train: 0, valid: 0, test: 0 }, seed: 0, name: 'm' }, 'counts'],
    [{ digitsA: 4, digitsB: 4, counts: { train: 1 }, seed: 0, name: 'm' }, 'counts.valid'],
    [{ digitsA: 4, digitsB: 4, counts: { train: 1, valid: 0, test: 0 }, seed: -1, name: 'm' }, 'seed'],
    [{ digitsA: 4, digitsB: 4, counts: { train: 1, valid: 0, test: 0 }, seed: 0, excludePaths: ['test.txt'], name: 'm' }, 'excludePaths[0]'],
    [{ digitsA: 4, digitsB: 4, counts: { train: 1, valid: 0, test: 0 }, seed: 0 }, 'name'],
  ],
  'datasets.examples': [[{ id: 1, split: 'dev' }, 'split'], [{ id: 1, split: 'test', limit: 0 }, 'limit'], [{ split: 'test' }, 'id']],
  'runs.list': [
    [{ status: 'paused' }, 'status'], [{ method: 'sft' }, 'method'], [{ limit: -5 }, 'limit'], [{ offset: 1.1 }, 'offset'],
    [{ tag: 'a,b' }, 'tag'], [{ tag: '' }, 'tag'], [{ search: 5 }, 'search'], [{ summary: 'loss' }, 'summary'], [{ summary: ['val accuracy'] }, 'summary'],
    [{ summary: Array.from({ length: 21 }, (_, i) => `m${i}`) }, 'summary'],
  ],
  'runs.tags': [[{ all: true }, '"all"']],
  'runs.metricKeys': [[{ run: 1 }, '"run"']],
  'runs.get': [[{ id: -3 }, 'id'], [{ id: 'abc' }, 'id'], [{}, 'id']],
  'runs.create': [
    [{ method: 'sft', name: 'a', config: {} }, 'method'],
    [{ method: 'ICoT SI', name: 'a', config: {} }, 'method'],
    [{ method: 'icot-si', name: '   ', config: {} }, 'name'],
    [{ method: 'icot-si', name: 'x'.repeat(201), config: {} }, 'name'],
    [{ method: 'icot-si', name: 'a', config: [1, 2] }, 'config'],
    [{ method: 'icot-si', name: 'a', config: 'lr=1' }, 'config'],
    [{ method: 'icot-si', name: 'a' }, 'config'],
    [{ method: 'icot-si', name: 'a', config: {}, parentRunId: -1 }, 'parentRunId'],
    [{ method: 'icot-si', name: 'a', config: {}, status: 'running' }, '"status"'],
  ],
  'runs.update': [
    [{ id: 1 }, 'give name, notes, tags or config'],
    [{ id: 0, name: 'x' }, 'id'],
    [{ id: 1, name: '' }, 'name'],
    [{ id: 1, notes: 5 }, 'notes'],
    [{ id: 1, notes: 'x'.repeat(20_001) }, 'notes'],
    [{ id: 1, tags: 'baseline' }, 'tags'],
    [{ id: 1, tags: ['a,b'] }, 'tags'],
    [{ id: 1, tags: ['x'.repeat(41)] }, 'tags'],
    [{ id: 1, status: 'completed' }, '"status"'],
  ],
  'runs.delete': [[{ id: -3 }, 'id'], [{ id: [1] }, 'id']],
  'models.evaluate': [
    [{ id: 1 }, 'datasetId'],
    [{ id: 1, datasetId: 1, split: 'train' }, 'split'],
    [{ id: 1, datasetId: 1, limit: 0 }, 'limit'],
    [{ id: 1, datasetId: 1, batchSize: 2048 }, 'batchSize'],
  ],
  'models.cancelEvaluation': [[{ id: 'a' }, 'id'], [{}, 'id']],
  'runs.estimate': [
    [{ method: 'sft', config: {} }, 'method'],
    [{ method: 'icot-si' }, 'config'],
    [{ method: 'icot-si', config: {}, measure: 'yes' }, 'measure'],
    [{ method: 'icot-si', config: {}, batch: 4 }, '"batch"'],
  ],
  'runs.start': [
    [{}, 'give id'],
    [{ id: 1, name: 'again' }, 'give id'],
    [{ method: 'icot-si', name: 'a' }, 'config'],
    [{ id: -1 }, 'id'],
    [{ method: 'sft', name: 'a', config: {} }, 'method'],
    [{ method: 'icot-si', name: 'a', config: 'lr=1' }, 'config'],
    [{ method: 'icot-si', name: 'a', config: { recipe: 'icot-si' } }, 'config.model'],
  ],
  'runs.pause': [[{ id: 0 }, 'id'], [{}, 'id'], [{ id: 1, now: true }, '"now"']],
  'runs.resume': [[{ id: 'one' }, 'id'], [{ id: 1, fromStep: 3 }, '"fromStep"']],
  'runs.cancel': [[{ id: 1.5 }, 'id'], [null, 'input']],
  'runs.predictions': [
    [{ runId: 0 }, 'runId'],
    [{ runId: 1, split: '' }, 'split'],
    [{ runId: 1, step: -1 }, 'step'],
    [{ runId: 1, limit: 1001 }, 'limit'],
    [{ runId: 1, offset: -2 }, 'offset'],
  ],
  'runs.metrics': [
    [{ runId: 0 }, 'runId'],
    [{ runId: 1, keys: 'loss' }, 'keys'],
    [{ runId: 1, keys: [''] }, 'keys[0]'],
    [{ runId: 1, fromStep: -1 }, 'fromStep'],
    [{ runId: 1, fromStep: 10, toStep: 5 }, 'fromStep'],
    [{ runId: 1, toStep: 0.5 }, 'toStep'],
  ],
  'runs.logs': [[{ runId: 1, afterId: -1 }, 'afterId'], [{ runId: 1, limit: 5001 }, 'limit'], [{ afterId: 0 }, 'runId']],
  'checkpoints.list': [[{ runId: 'one' }, 'runId'], [{ run: 1 }, '"run"']],
  'models.import': [[{ path: 'models/gpt2' }, 'path'], [{ path: '/m', name: ' ' }, 'name'], [{}, 'path']],
  'jobs.export': [[{ runId: 0, out: '/j' }, 'runId'], [{ runId: 1, out: 'jobs/run-1' }, 'out'], [{ runId: 1, out: '/j', bf16: 'yes' }, 'bf16'], [{ runId: 1 }, 'out']],
  'jobs.import': [[{ path: 'jobs/run-3' }, 'path'], [{}, 'path'], [{ path: '/j', update: 'yes' }, 'update'], [{ path: '/j', force: true }, '"force"']],
  'jobs.cancelImport': [[{ path: 'jobs/run-3' }, 'path'], [{}, 'path']],
  'datasets.runs': [[{ id: 0 }, 'id'], [{}, 'id']],
  'datasets.cancelGenerate': [[{ name: '' }, 'name'], [{}, 'name']],
  'models.checkpoints': [[{ limit: 0 }, 'limit'], [{ offset: -1 }, 'offset']],
  'configs.list': [[{ limit: 0 }, 'limit']],
  'configs.save': [[{ name: 'a', method: 'sgd', config: {} }, 'method'], [{ name: '', method: 'icot-si', config: {} }, 'name'], [{ name: 'a', method: 'icot-si', config: [] }, 'config']],
  'configs.delete': [[{ id: 'x' }, 'id']],
  'curriculum.preview': [
    [{ curriculum: { removePerEpoch: -1, smoothingLambda: 4, side: 'left', resetOptimizer: true, removeAllWhenBeyond: null, pretrainEpochs: 0 }, trainExamples: 10, batchSize: 2, epochs: 1, cotLength: 5 }, 'removePerEpoch'],
    [{ curriculum: { removePerEpoch: 8, smoothingLambda: 4, side: 'middle', resetOptimizer: true, removeAllWhenBeyond: null, pretrainEpochs: 0 }, trainExamples: 10, batchSize: 2, epochs: 1, cotLength: 5 }, 'side'],
    [{ curriculum: { removePerEpoch: 8, smoothingLambda: 4, side: 'left', resetOptimizer: true, removeAllWhenBeyond: null, pretrainEpochs: 0 }, trainExamples: 10, batchSize: 0, epochs: 1, cotLength: 5 }, 'batchSize'],
  ],
  'coconut.preview': [
    [{ curriculum: { thoughtsPerStep: 2, epochsPerStage: 0, maxLatentStage: 3 }, epochs: 9 }, 'epochsPerStage'],
    [{ curriculum: { thoughtsPerStep: 1.5, epochsPerStage: 3, maxLatentStage: 3 }, epochs: 9 }, 'thoughtsPerStep'],
    [{ curriculum: { thoughtsPerStep: 2, epochsPerStage: 3, maxLatentStage: 3 }, epochs: 9, c: 2 }, '"c"'],
  ],
  'adapters.results': [[{ runIds: [0] }, 'runIds'], [{ runIds: 'all' }, 'runIds'], [{ group: 1 }, '"group"']],
  'finetune.importTask': [[{ path: 'tasks/x.jsonl', name: 'a' }, 'path'], [{ path: '/x.jsonl', name: 'a', answerType: 'float' }, 'answerType']],
  'finetune.generateTask': [[{ kind: 'sudoku', counts: { train: 1, test: 1 }, name: 'a' }, 'kind'], [{ kind: 'coin-flip', counts: { train: 0, test: 0 }, name: 'a' }, 'counts']],
  'finetune.testTeacher': [[{ teacher: { kind: 'openai', baseUrl: 'ftp://x', model: 'm' } }, 'teacher.baseUrl'], [{ teacher: { kind: 'library' } }, 'teacher.modelId']],
  'finetune.generate': [
    [{ datasetId: 1, name: 'g', teacher: { kind: 'library', modelId: 1 }, samples: 0 }, 'samples'],
    [{ datasetId: 1, name: 'g', teacher: { kind: 'library', modelId: 1 }, temperature: 3 }, 'temperature'],
    [{ datasetId: 1, name: 'g', teacher: { kind: 'openai', baseUrl: 'http://127.0.0.1:1/v1', model: 'm', key: 'sk-x' } }, '"key"'],
  ],
  'finetune.generations': [[{ limit: 0 }, 'limit']],
  'finetune.generation': [[{ id: 0 }, 'id']],
  'finetune.cancelGeneration': [[{}, 'id']],
  'finetune.resumeGeneration': [[{ id: 'x' }, 'id']],
  'finetune.rationales': [[{ generationId: 1, filter: 'some' }, 'filter']],
  'finetune.results': [[{ task: 'x' }, '"task"']],
  'finetune.setKey': [[{ name: 'has space', key: 'k' }, 'name'], [{ name: 'K', key: '' }, 'key']],
  'finetune.keys': [[{ all: true }, '"all"']],
  'probes.estimate': [[{ source: { runId: 0 }, data: { text: 'x' } }, 'source'], [{ source: { modelId: 1 }, data: { file: 'rel.txt' } }, 'data'], [{ source: { modelId: 1 }, data: { text: 'x' }, seeds: 0 }, 'seeds']],
  'probes.start': [
    [{ source: { runId: 1, checkpoints: 'some' }, data: { datasetId: 1 } }, 'source'],
    [{ source: { dir: '/m' }, data: { datasetId: 1, split: 'dev' } }, 'data'],
    [{ source: { dir: '/m' }, data: { text: 'x' }, heldOut: 1 }, 'heldOut'],
    [{ source: { dir: '/m' }, data: { text: 'x' }, controlType: 'word' }, 'controlType'],
    [{ source: { dir: '/m' }, data: { text: 'x' }, patterns: [{ name: 'p', pattern: '' }] }, 'patterns'],
  ],
  'probes.cancel': [[{ id: 0 }, 'id']],
  'probes.list': [[{ limit: 0 }, 'limit']],
  'probes.get': [[{ id: 'x' }, 'id']],
  'probes.results': [[{ id: 1, point: -1 }, 'point']],
  'probes.lens': [[{ id: 1, example: 1.5 }, 'example']],
  'probes.attention': [[{ id: 1, layer: -2 }, 'layer']],
  'probes.delete': [[{}, 'id']],
};

describe('input validation at the boundary', () => {
  test('the table of bad inputs covers every procedure', () => {
    expect(Object.keys(BAD_INPUTS).sort()).toEqual([...PROCEDURE_NAMES].sort());
  });

  for (const name of PROCEDURE_NAMES) {
    test(`${name}: malformed and out-of-range inputs answer invalid_input naming ${name} and the field, and change nothing`, async () => {
      seed();
      for (const [input, field] of BAD_INPUTS[name]) {
        const before = snapshot();
        const files = fs.readdirSync(dataDir, { recursive: true }).sort();
        const answer = await lab.dispatch(name, input);
        expect(answer.ok, `${name} ${JSON.stringify(input)}`).toBe(false);
        if (answer.ok) continue;
        expect(answer.error.code).toBe('invalid_input');
        expect(answer.error.message.startsWith(`${name}: `)).toBe(true);
        expect(answer.error.message).toContain(field);
        expect(answer.error.issues!.length).toBeGreaterThan(0);
        expect(snapshot()).toEqual(before);
        expect(fs.readdirSync(dataDir, { recursive: true }).sort()).toEqual(files);
      }
    });
  }

  test('the message quotes what was sent: "runs.get: id must be a positive integer (got -3)"', async () => {
    expect(await lab.dispatch('runs.get', { id: -3 })).toEqual({
      ok: false,
      error: {
        code: 'invalid_input',
        message: 'runs.get: id must be a positive integer (got -3)',
        issues: [{ path: ['id'], message: 'id must be a positive integer (got -3)' }],
      },
    });
  });

  test('an unknown procedure answers unknown_procedure, naming it and the known ones', async () => {
    const answer = await lab.dispatch('runs.drop', { id: 1 });
    expect(answer.ok).toBe(false);
    if (answer.ok) return;
    expect(answer.error.code).toBe('unknown_procedure');
    expect(answer.error.message).toMatch(/^There is no procedure "runs.drop"\. Known procedures: app\.info, .*runs\.delete/);
  });

  test('inherited object keys are not procedures', async () => {
    const answer = await lab.dispatch('constructor', {});
    expect(answer.ok ? null : answer.error.code).toBe('unknown_procedure');
  });
});

describe('procedures against the store', () => {
  test('app.info reports the data folder, the latest schema version, ONNX Runtime 1.x and the bundled cpu provider', async () => {
    const answer = await lab.dispatch('app.info', undefined);
    expect(answer.ok).toBe(true);
    if (!answer.ok) return;
    const info = answer.result as { dataDir: string; schemaVersion: number; onnxRuntimeVersion: string; executionProviders: { name: string; bundled: boolean }[] };
    expect(info.dataDir).toBe(dataDir);
    expect(info.schemaVersion).toBe(LATEST_SCHEMA_VERSION);
    expect(info.onnxRuntimeVersion).toMatch(/^1\.\d+\.\d+$/);
    expect(info.executionProviders).toContainEqual({ name: 'cpu', bundled: true, usable: true });
  });

  test('ids that name nothing answer not_found with the procedure and the id', async () => {
    for (const [name, input, message] of [
      ['runs.get', { id: 9 }, 'runs.get: there is no run 9'],
      ['runs.update', { id: 9, name: 'x' }, 'runs.update: there is no run 9'],
      ['runs.delete', { id: 9 }, 'runs.delete: there is no run 9'],
      ['runs.metrics', { runId: 9 }, 'runs.metrics: there is no run 9'],
      ['runs.logs', { runId: 9 }, 'runs.logs: there is no run 9'],
      ['checkpoints.list', { runId: 9 }, 'checkpoints.list: there is no run 9'],
      ['models.get', { id: 9 }, 'models.get: there is no model 9'],
      ['models.delete', { id: 9 }, 'models.delete: there is no model 9'],
      ['datasets.get', { id: 9 }, 'datasets.get: there is no dataset 9'],
      ['runs.create', { method: 'bitune', name: 'b', config: {}, parentRunId: 9 }, 'runs.create: parentRunId 9 names no run'],
    ] as const) {
      expect(await lab.dispatch(name, input)).toEqual({ ok: false, error: { code: 'not_found', message } });
    }
    expect(lab.store.runs.count()).toBe(0);
  });

  test('methods.list names every built-in method with its title, hint and capabilities; runs.create refuses any other', async () => {
    const client = createClient({ call: lab.dispatch, on: () => () => {} });
    const { items } = await client.call('methods.list', {});
    expect(items.map((m) => m.id)).toEqual(['icot-si', 'fine-tune-cot', 'bitune', 'lora', 'coconut']);
    expect(items.map((m) => m.title)).toEqual(['ICoT-SI', 'Fine-tune-CoT', 'Bitune', 'LoRA', 'Coconut']);
    for (const m of items) expect(m.hint.length).toBeGreaterThan(20);
    expect(items.find((m) => m.id === 'icot-si')!.capabilities).toMatchObject({ curriculum: true, adapters: false, freshModel: true });
    expect(items.find((m) => m.id === 'bitune')!.capabilities).toMatchObject({ curriculum: false, adapters: true, families: ['gpt2', 'llama'] });
    const refused = await lab.dispatch('runs.create', { method: 'sft', name: 'a', config: {} });
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.error.message).toBe('runs.create: method must be one of icot-si, fine-tune-cot, bitune, lora, coconut (got "sft")');
  });

  test('runs.create stores a queued run, child of its parent, and emits run.status queued', async () => {
    const client = createClient({ call: lab.dispatch, on: () => () => {} });
    const seen: EventPayloads['run.status'][] = [];
    lab.events.subscribe((event, payload) => event === 'run.status' && seen.push(payload as EventPayloads['run.status']));
    const data = await writeTinyMult(path.join(dataDir, 'mult'));
    const internalize = tinyConfig(data, 2);
    const parent = await client.call('runs.create', { method: 'icot-si', name: 'explicit CoT', config: { ...tinyConfig(data, 1), recipe: 'cot' } });
    const child = await client.call('runs.create', { method: 'icot-si', name: '  internalize  ', config: internalize, parentRunId: parent.id });
    expect(child).toMatchObject({ id: 2, name: 'internalize', status: 'queued', parentRunId: 1, config: internalize });
    expect(seen.map((e) => [e.runId, e.status, e.error])).toEqual([[1, 'queued', null], [2, 'queued', null]]);
    expect(await client.call('runs.get', { id: 2 })).toEqual(child);
  });

  test('runs carry tags; runs.list filters by tag, method, status and name, and summarises chosen metrics', async () => {
    const client = createClient({ call: lab.dispatch, on: () => () => {} });
    const a = lab.store.runs.create({ method: 'icot-si', name: 'Δ=8 seed 0', config: {} });
    const b = lab.store.runs.create({ method: 'icot-si', name: 'Δ=8 seed 1', config: {} });
    const c = lab.store.runs.create({ method: 'lora', name: 'lora baseline', config: {} });
    expect(a.tags).toEqual([]);
    expect((await client.call('runs.update', { id: a.id, tags: ['sweep', ' seeds ', 'sweep'] })).tags).toEqual(['sweep', 'seeds']);
    await client.call('runs.update', { id: b.id, tags: ['sweep'] });
    await client.call('runs.update', { id: c.id, tags: ['baseline'] });
    lab.store.metrics.record(a.id, 10, { val_accuracy: 0.5, loss: 1.5 });
    lab.store.metrics.record(a.id, 20, { val_accuracy: 0.75 });
    lab.store.metrics.record(b.id, 10, { val_accuracy: Number.NaN });
    const ids = async (input: Parameters<typeof client.call<'runs.list'>>[1]) => (await client.call('runs.list', input)).items.map((r) => r.id);
    expect(await ids({ tag: 'sweep' })).toEqual([b.id, a.id]);
    expect(await ids({ tag: 'baseline', method: 'lora' })).toEqual([c.id]);
    expect(await ids({ search: 'SEED 1' })).toEqual([b.id]);
    expect(await ids({ search: '%' })).toEqual([]);
    const page = await client.call('runs.list', { tag: 'sweep', summary: ['val_accuracy', 'loss'] });
    expect(page.items.map((r) => r.summary)).toEqual([{ val_accuracy: null, loss: null }, { val_accuracy: 0.75, loss: 1.5 }]);
    expect(page.total).toBe(2);
    expect((await client.call('runs.tags', {})).items).toEqual([{ tag: 'sweep', runs: 2 }, { tag: 'baseline', runs: 1 }, { tag: 'seeds', runs: 1 }]);
    expect((await client.call('runs.metricKeys', {})).items).toEqual([{ key: 'loss', runs: 1 }, { key: 'val_accuracy', runs: 2 }]);
  });

  test('datasets have names of their own: renaming to a taken name (any case) is refused naming the holder; deleting frees the files unless a run can still train on them', async () => {
    const client = createClient({ call: lab.dispatch, on: () => () => {} });
    const counts = { train: 10, valid: 2, test: 2 };
    const a = await client.call('datasets.generateMult', { digitsA: 2, digitsB: 2, counts, seed: 0, name: 'two by two' });
    const b = await client.call('datasets.generateMult', { digitsA: 2, digitsB: 2, counts, seed: 1, name: 'other' });
    const again = await lab.dispatch('datasets.generateMult', { digitsA: 2, digitsB: 2, counts, seed: 2, name: 'Two By Two' });
    expect(again).toMatchObject({ ok: false, error: { code: 'invalid_input', message: `datasets.generateMult: there is already a dataset named “two by two” (dataset ${a.id}); choose another name, or rename or delete that one` } });
    const clash = await lab.dispatch('datasets.update', { id: b.id, name: 'TWO by two' });
    expect(clash.ok).toBe(false);
    expect((await client.call('datasets.update', { id: b.id, name: 'renamed' })).name).toBe('renamed');
    expect((await client.call('datasets.update', { id: a.id, name: 'Two by two' })).name).toBe('Two by two'); // its own name, another case
    // A queued run on b keeps it; a completed one does not.
    const run = lab.store.runs.create({ method: 'icot-si', name: 'on b', config: { data: { train: `${b.path}/train.txt` } } });
    const held = await lab.dispatch('datasets.delete', { id: b.id });
    expect(held).toMatchObject({ ok: false, error: { code: 'conflict', message: `datasets.delete: run ${run.id} “on b” (queued) can still train on “renamed”; delete that run first` } });
    lab.store.runs.setStatus(run.id, 'completed');
    const gone = await client.call('datasets.delete', { id: b.id });
    expect(gone.bytesFreed).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(dataDir, b.path))).toBe(false);
    expect(lab.store.datasets.get(b.id)).toBeUndefined();
    expect(lab.store.runs.get(run.id)?.name).toBe('on b');
  });

  test('runs.update changes only the fields given', async () => {
    const run = lab.store.runs.create({ method: 'fine-tune-cot', name: 'old', config: {} });
    const client = createClient({ call: lab.dispatch, on: () => () => {} });
    expect(await client.call('runs.update', { id: run.id, notes: 'lr too high' })).toMatchObject({ name: 'old', notes: 'lr too high' });
    expect(await client.call('runs.update', { id: run.id, name: 'new' })).toMatchObject({ name: 'new', notes: 'lr too high' });
  });

  test('runs.list answers a page and the total of matching runs', async () => {
    for (const method of ['icot-si', 'bitune', 'icot-si'] as const) lab.store.runs.create({ method, name: method, config: {} });
    const client = createClient({ call: lab.dispatch, on: () => () => {} });
    const page = await client.call('runs.list', { method: 'icot-si', limit: 1 });
    expect([page.total, page.items.map((r) => r.id)]).toEqual([2, [3]]);
    expect((await client.call('runs.list')).total).toBe(3);
  });

  test('runs.metrics and runs.logs read what a run recorded', async () => {
    const run = lab.store.runs.create({ method: 'icot-si', name: 'r', config: {} });
    lab.store.metrics.record(run.id, 0, { loss: 3, 'val/acc': 0.1 }, 10);
    lab.store.metrics.record(run.id, 1, { loss: 2 }, 20);
    const logIds = ['a', 'b', 'c'].map((m) => lab.store.logs.append(run.id, 'info', m).id);
    const client = createClient({ call: lab.dispatch, on: () => () => {} });
    expect(await client.call('runs.metrics', { runId: run.id, keys: ['loss'], fromStep: 1 })).toEqual({
      runId: run.id,
      series: [{ key: 'loss', steps: [1], values: [2], wallTimes: [20] }],
    });
    expect((await client.call('runs.metrics', { runId: run.id })).series.map((s) => s.key)).toEqual(['loss', 'val/acc']);
    const first = await client.call('runs.logs', { runId: run.id, limit: 2 });
    expect([first.items.map((l) => l.message), first.lastId]).toEqual([['a', 'b'], logIds[1]]);
    const rest = await client.call('runs.logs', { runId: run.id, afterId: first.lastId });
    expect([rest.items.map((l) => l.message), rest.lastId]).toEqual([['c'], logIds[2]]);
    expect((await client.call('runs.logs', { runId: run.id, afterId: rest.lastId })).lastId).toBe(logIds[2]);
  });

  test('runs.delete refuses a running run, and otherwise removes its rows and files, answering the bytes freed', async () => {
    const run = lab.store.runs.create({ method: 'icot-si', name: 'r', config: {} });
    fs.mkdirSync(path.join(dataDir, 'runs', String(run.id)), { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'runs', String(run.id), 'step-10.onnx'), Buffer.alloc(1000));
    fs.writeFileSync(path.join(dataDir, 'runs', String(run.id), 'train.log'), Buffer.alloc(24));
    lab.store.checkpoints.add({ runId: run.id, step: 10, path: `runs/${run.id}/step-10.onnx`, bytes: 1000 });
    lab.store.runs.setStatus(run.id, 'running');

    expect(await lab.dispatch('runs.delete', { id: run.id })).toEqual({
      ok: false,
      error: { code: 'conflict', message: `runs.delete: run ${run.id} is running; cancel it before deleting it` },
    });
    expect(fs.existsSync(path.join(dataDir, 'runs', String(run.id), 'step-10.onnx'))).toBe(true);

    lab.store.runs.setStatus(run.id, 'cancelled');
    expect(await lab.dispatch('runs.delete', { id: run.id })).toEqual({ ok: true, result: { id: run.id, bytesFreed: 1024 } });
    expect(fs.existsSync(path.join(dataDir, 'runs', String(run.id)))).toBe(false);
    expect(lab.store.runs.get(run.id)).toBeUndefined();
    expect(lab.store.checkpoints.list(run.id)).toEqual([]);
  });

  test('models.delete removes the row and its folder, answering the bytes freed', async () => {
    seed();
    expect(await lab.dispatch('models.delete', { id: 1 })).toEqual({ ok: true, result: { id: 1, bytesFreed: 100 } });
    expect(fs.existsSync(path.join(dataDir, 'models', 'm'))).toBe(false);
    expect(lab.store.models.count()).toBe(0);
  });

  test('a model whose stored path leaves the data folder is not deleted, nor is the file it points to', async () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-outside-'));
    fs.writeFileSync(path.join(outside, 'precious.bin'), 'keep');
    const model = lab.store.models.add({ name: 'evil', architecture: {}, paramCount: 0, path: path.relative(dataDir, path.join(outside, 'precious.bin')), bytesOnDisk: 4, source: {} });
    const answer = await lab.dispatch('models.delete', { id: model.id });
    expect(answer.ok ? null : answer.error.code).toBe('internal');
    expect(answer.ok ? '' : answer.error.message).toMatch(/^models\.delete failed: The path ".*precious\.bin" is not inside the data folder/);
    expect(fs.readFileSync(path.join(outside, 'precious.bin'), 'utf8')).toBe('keep');
    expect(lab.store.models.get(model.id)).toBeDefined();
    fs.rmSync(outside, { recursive: true });
  });

  test('datasets.list and checkpoints.list answer what the store holds', async () => {
    seed();
    const client = createClient({ call: lab.dispatch, on: () => () => {} });
    expect(await client.call('datasets.list')).toMatchObject({ total: 1, items: [{ name: 'd', splitCounts: { test: 1 }, preview: ['x'] }] });
    lab.store.checkpoints.add({ runId: 1, step: 20, path: 'runs/1/b', bytes: 2 });
    lab.store.checkpoints.add({ runId: 1, step: 10, path: 'runs/1/a', bytes: 1 });
    expect((await client.call('checkpoints.list', { runId: 1 })).items.map((c) => c.step)).toEqual([10, 20]);
  });
});

describe('the client', () => {
  test('turns an error answer into a thrown StepwiseError with its code, message and issues', async () => {
    const client = createClient({ call: lab.dispatch, on: () => () => {} });
    const error = await client.call('runs.get', { id: -3 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StepwiseError);
    expect(error).toMatchObject({ code: 'invalid_input', message: 'runs.get: id must be a positive integer (got -3)', issues: [{ path: ['id'] }] });
  });

  test('the example CPU run config in resources/configs is refused by runs.create only for its data files, each named, until they exist', async () => {
    const config = JSON.parse(fs.readFileSync(new URL('../../resources/configs/icot-4x4-cpu.json', import.meta.url), 'utf8'));
    const answer = await lab.dispatch('runs.create', { method: config.recipe, name: 'icot-si 4x4 cpu', config });
    expect(answer.ok ? null : answer.error.issues?.map((i) => i.path.join('.'))).toEqual(['config.data.train', 'config.data.valid', 'config.data.test']);
    expect(lab.store.runs.count()).toBe(0);
  });
});
