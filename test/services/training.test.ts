/**
 * Training runs through the contract, end to end: real SQLite in a temporary
 * data folder, the ICoT job in a real worker thread, ONNX Runtime on the CPU,
 * and a tiny model on 2×2 multiplication (test/services/tiny-run.ts).
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
import { expectResumedSteps } from './interrupted.ts';
import { BATCHES_PER_EPOCH, tinyConfig, writeTinyMult } from './tiny-run.ts';
import { MAX_STEPS_PER_RUN } from '../../src-main/engine/trainer.ts';

let dataDir: string;
let data: { train: string; valid: string; test: string };
const labs: Lab[] = [];

beforeEach(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-training-'));
  data = await writeTinyMult(path.join(dataDir, 'mult'));
});
afterEach(async () => {
  for (const lab of labs.splice(0)) {
    const running = lab.store.runs.list({ status: 'running', limit: 100, offset: 0 }).items.map((r) => lab.training.whenDone(r.id));
    lab.close();
    await Promise.all(running);
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
});

function open(): { lab: Lab; client: Client; seen: { event: EventName; payload: EventPayloads[EventName] }[] } {
  const lab = openLab(dataDir);
  labs.push(lab);
  const seen: { event: EventName; payload: EventPayloads[EventName] }[] = [];
  lab.events.subscribe((event, payload) => seen.push({ event, payload }));
  const client = createClient({
    call: (name, input) => lab.dispatch(name, input),
    on: (event, handler) => lab.events.subscribe((e, p) => e === event && handler(p)),
  });
  return { lab, client, seen };
}

/** Resolves with the first event of `name` that `accept`s. */
function next<E extends EventName>(lab: Lab, name: E, accept: (p: EventPayloads[E]) => boolean = () => true): Promise<EventPayloads[E]> {
  return new Promise((resolve) => {
    const stop = lab.events.subscribe((event, payload) => {
      if (event === name && accept(payload as EventPayloads[E])) {
        stop();
        resolve(payload as EventPayloads[E]);
      }
    });
  });
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > 20_000) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** GPT-2's parameter count: embeddings, then per layer two layer norms, attention and MLP, then the final norm. */
function gpt2Params(vocab: number, positions: number, dim: number, layers: number): number {
  const layer = 2 * dim + (dim * 3 * dim + 3 * dim) + (dim * dim + dim) + 2 * dim + (dim * 4 * dim + 4 * dim) + (4 * dim * dim + dim);
  return vocab * dim + positions * dim + layers * layer + 2 * dim;
}

function bytesUnder(dir: string): number {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).reduce((n, e) => n + fs.statSync(path.join(e.parentPath, e.name)).size, 0);
}

