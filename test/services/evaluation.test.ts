/**
 * `stepwise eval` (services/evaluation.ts) evaluates a run's weights as the
 * run itself did: for a run that kept positions, the tokens after the prompt
 * sit where the removed CoT left them, in evaluation as in training.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { evaluateFile } from '../../src-main/services/evaluation.ts';
import { openLab } from '../../src-main/services/lab.ts';
import type { Lab } from '../../src-main/services/lab.ts';
import { tinyConfig, writeTinyMult } from './tiny-run.ts';

let dataDir: string;
let lab: Lab;
beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-evaluation-'));
  lab = openLab(dataDir);
});
afterEach(() => {
  lab.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('evaluating a run', () => {
  test('a run that kept positions is evaluated with the same skip: the predictions equal the run’s own test predictions', async () => {
    const data = await writeTinyMult(path.join(dataDir, 'mult'));
    const config = { ...tinyConfig(data, 3), recipe: 'nocot', curriculum: { keepPosition: true } };
    const answer = await lab.dispatch('runs.start', { method: 'icot-si', name: 'kept positions', config });
    if (!answer.ok) throw new Error(answer.error.message);
    const { id } = answer.result as { id: number };
    const end = await lab.training.whenDone(id)!;
    expect(end.run.status).toBe('completed');
    const [testEval] = lab.store.predictions.evaluations(id, 'test');
    const own = lab.store.predictions.list(id, 'test', testEval.step, 0, 100);
    expect(own).toHaveLength(8);

    const report = await evaluateFile(lab, { model: { runId: id, checkpoint: 'best' }, dataFile: data.test, batchSize: 4, split: 'again' });
    expect(report.total).toBe(8);
    const again = lab.store.predictions.list(id, 'again', report.stored!.step, 0, 100);
    expect(again.map((p) => p.generated)).toEqual(own.map((p) => p.generated));
    expect(report.correct).toBe(own.filter((p) => p.correct).length);
  });
});
