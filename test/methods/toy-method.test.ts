/**
 * A method is one definition: the toy method of test/fixtures/toy-method/,
 * which no file of the app names, trains through the contract (registered in
 * this process) and through the CLI (named in STEPWISE_METHODS), lands in the
 * store and joins the Library like the built-in methods.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { MethodInfo, Run } from '../../src-main/contract/entities.ts';
import { methodById, registerMethod } from '../../src-main/methods/index.ts';
import { openLab } from '../../src-main/services/lab.ts';
import { toyCopy } from '../fixtures/toy-method/index.ts';

const BIN = fileURLToPath(new URL('../../bin/stepwise.js', import.meta.url));
const TOY_MODULE = fileURLToPath(new URL('../fixtures/toy-method/index.ts', import.meta.url));

let work: string;
beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-toy-'));
  // 16 lines of digits: the toy method's whole data.
  const lines = Array.from({ length: 16 }, (_, i) => String(1000 + i * 37));
  fs.writeFileSync(path.join(work, 'digits.txt'), `${lines.join('\n')}\n`);
});
afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

const config = (train: string) => ({ method: 'toy-copy', model: { kind: 'fresh', layers: 1, dim: 16, heads: 2, seed: 1 }, data: { train }, train: { epochs: 3, batchSize: 4, lr: 0.01 } });

describe('a method defined outside the app', () => {
  test('trains through the contract: listed, validated, run in the generic worker, and its model joins the Library', async () => {
    const unregister = registerMethod(toyCopy);
    const lab = openLab(path.join(work, 'lab'));
    try {
      const listed = await lab.dispatch('methods.list', {});
      expect(listed.ok && (listed.result as { items: MethodInfo[] }).items.map((m) => m.id)).toEqual(['icot-si', 'fine-tune-cot', 'bitune', 'lora', 'coconut', 'toy-copy']);

      const bad = await lab.dispatch('runs.start', { method: 'toy-copy', name: 'bad', config: { ...config(path.join(work, 'digits.txt')), train: { epochs: 0 } } });
      expect(bad.ok).toBe(false);
      if (!bad.ok) expect(bad.error.message).toBe('runs.start: config is not a valid Toy copy run configuration: config.train.epochs: Too small: expected number to be >0');

      const queued = await lab.dispatch('runs.create', { method: 'toy-copy', name: 'toy', config: config(path.join(work, 'digits.txt')) });
      expect(queued.ok && (queued.result as Run).status).toBe('queued');
      const started = await lab.dispatch('runs.start', { id: queued.ok ? (queued.result as Run).id : 0 });
      expect(started.ok && (started.result as Run).status).toBe('running');
      const end = await lab.training.whenDone(1)!;
      expect(end.run.status).toBe('completed');
      expect(end.outcome?.step).toBe(12); // 3 epochs × 16/4 batches

      const losses = lab.store.metrics.series(1, { keys: ['loss'] })[0].values as number[];
      expect(losses).toHaveLength(12);
      expect(losses.at(-1)!).toBeLessThan(losses[0]);
      expect(lab.store.metrics.series(1, { keys: ['final_loss'] })[0].values).toEqual([losses.at(-1)]);

      expect(end.model).toMatchObject({
        name: 'toy (last)', path: path.join('runs', '1', 'model'), runId: 1,
        architecture: { family: 'gpt2', nLayer: 1, nEmbd: 16, nHead: 2, vocabSize: 12 },
        source: { kind: 'trained', runId: 1, recipe: 'copy', step: 12 },
      });
      expect(fs.existsSync(path.join(work, 'lab', 'runs', '1', 'model', 'model.safetensors'))).toBe(true);
      const logs = lab.store.logs.after(1, 0, 100).map((l) => l.message);
      expect(logs.at(-1)).toMatch(/^completed at step 12: final loss \d\.\d{3}, registered as model 1$/);
    } finally {
      lab.close();
      unregister();
    }
    expect(methodById('toy-copy')).toBeUndefined();
  });

  test('trains through the CLI when STEPWISE_METHODS names its module, and is refused by name when it does not', () => {
    const file = path.join(work, 'toy.json');
    fs.writeFileSync(file, JSON.stringify(config('digits.txt')));
    const { STEPWISE_DATA_DIR: _, ...env } = process.env;
    const run = (extra: Record<string, string>) => spawnSync(process.execPath, [BIN, 'train', file, '--data-dir', path.join(work, 'lab')], { cwd: work, env: { ...env, ...extra }, encoding: 'utf8' });

    const without = run({});
    expect(without.status).toBe(2);
    expect(without.stderr).toBe(`stepwise train: ${file}: method "toy-copy" is not one this lab trains (it trains icot-si, fine-tune-cot, bitune, lora, coconut)\n`);

    const missing = run({ STEPWISE_METHODS: path.join(work, 'nowhere.ts') });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain(`STEPWISE_METHODS: ${path.join(work, 'nowhere.ts')}: there is no such file`);

    const withToy = run({ STEPWISE_METHODS: TOY_MODULE });
    expect(withToy.stderr).not.toContain('failed');
    expect(withToy.status).toBe(0);
    expect(withToy.stdout).toContain('Run 1 completed at step 12.');
    expect(withToy.stdout).toContain(`Model 1 "toy (last)": ${path.join(work, 'lab', 'runs', '1', 'model')}`);
    const lab = openLab(path.join(work, 'lab'));
    try {
      expect(lab.store.runs.get(1)).toMatchObject({ method: 'toy-copy', status: 'completed', name: 'toy' });
      expect(lab.store.metrics.series(1, { keys: ['loss'] })[0].steps).toHaveLength(12);
    } finally {
      lab.close();
    }
  });
});