describe('a run started through the contract', () => {
  test('writes step metrics, validation and test figures, checkpoints, logs and predictions, ends completed and registers its best model', async () => {
    const { lab, client, seen } = open();
    const started = await client.call('runs.start', { method: 'icot-si', name: 'tiny 2×2', config: tinyConfig(data) });
    expect(started).toMatchObject({ id: 1, status: 'running', name: 'tiny 2×2', error: null });
    expect(started.startedAt).toBeGreaterThan(0);
    const end = await lab.training.whenDone(started.id)!;
    const steps = 3 * BATCHES_PER_EPOCH;

    const run = await client.call('runs.get', { id: started.id });
    expect(run).toMatchObject({ status: 'completed', error: null });
    expect(run.finishedAt).toBeGreaterThanOrEqual(run.startedAt!);

    // Every step's figures (written in batches), and the figures of each epoch's end.
    const { series } = await client.call('runs.metrics', { runId: run.id });
    const byKey = Object.fromEntries(series.map((s) => [s.key, s]));
    for (const key of ['loss', 'lr', 'grad_norm', 'tokens_per_s', 'scheduled_removal', 'mean_cot_removed', 'all_cot_removed']) {
      expect(byKey[key].steps, key).toEqual(range(1, steps));
    }
    expect(new Set(byKey.lr.values)).toEqual(new Set([1e-3]));
    expect(byKey.loss.values.every((v) => v !== null && v > 0)).toBe(true);
    const removal = byKey.scheduled_removal.values as number[];
    expect(removal).toEqual([...removal].sort((a, b) => a - b));
    expect(byKey.val_accuracy.steps).toEqual([4, 8, 12]);
    expect(byKey.cot_removed.steps).toEqual([4, 8, 12]);
    expect(byKey.test_accuracy.steps).toEqual([12]);

    const { items: checkpoints } = await client.call('checkpoints.list', { runId: run.id });
    expect(checkpoints.map((c) => [c.step, c.path])).toEqual([4, 8, 12].map((s) => [s, `runs/1/checkpoints/step-${String(s).padStart(7, '0')}.json`]));
    for (const c of checkpoints) {
      const json = path.join(dataDir, c.path);
      expect(c.bytes).toBe(fs.statSync(json).size + fs.statSync(json.replace(/\.json$/, '.safetensors')).size);
    }

    const { items: logs } = await client.call('runs.logs', { runId: run.id });
    expect(logs[0].message).toMatch(/^icot-si: 64 training examples, 4 batches per epoch, 12 steps/);
    expect(logs.at(-1)!.message).toMatch(/^completed at step 12: best validation accuracy \d+\.\d% at step \d+, registered as model 1; test accuracy/);

    // Predictions: the latest validation by default, paged.
    const valid = await client.call('runs.predictions', { runId: run.id });
    expect(valid).toMatchObject({ split: 'valid', step: 12, total: 8, splits: ['test', 'valid'] });
    expect(valid.evaluations.map((e) => [e.step, e.total])).toEqual([[4, 8], [8, 8], [12, 8]]);
    expect(valid.correct).toBe(valid.items.filter((p) => p.correct).length);
    expect(valid.items.map((p) => p.index)).toEqual(range(0, 7));
    expect(valid.items[0].input).toBe(fs.readFileSync(data.valid, 'utf8').split('||')[0]);
    const page = await client.call('runs.predictions', { runId: run.id, split: 'test', step: 12, offset: 6, limit: 5 });
    expect([page.step, page.total, page.items.map((p) => p.index)]).toEqual([12, 8, [6, 7]]);
    await expect(client.call('runs.predictions', { runId: run.id, step: 5 })).rejects.toMatchObject({
      code: 'not_found',
      message: 'runs.predictions: run 1 has no valid predictions at step 5 (it has steps 4, 8, 12)',
    });

    // The best model, as a row of the library with its provenance.
    const { items: models } = await client.call('models.list');
    expect(models).toHaveLength(1);
    const model = models[0];
    const arch = model.architecture as { vocabSize: number; blockSize: number };
    expect(model).toMatchObject({ runId: 1, path: 'runs/1/best', name: 'tiny 2×2 (best)', source: { kind: 'trained', runId: 1, recipe: 'icot-si', step: end.outcome!.best!.step } });
    expect(model.architecture).toMatchObject({ family: 'gpt2', nLayer: 1, nHead: 2, nEmbd: 32, vocabSize: 17 });
    expect(model.paramCount).toBe(gpt2Params(arch.vocabSize, arch.blockSize, 32, 1));
    expect(model.bytesOnDisk).toBe(bytesUnder(path.join(dataDir, 'runs/1/best')));
    expect(end.model).toEqual(model);

    // What listeners heard.
    const statuses = seen.filter((s) => s.event === 'run.status').map((s) => (s.payload as EventPayloads['run.status']).status);
    expect(statuses).toEqual(['queued', 'running', 'completed']);
    const progress = seen.filter((s) => s.event === 'run.progress').map((s) => s.payload as EventPayloads['run.progress']);
    expect(progress.at(-1)).toMatchObject({ runId: 1, step: 12, totalSteps: 12, epoch: 2, paused: false, note: 'CoT removed: all', figures: { allCotRemoved: 1 } });
    const stepMetrics = seen.filter((s) => s.event === 'run.metric' && 'loss' in (s.payload as EventPayloads['run.metric']).values);
    expect(stepMetrics.map((s) => (s.payload as EventPayloads['run.metric']).step)).toEqual(range(1, 12));
    expect(fs.existsSync(path.join(dataDir, 'runs/1/owner.json'))).toBe(false);
  });

  test('a config with wrong fields answers invalid_input naming each one, and creates and starts nothing', async () => {
    const { lab, client } = open();
    const bad = { ...tinyConfig(data), data: { train: data.train, valid: 'missing/valid.txt' }, train: { epochs: 3, lr: 0 } };
    await expect(client.call('runs.start', { method: 'icot-si', name: 'bad', config: bad })).rejects.toMatchObject({
      code: 'invalid_input',
      message: `runs.start: config is not a valid ICoT-SI run configuration: config.train.lr: Too small: expected number to be >0; config.data.valid: there is no file ${path.join(dataDir, 'missing/valid.txt')}`,
      issues: [
        { path: ['config', 'train', 'lr'], message: 'config.train.lr: Too small: expected number to be >0' },
        { path: ['config', 'data', 'valid'], message: expect.stringContaining('config.data.valid: there is no file') },
      ],
    });
    expect((await client.call('runs.list')).total).toBe(0);

    // runs.create makes the same checks, with the same words: a queued run is one that can start.
    await expect(client.call('runs.create', { method: 'icot-si', name: 'queued', config: bad })).rejects.toMatchObject({
      code: 'invalid_input',
      message: `runs.create: config is not a valid ICoT-SI run configuration: config.train.lr: Too small: expected number to be >0; config.data.valid: there is no file ${path.join(dataDir, 'missing/valid.txt')}`,
    });
    await expect(client.call('runs.create', { method: 'icot-si', name: 'queued', config: { recipe: 'cot' } })).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringContaining('config.model:') });
    expect((await client.call('runs.list')).total).toBe(0);

    // A run queued before this check (by an older lab) is still refused by Start, and stays queued.
    const old = lab.store.runs.create({ method: 'icot-si', name: 'queued long ago', config: { recipe: 'cot' } });
    await expect(client.call('runs.start', { id: old.id })).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringContaining('config.model:') });
    expect((await client.call('runs.get', { id: old.id })).status).toBe('queued');
    expect(fs.existsSync(path.join(dataDir, 'runs'))).toBe(false);
  });

  test('a queued run\'s settings are edited with the checks Start makes; a started run\'s are not', async () => {
    const { lab, client } = open();
    const queued = await client.call('runs.create', { method: 'icot-si', name: 'queued', config: tinyConfig(data, 1) });
    const wide = { ...tinyConfig(data, 1), model: { kind: 'fresh', layers: 1, dim: 65, heads: 4, seed: 1 } };
    await expect(client.call('runs.update', { id: queued.id, config: wide })).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringMatching(/^runs\.update: .*config\.model.*divisible/) });
    expect((await client.call('runs.get', { id: queued.id })).config).toEqual(tinyConfig(data, 1));
    const longer = await client.call('runs.update', { id: queued.id, name: 'two epochs', config: tinyConfig(data, 2) });
    expect([longer.name, longer.config]).toEqual(['two epochs', tinyConfig(data, 2)]);
    await client.call('runs.start', { id: queued.id });
    await expect(client.call('runs.update', { id: queued.id, config: tinyConfig(data, 3) })).rejects.toMatchObject({ code: 'conflict', message: expect.stringContaining(`runs.update: run ${queued.id} has started (it is running)`) });
    const end = await lab.training.whenDone(queued.id)!;
    expect([end.run.status, end.outcome!.step]).toEqual(['completed', 2 * BATCHES_PER_EPOCH]);
  });

  test('a model folder that does not load is refused before the run exists: no row, no run folder, the folder named (issue 23)', async () => {
    const { lab, client } = open();
    fs.mkdirSync(path.join(dataDir, 'empty-model'));
    await expect(
      client.call('runs.start', { method: 'icot-si', name: 'no weights', config: { ...tinyConfig(data), model: { kind: 'folder', path: 'empty-model' } } }),
    ).rejects.toMatchObject({ code: 'invalid_input', message: `runs.start: the run cannot start: ${path.join(dataDir, 'empty-model')}: no config.json; a Hugging Face model folder holds config.json and model.safetensors` });
    expect(lab.store.runs.count()).toBe(0);
    expect(fs.existsSync(path.join(dataDir, 'runs'))).toBe(false);
  });

  test('a job that fails after it started (its data deleted under it) ends the run failed with its error, also logged', async () => {
    const { lab, client, seen } = open();
    const train = path.join(dataDir, 'vanishing.txt');
    fs.copyFileSync(data.train, train);
    const { id } = await client.call('runs.start', { method: 'icot-si', name: 'vanishing', config: tinyConfig({ ...data, train }) });
    fs.rmSync(train); // the worker is still starting: it will not find its data
    const end = await lab.training.whenDone(id)!;
    expect(end.run.status).toBe('failed');
    expect(end.run.error).toBe(`${train}: no such file`);
    expect(lab.store.logs.after(id, 0, 100).at(-1)).toMatchObject({ level: 'error', message: end.run.error });
    expect(seen.filter((s) => s.event === 'run.status').at(-1)!.payload).toMatchObject({ runId: id, status: 'failed', error: end.run.error });
  });

  test('a queued run starts by id with its config paths relative to the data folder', async () => {
    const { lab, client } = open();
    const relative = { train: 'mult/train.txt', valid: 'mult/valid.txt' };
    const queued = await client.call('runs.create', { method: 'icot-si', name: 'queued', config: tinyConfig(relative, 1) });
    expect((await client.call('runs.start', { id: queued.id })).status).toBe('running');
    await expect(client.call('runs.start', { id: queued.id })).rejects.toMatchObject({ code: 'conflict', message: 'runs.start: run 1 has already started: it is already running' });
    const end = await lab.training.whenDone(queued.id)!;
    expect([end.run.status, end.outcome!.step]).toEqual(['completed', BATCHES_PER_EPOCH]);
    expect((await client.call('runs.get', { id: queued.id })).config).toEqual(tinyConfig(relative, 1));
  });
});

