/**
 * The desktop build carries its training workers: electron-vite bundles the
 * ICoT worker beside out/main/index.js, and that bundled worker trains a real
 * (tiny) run to completion in a worker thread, as the app would start it; the
 * bundled preflight worker accepts that run's config and refuses a bad data file.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, test } from 'vitest';
import type { WorkerMessage } from '../../src-main/engine/train-job.ts';
import type { IcotOutcome } from '../../src-main/methods/icot/run.ts';
import { parseIcotConfig } from '../../src-main/methods/icot/recipe.ts';

const root = path.resolve(import.meta.dirname, '../..');
// Under the project, as in the app: the bundle loads its dependencies from node_modules.
const out = path.join(root, 'out', 'bundle-test');

describe('desktop bundle', () => {
  test('electron-vite builds the method worker beside main, and the bundled worker trains an ICoT-SI run by its method id', async () => {
    execFileSync(process.execPath, [path.join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'build', '--outDir', out], { cwd: root, stdio: 'pipe' });
    const main = path.join(out, 'main');
    expect(existsSync(path.join(main, 'index.js'))).toBe(true);
    expect(existsSync(path.join(main, 'method-worker.js'))).toBe(true);
    expect(readFileSync(path.join(main, 'index.js'), 'utf8')).toContain('"method-worker"');
    // The other workers the app starts: a run's check and estimate, a model's evaluation, a probe job.
    for (const worker of ['preflight-worker', 'evaluation-worker', 'probe-worker']) expect([worker, existsSync(path.join(main, `${worker}.js`))]).toEqual([worker, true]);
    // One worker serves every method: no per-method entries are left.
    for (const old of ['icot-worker.js', 'ftcot-worker.js', 'bitune-worker.js', 'train-worker.js']) expect(existsSync(path.join(main, old))).toBe(false);

    const data = mkdtempSync(path.join(os.tmpdir(), 'stepwise-bundle-data-'));
    const lines = ['1 2 * 3||3 6 #### 3 6 0', '4 * 2 1||8 4 #### 8 4', '2 2 * 2||4 4 #### 4 4 0', '3 * 3 1||9 3 #### 9 3'];
    writeFileSync(path.join(data, 'train.txt'), Array(4).fill(lines).flat().join('\n') + '\n');
    writeFileSync(path.join(data, 'valid.txt'), lines.join('\n') + '\n');
    const config = parseIcotConfig({
      recipe: 'icot-si', model: { kind: 'fresh', layers: 1, dim: 16, heads: 2 },
      data: { train: path.join(data, 'train.txt'), valid: path.join(data, 'valid.txt') },
      train: { epochs: 2, batchSize: 4, lr: 1e-3 }, runtime: { threads: 1 },
    });
    const worker = new Worker(path.join(main, 'method-worker.js'), { workerData: { method: 'icot-si', module: 'file:///nowhere/index.ts', job: { config, runDir: path.join(data, 'run') } } });
    const steps: number[] = [];
    const result = await new Promise<IcotOutcome>((resolve, reject) => {
      worker.on('message', (m: WorkerMessage<IcotOutcome>) => {
        if (m.type === 'event' && m.event.type === 'step') steps.push(m.event.step);
        if (m.type === 'done') resolve(m.result);
        if (m.type === 'error') reject(new Error(m.message));
      });
      worker.on('error', reject);
    });
    expect(result.status).toBe('completed');
    expect(steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(existsSync(path.join(data, 'run', 'checkpoints', 'step-0000008.json'))).toBe(true);

    // The preflight worker (runs.start checks data and model in it before a run exists) is bundled too.
    expect(readFileSync(path.join(main, 'index.js'), 'utf8')).toContain('"preflight-worker"');
    const verdict = (checked: unknown) =>
      new Promise<{ ok: boolean; message?: string }>((resolve, reject) => {
        const w = new Worker(path.join(main, 'preflight-worker.js'), { workerData: { method: 'icot-si', config: checked } });
        w.once('message', (m: { ok: boolean; message?: string }) => {
          resolve(m);
          void w.terminate();
        });
        w.once('error', reject);
      });
    expect(await verdict(config)).toEqual({ ok: true });
    writeFileSync(path.join(data, 'bad.txt'), 'no separator here\n');
    expect(await verdict({ ...config, data: { ...config.data, train: path.join(data, 'bad.txt') } })).toEqual({
      ok: false,
      message: `${path.join(data, 'bad.txt')}:1: expected one '||' between the input and the chain of thought, as in 'input||cot #### answer' (found none) in "no separator here"`,
    });
  }, 180_000);
});
