/** What an ICoT-SI run reports at its end: its wall time, and batch-1 speed against the explicit-CoT model of the same shape. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from 'vitest';
import { loadCheckpoint, listCheckpoints } from '../../src-main/engine/checkpoint.ts';
import { TrainerControl, type TrainerEvent } from '../../src-main/engine/trainer.ts';
import { parseIcotConfig } from '../../src-main/methods/icot/recipe.ts';
import { runIcot } from '../../src-main/methods/icot/run.ts';
import { tinyConfig, writeTinyMult } from '../services/tiny-run.ts';

test('an ICoT-SI run keeps its explicit-CoT model when the CoT epochs end, and ends with batch-1 speeds of both, their ratio and its wall time', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-speed-'));
  const data = await writeTinyMult(path.join(dir, 'data'));
  const base = tinyConfig(data, 4);
  const config = parseIcotConfig({ ...base, runtime: { threads: 1 }, curriculum: { ...base.curriculum, pretrainEpochs: 1, removeAllWhenBeyond: 4 }, eval: { ...base.eval, speedExamples: 4 } });
  const events: TrainerEvent[] = [];
  const out = await runIcot({ config, runDir: path.join(dir, 'run') }, (e) => events.push(e), new TrainerControl());
  expect(out.status).toBe('completed');
  expect(out.best).not.toBeNull();
  expect(fs.existsSync(path.join(dir, 'run', 'explicit-cot', 'model.safetensors'))).toBe(true);
  const values = Object.assign({}, ...events.flatMap((e) => (e.type === 'metric' ? [e.values] : []))) as Record<string, number>;
  expect(values.speed_b1_examples_per_s).toBeGreaterThan(0);
  expect(values.speed_b1_explicit_cot_examples_per_s).toBeGreaterThan(0);
  expect(values.speed_b1_ratio).toBeCloseTo(values.speed_b1_examples_per_s / values.speed_b1_explicit_cot_examples_per_s, 10);
  expect(values.wall_minutes).toBeGreaterThan(0);
  const logs = events.flatMap((e) => (e.type === 'log' ? [e.message] : []));
  expect(logs).toContainEqual(expect.stringMatching(/^speed at batch size 1 on 4 test problems: [\d.]+ examples\/s with no CoT \([\d.]+%\), [\d.]+ for the explicit-CoT model \([\d.]+%\): [\d.]+×$/));
  expect(logs.at(-1)).toMatch(/^wall time [\d.]+ minutes over every process of the run$/);
  // Every checkpoint records the wall time so far, which a resumed run adds to.
  const last = listCheckpoints(path.join(dir, 'run', 'checkpoints')).at(-1)!;
  expect((loadCheckpoint(last.path).record.extra as { wallMs: number }).wallMs).toBeGreaterThan(0);
  fs.rmSync(dir, { recursive: true, force: true });
});