describe('pause, resume and cancel through the contract', () => {
  test("pause holds the job between steps with the status still 'running'; resume lets it finish every step", async () => {
    const { lab, client, seen } = open();
    const epochs = 6;
    const runStarted = next(lab, 'run.metric', (p) => p.step >= 2);
    const { id } = await client.call('runs.start', { method: 'icot-si', name: 'pausing', config: tinyConfig(data, epochs) });
    await runStarted;
    const paused = next(lab, 'run.status', (p) => p.paused === true);
    expect((await client.call('runs.pause', { id })).status).toBe('running');
    expect(await paused).toMatchObject({ runId: id, status: 'running', paused: true });
    await expect(client.call('runs.pause', { id })).rejects.toMatchObject({ code: 'conflict', message: `runs.pause: run ${id} is already paused; resume it with runs.resume` });

    const stepsSeen = () => seen.filter((s) => s.event === 'run.metric' && 'loss' in (s.payload as EventPayloads['run.metric']).values).length;
    const atPause = stepsSeen();
    expect(lab.store.metrics.series(id, { keys: ['loss'] })[0].steps).toHaveLength(atPause); // flushed when it paused
    await new Promise((r) => setTimeout(r, 300));
    expect(stepsSeen()).toBe(atPause);
    expect(atPause).toBeLessThan(epochs * BATCHES_PER_EPOCH);
    expect(await client.call('runs.get', { id })).toMatchObject({ status: 'running', paused: true }); // a reloaded page knows
    expect((await client.call('runs.list', {})).items.find((r) => r.id === id)).toMatchObject({ paused: true });

    const resumed = next(lab, 'run.status', (p) => p.paused === false);
    await client.call('runs.resume', { id });
    expect(await resumed).toMatchObject({ status: 'running', paused: false });
    expect((await client.call('runs.get', { id })).paused).toBe(false);
    await expect(client.call('runs.resume', { id })).rejects.toMatchObject({ code: 'conflict', message: `runs.resume: run ${id} is running, not paused` });
    const end = await lab.training.whenDone(id)!;
    expect(end.run.status).toBe('completed');
    expect(lab.store.metrics.series(id, { keys: ['loss'] })[0].steps).toEqual(range(1, epochs * BATCHES_PER_EPOCH));
    const pausedFlags = seen.filter((s) => s.event === 'run.progress').map((s) => (s.payload as EventPayloads['run.progress']).paused);
    expect(pausedFlags).toContain(true);
    expect(pausedFlags.at(-1)).toBe(false);
  });

  test('cancel stops after the current step keeping a checkpoint; resume continues from it to completion', async () => {
    const { lab, client } = open();
    const epochs = 5;
    const total = epochs * BATCHES_PER_EPOCH;
    const firstEpoch = next(lab, 'run.metric', (p) => 'val_accuracy' in p.values);
    const { id } = await client.call('runs.start', { method: 'icot-si', name: 'cancelling', config: tinyConfig(data, epochs) });
    await firstEpoch;
    await client.call('runs.cancel', { id });
    const cancelled = await lab.training.whenDone(id)!;
    const at = cancelled.outcome!.step;
    expect(cancelled.run.status).toBe('cancelled');
    expect(at).toBeGreaterThanOrEqual(BATCHES_PER_EPOCH);
    expect(at).toBeLessThan(total);
    expect(lab.store.checkpoints.list(id).at(-1)!.step).toBe(at);
    expect(lab.store.logs.after(id, 0, 1000).at(-1)!.message).toBe(`cancelled at step ${at}; the checkpoint of step ${at} is kept: resume to continue from it`);
    await expect(client.call('runs.cancel', { id })).rejects.toMatchObject({ code: 'conflict', message: `runs.cancel: run ${id} is not running (it is cancelled)` });
    await expect(client.call('runs.pause', { id })).rejects.toMatchObject({ code: 'conflict', message: `runs.pause: run ${id} is not running (it is cancelled)` });

    expect((await client.call('runs.resume', { id })).status).toBe('running');
    const end = await lab.training.whenDone(id)!;
    expect([end.run.status, end.run.finishedAt! >= end.run.startedAt!]).toEqual(['completed', true]);
    const messages = lab.store.logs.after(id, 0, 1000).map((l) => l.message);
    expect(messages).toContain(`resuming from the checkpoint of step ${at}`);
    expect(messages.some((m) => m.startsWith('resumed from ') && m.endsWith(`at step ${at}`))).toBe(true);
    expect(lab.store.metrics.series(id, { keys: ['loss'] })[0].steps).toEqual(range(1, total));
    const steps = lab.store.checkpoints.list(id).map((c) => c.step);
    expect(steps).toEqual([...new Set(steps)].sort((a, b) => a - b));
    expect(steps.at(-1)).toBe(total);
    await expect(client.call('runs.resume', { id })).rejects.toMatchObject({ code: 'conflict', message: `runs.resume: run ${id} has completed; there is nothing to resume` });
  });

  test('a queued run is cancelled at once and cannot be resumed before it starts', async () => {
    const { client } = open();
    const queued = await client.call('runs.create', { method: 'icot-si', name: 'queued', config: tinyConfig(data) });
    await expect(client.call('runs.resume', { id: queued.id })).rejects.toMatchObject({ code: 'conflict', message: `runs.resume: run ${queued.id} has not started; start it with runs.start` });
    expect(await client.call('runs.cancel', { id: queued.id })).toMatchObject({ status: 'cancelled' });
    await expect(client.call('runs.pause', { id: 99 })).rejects.toMatchObject({ code: 'not_found', message: 'runs.pause: there is no run 99' });
  });
});

