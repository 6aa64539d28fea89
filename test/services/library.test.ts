/**
 * The lab screens' procedures through the contract, on a real data folder:
 * importing a GPT-2 folder, the runs that used a dataset, saved run configs,
 * and progress while multiplication is generated.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createClient } from '../../src-main/contract/client.ts';
import type { Client } from '../../src-main/contract/client.ts';
import type { EventName, EventPayloads } from '../../src-main/contract/events.ts';
import { openLab } from '../../src-main/services/lab.ts';
import type { Lab } from '../../src-main/services/lab.ts';

const GPT2_TINY = path.resolve(import.meta.dirname, '../../../shared/reference/gpt2-tiny');

let dataDir: string;
let outside: string;
let lab: Lab;
let client: Client;
let seen: { event: EventName; payload: EventPayloads[EventName] }[];

beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-library-'));
  outside = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-outside-'));
  lab = openLab(dataDir);
  seen = [];
  lab.events.subscribe((event, payload) => seen.push({ event, payload }));
  client = createClient({ call: (name, input) => lab.dispatch(name, input), on: () => () => {} });
});
afterEach(() => {
  lab.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

const folderBytes = (dir: string) => fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);

describe('models.import', () => {
  test('copies a GPT-2 folder into models/<id> with its architecture, parameter count, size and where it came from', async () => {
    const model = await client.call('models.import', { path: GPT2_TINY });
    expect(model.name).toBe('gpt2-tiny');
    expect(model.path).toBe(`models/${model.id}`);
    expect(model.architecture).toEqual({ family: 'gpt2', nLayer: 2, nHead: 4, nEmbd: 32, vocabSize: 20, blockSize: 32 });
    // wte 20·32 + wpe 32·32 + 2 blocks of (2 LN 4·32, attn 32·96+96 + 32·32+32, mlp 32·128+128 + 128·32+32) + ln_f 2·32
    expect(model.paramCount).toBe(640 + 1024 + 2 * (128 + 3168 + 1056 + 4224 + 4128) + 64);
    expect(model.source).toEqual({ kind: 'imported', from: GPT2_TINY });
    expect(model.runId).toBeNull();
    const copy = path.join(dataDir, model.path);
    expect(fs.readdirSync(copy).sort()).toEqual(fs.readdirSync(GPT2_TINY).sort());
    expect(model.bytesOnDisk).toBe(folderBytes(GPT2_TINY));
    expect((await client.call('models.list')).items.map((m) => m.id)).toEqual([model.id]);

    const named = await client.call('models.import', { path: GPT2_TINY, name: 'tiny again' });
    expect(named.name).toBe('tiny again');
    expect(named.path).not.toBe(model.path);
    const { bytesFreed } = await client.call('models.delete', { id: named.id });
    expect(bytesFreed).toBe(folderBytes(GPT2_TINY));
    expect(fs.existsSync(path.join(dataDir, named.path))).toBe(false);
  });

  test('a folder that does not load is refused naming the file and field, and leaves no row and no file', async () => {
    const broken = path.join(outside, 'broken');
    fs.cpSync(GPT2_TINY, broken, { recursive: true });
    const config = JSON.parse(fs.readFileSync(path.join(broken, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(broken, 'config.json'), JSON.stringify({ ...config, n_head: 5 }));
    await expect(client.call('models.import', { path: broken })).rejects.toThrow(
      `models.import: ${broken}/config.json: n_embd (32) is not divisible by n_head (5)`,
    );
    await expect(client.call('models.import', { path: path.join(outside, 'nowhere') })).rejects.toThrow(/nowhere: no such folder/);
    await expect(client.call('models.import', { path: path.join(broken, 'config.json') })).rejects.toThrow(/found a file/);
    fs.rmSync(path.join(broken, 'config.json'));
    await expect(client.call('models.import', { path: broken })).rejects.toThrow(/has no config\.json/);
    expect((await client.call('models.list')).total).toBe(0);
    expect(fs.readdirSync(path.join(dataDir, 'models'))).toEqual([]);
  });
});

describe('datasets.runs and dataset.progress', () => {
  test('generating reports progress under the asked name, and the dataset names exactly the runs that read its files', async () => {
    const a = await client.call('datasets.generateMult', { digitsA: 2, digitsB: 2, counts: { train: 40, valid: 5, test: 5 }, seed: 1, name: '2×2 a' });
    const b = await client.call('datasets.generateMult', { digitsA: 2, digitsB: 2, counts: { train: 40, valid: 5, test: 0 }, seed: 2, name: '2×2 b' });
    const progress = seen.filter((s) => s.event === 'dataset.progress').map((s) => s.payload);
    expect(progress).toEqual([
      { name: '2×2 a', done: 50, total: 50 },
      { name: '2×2 b', done: 45, total: 45 },
    ]);

    // Rows straight into the store: these configs name files that are not all there (as a run's may, once a dataset is gone).
    const mk = async (name: string, data: unknown) => lab.store.runs.create({ method: 'icot-si', name, config: { data } as never });
    const trainsOnA = await mk('trains on a', { train: `${a.path}/train.txt`, valid: `${a.path}/valid.txt` });
    const testsOnA = await mk('tests on a, absolute', { train: `${b.path}/train.txt`, valid: `${b.path}/valid.txt`, test: path.join(dataDir, a.path, 'test.txt') });
    await mk('no data', null);
    await mk('elsewhere', { train: '/tmp/train.txt', valid: `${a.path}x/valid.txt` });

    expect((await client.call('datasets.runs', { id: a.id })).items.map((r) => r.id)).toEqual([testsOnA.id, trainsOnA.id]);
    expect((await client.call('datasets.runs', { id: b.id })).items.map((r) => r.name)).toEqual(['tests on a, absolute']);
    await expect(client.call('datasets.runs', { id: 99 })).rejects.toThrow('datasets.runs: there is no dataset 99');
  });
});

describe('datasets.cancelGenerate', () => {
  test('a generation stopped mid-way answers conflict and leaves no row, no dataset folder and no staged file', async () => {
    let asked: Promise<{ cancelled: boolean }> | undefined;
    lab.events.subscribe((event, payload) => {
      if (event === 'dataset.progress' && !asked) asked = client.call('datasets.cancelGenerate', { name: (payload as { name: string }).name });
    });
    const generation = client.call('datasets.generateMult', { digitsA: 4, digitsB: 4, counts: { train: 100_000, valid: 0, test: 0 }, seed: 0, name: 'too big' });
    await expect(generation).rejects.toThrow(/datasets\.generateMult: generating “too big” was cancelled after 16384 of 100000 examples; nothing was kept/);
    expect(await asked).toEqual({ cancelled: true });
    expect((await client.call('datasets.list')).total).toBe(0);
    expect(fs.readdirSync(path.join(dataDir, 'datasets'))).toEqual([]);
    // Nothing is being generated now: a stop has nothing to stop.
    expect(await client.call('datasets.cancelGenerate', { name: 'too big' })).toEqual({ cancelled: false });
  });
});

describe('configs', () => {
  test('a config saved under a name is listed newest first; saving the name again replaces it; delete removes it', async () => {
    const first = await client.call('configs.save', { name: '4×4 paper', method: 'icot-si', config: { recipe: 'icot-si', train: { epochs: 10 } } });
    const second = await client.call('configs.save', { name: 'tiny', method: 'icot-si', config: { recipe: 'cot' } });
    const again = await client.call('configs.save', { name: '4×4 paper', method: 'icot-si', config: { recipe: 'icot-si', train: { epochs: 20 } } });
    expect(again.id).toBe(first.id);
    expect(again.createdAt).toBe(first.createdAt);
    const list = await client.call('configs.list');
    expect(list.total).toBe(2);
    expect(list.items.find((c) => c.id === first.id)?.config).toEqual({ recipe: 'icot-si', train: { epochs: 20 } });
    expect(list.items.map((c) => c.name).sort()).toEqual(['4×4 paper', 'tiny']);
    expect(list.items[0]!.updatedAt).toBeGreaterThanOrEqual(list.items[1]!.updatedAt);
    await client.call('configs.delete', { id: second.id });
    expect((await client.call('configs.list')).items.map((c) => c.name)).toEqual(['4×4 paper']);
    await expect(client.call('configs.delete', { id: second.id })).rejects.toThrow(`configs.delete: there is no saved configuration ${second.id}`);
  });
});

describe('curriculum.preview', () => {
  const curriculum = { removePerEpoch: 4, smoothingLambda: 4, side: 'left' as const, resetOptimizer: true, removeAllWhenBeyond: null, pretrainEpochs: 0 };

  test("Δ = 4 over 20 batches an epoch removes one more token every 5 batches, and λ = 4 puts P(0) = 1 − e⁻⁴ on no extra", async () => {
    const r = await client.call('curriculum.preview', { curriculum, trainExamples: 330, batchSize: 16, epochs: 2, cotLength: 6 });
    expect(r.batchesPerEpoch).toBe(20); // 330 / 16 = 20.6: the partial batch is dropped
    expect(r.batchesPerRemovedToken).toBe(5);
    expect(r.totalBatches).toBe(40);
    expect(r.curve.slice(0, 4)).toEqual([
      { batch: 1, removed: 0, remaining: 6 },
      { batch: 6, removed: 1, remaining: 5 },
      { batch: 11, removed: 2, remaining: 4 },
      { batch: 16, removed: 3, remaining: 3 },
    ]);
    expect(r.curve.at(-1)).toEqual({ batch: 40, removed: 6, remaining: 0 });
    expect(r.offsets).toHaveLength(100);
    expect(r.offsets[0]).toBeCloseTo(1 - Math.exp(-4), 12);
    expect(r.offsets.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  test('two CoT epochs first hold removal back two epochs; K = 3 removes everything once 3 are scheduled; no smoothing puts all mass on 0', async () => {
    const r = await client.call('curriculum.preview', {
      curriculum: { ...curriculum, pretrainEpochs: 2, removeAllWhenBeyond: 3, smoothingLambda: null },
      trainExamples: 80,
      batchSize: 16,
      epochs: 4,
      cotLength: 10,
    });
    expect(r.batchesPerEpoch).toBe(5);
    expect(r.curve.filter((p) => p.removed > 0)[0]).toEqual({ batch: 12, removed: 1, remaining: 9 }); // epoch 3's second batch
    expect(r.curve.find((p) => p.removed === 10)?.batch).toBe(14); // 3 scheduled → all 10 gone
    expect(r.offsets[0]).toBe(1);
    await expect(client.call('curriculum.preview', { curriculum, trainExamples: 8, batchSize: 16, epochs: 1, cotLength: 4 })).rejects.toThrow(
      'curriculum.preview: 8 training examples make no full batch of 16: lower the batch size',
    );
  });
});

describe('curriculum.preview with validation deciding', () => {
  const curriculum = { removePerEpoch: 4, smoothingLambda: null, side: 'right' as const, resetOptimizer: true, removeAllWhenBeyond: null, pretrainEpochs: 0 };

  test('a hold schedule marks the spans where each threshold can bite and says so; the curve stays the fixed schedule', async () => {
    const fixed = await client.call('curriculum.preview', { curriculum, trainExamples: 320, batchSize: 16, epochs: 3, cotLength: 8 });
    expect(fixed.validation).toEqual({ decides: false, spans: [], advanceAbove: null, note: '' });
    const r = await client.call('curriculum.preview', { curriculum: { ...curriculum, holdBelow: [[0, 0.5], [5, 0.25]], advanceAbove: 0.9 }, trainExamples: 320, batchSize: 16, epochs: 3, cotLength: 8 });
    expect(r.curve).toEqual(fixed.curve);
    // 20 batches an epoch, one more token every 5: tokens 0–4 are scheduled over batches 0–24 (50%), 5–7 over 25–39 (25%); none once all 8 are gone.
    expect(r.validation.spans).toEqual([
      { fromBatch: 0, toBatch: 25, fromRemoved: 0, toRemoved: 4, holdBelow: 0.5 },
      { fromBatch: 25, toBatch: 40, fromRemoved: 5, toRemoved: 7, holdBelow: 0.25 },
    ]);
    expect(r.validation.decides).toBe(true);
    expect(r.validation.advanceAbove).toBe(0.9);
    expect(r.validation.note).toBe(
      'Validation decides the schedule where marked: from epoch 0.0 (0 removed) to epoch 1.3 the removal waits while validation is below 50%; ' +
        'from epoch 1.3 (5 removed) to epoch 2.0 the removal waits while validation is below 25%; after an epoch at 90% or more the next token goes at once. ' +
        "The curve is the schedule when validation changes nothing: a run's removal can lag it where a hold bites, and run ahead of it after an advance.",
    );
    await expect(client.call('curriculum.preview', { curriculum: { ...curriculum, holdBelow: [[3, 0.5]] }, trainExamples: 320, batchSize: 16, epochs: 1, cotLength: 8 })).rejects.toThrow(
      'must start at 0 tokens removed, e.g. [[0, 0.5], [37, 0.25]]',
    );
  });
});

describe('models.checkpoints', () => {
  test("every run's checkpoints, newest first, with the run's name and its model's architecture and parameter count", async () => {
    const a = lab.store.runs.create({ method: 'icot-si', name: 'run a', config: {} });
    const b = lab.store.runs.create({ method: 'icot-si', name: 'run b (no run.json)', config: {} });
    fs.mkdirSync(path.join(dataDir, 'runs', String(a.id)), { recursive: true });
    const arch = { vocabSize: 20, nPositions: 32, nEmbd: 32, nLayer: 2, nHead: 4, layerNormEpsilon: 1e-5 };
    fs.writeFileSync(path.join(dataDir, 'runs', String(a.id), 'run.json'), JSON.stringify({ config: {}, tokenizer: null, arch }));
    lab.store.checkpoints.add({ runId: a.id, step: 10, path: `runs/${a.id}/checkpoints/step-10.json`, bytes: 1000 }, 1);
    lab.store.checkpoints.add({ runId: b.id, step: 5, path: `runs/${b.id}/checkpoints/step-5.json`, bytes: 500 }, 2);
    lab.store.checkpoints.add({ runId: a.id, step: 20, path: `runs/${a.id}/checkpoints/step-20.json`, bytes: 1000 }, 3);

    const page = await client.call('models.checkpoints');
    expect(page.total).toBe(3);
    expect(page.items.map((c) => [c.runName, c.step])).toEqual([['run a', 20], ['run b (no run.json)', 5], ['run a', 10]]);
    expect(page.items[0]).toMatchObject({
      runId: a.id,
      method: 'icot-si',
      bytes: 1000,
      architecture: { family: 'gpt2', nLayer: 2, nHead: 4, nEmbd: 32, vocabSize: 20, blockSize: 32 },
      paramCount: 27_136, // as models.import counts gpt2-tiny
    });
    expect(page.items[1]).toMatchObject({ architecture: null, paramCount: null });
    expect((await client.call('models.checkpoints', { limit: 1, offset: 1 })).items.map((c) => c.step)).toEqual([5]);
  });
});