describe('crash safety', () => {
  test('a run whose process went away is marked interrupted when a lab opens, and runs.resume continues it from its latest checkpoint', async () => {
    const first = open();
    const epochs = 5;
    const { id } = await first.client.call('runs.start', { method: 'icot-si', name: 'crashing', config: tinyConfig(data, epochs) });
    await until(() => first.lab.store.checkpoints.list(id).length > 0, 'a checkpoint');
    // The lab goes away without ending the run (as when its process dies); its job stops.
    const gone = first.lab.training.whenDone(id)!;
    first.lab.close();
    labs.splice(labs.indexOf(first.lab), 1);
    await gone;
    const files = fs.readdirSync(path.join(dataDir, 'runs/1/checkpoints')).filter((f) => f.endsWith('.json'));
    const steps = files.map((f) => Number(f.slice(5, -5)));

    const latest = Math.max(...steps);

    const { lab, client } = open();
    // Closing kept the steps done until then; the job may have finished the steps of its current
    // session run (several steps run in one), and saved them, as it stopped.
    const recorded = lab.store.metrics.series(id, { keys: ['loss'] })[0].steps;
    expect(recorded).toEqual(range(1, recorded.length));
    expect(latest - recorded.length).toBeLessThanOrEqual(MAX_STEPS_PER_RUN);
    const run = await client.call('runs.get', { id });
    expect(run).toMatchObject({ status: 'failed', error: `interrupted: resume to continue from step ${latest}` });
    expect(lab.store.checkpoints.list(id).map((c) => c.step)).toEqual(steps.sort((a, b) => a - b)); // rows its process never wrote, too

    await client.call('runs.resume', { id });
    const end = await lab.training.whenDone(id)!;
    expect(end.run).toMatchObject({ status: 'completed', error: null });
    const messages = lab.store.logs.after(id, 0, 1000).map((l) => l.message);
    const losses = lab.store.metrics.series(id, { keys: ['loss'] })[0].steps;
    expect(expectResumedSteps(losses, messages, epochs * BATCHES_PER_EPOCH)).toBe(latest);
    const all = range(1, epochs * BATCHES_PER_EPOCH);
    expect(losses).toEqual(all.filter((s) => s <= recorded.length || s > latest));
  });

  test('a run whose process checkpointed steps it never wrote is interrupted naming the steps whose metrics were lost', async () => {
    const seeded = openLab(dataDir);
    const run = seeded.store.runs.create({ method: 'icot-si', name: 'lost', config: tinyConfig(data) });
    seeded.store.runs.setStatus(run.id, 'running');
    for (const step of [1, 2, 3, 4]) seeded.store.metrics.record(run.id, step, { loss: 1 / step });
    const checkpoints = path.join(dataDir, 'runs', String(run.id), 'checkpoints');
    fs.mkdirSync(checkpoints, { recursive: true });
    for (const step of [4, 8]) fs.writeFileSync(path.join(checkpoints, `step-${step}.json`), '{}');
    seeded.close();

    const { lab, client } = open();
    expect(await client.call('runs.get', { id: run.id })).toMatchObject({ status: 'failed', error: 'interrupted: resume to continue from step 8' });
    expect(lab.store.logs.after(run.id, 0, 100).map((l) => l.message)).toContain(
      'the process running this run stopped without ending it (the metrics of steps 5–8 were lost with it); interrupted: resume to continue from step 8',
    );
    expect(lab.store.checkpoints.list(run.id).map((c) => c.step)).toEqual([4, 8]);
    expect(lab.store.metrics.series(run.id, { keys: ['loss'] })[0].steps).toEqual([1, 2, 3, 4]);
  });

  test("a run left 'running' with no checkpoint and no owner is interrupted from step 0; one owned by a live process is left alone", async () => {
    const seeded = openLab(dataDir);
    const orphan = seeded.store.runs.create({ method: 'icot-si', name: 'orphan', config: tinyConfig(data) });
    seeded.store.runs.setStatus(orphan.id, 'running');
    const elsewhere = seeded.store.runs.create({ method: 'icot-si', name: 'elsewhere', config: tinyConfig(data) });
    seeded.store.runs.setStatus(elsewhere.id, 'running');
    fs.mkdirSync(path.join(dataDir, 'runs', String(elsewhere.id)), { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'runs', String(elsewhere.id), 'owner.json'), JSON.stringify({ pid: process.ppid }));
    seeded.close();

    const { client } = open();
    expect(await client.call('runs.get', { id: orphan.id })).toMatchObject({
      status: 'failed',
      error: 'interrupted before its first checkpoint: resume to start it again from step 0',
    });
    expect(await client.call('runs.get', { id: elsewhere.id })).toMatchObject({ status: 'running', error: null });
    await expect(client.call('runs.pause', { id: elsewhere.id })).rejects.toMatchObject({
      code: 'conflict',
      message: `runs.pause: run ${elsewhere.id} is running in another process (pid ${process.ppid}); pause it there`,
    });
  });
});
