/**
 * Issue 23, finding 9: a process killed while writing a checkpoint leaves
 * `step-N.safetensors.tmp-PID` (and `.json.tmp-PID`) files; the next lab that
 * finds the run interrupted removes them, and keeps every finished file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { openLab } from '../../src-main/services/lab.ts';
import { tinyConfig, writeTinyMult } from './tiny-run.ts';

let dataDir: string;
beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-leftovers-'));
});
afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

describe('temporary checkpoint files of a killed process', () => {
  test('are removed when the next lab marks the run interrupted; finished checkpoints stay', async () => {
    const data = await writeTinyMult(path.join(dataDir, 'mult'));
    let lab = openLab(dataDir);
    const run = (await lab.dispatch('runs.start', { method: 'icot-si', name: 'tiny', config: tinyConfig(data, 1) })) as { ok: true; result: { id: number } };
    expect(run.ok).toBe(true);
    const id = run.result.id;
    await lab.training.whenDone(id);
    const checkpoints = path.join(dataDir, 'runs', String(id), 'checkpoints');
    const finished = fs.readdirSync(checkpoints).sort();
    // As a process killed mid-write leaves it: the row still 'running', owner.json naming a dead pid, half-written files.
    lab.store.runs.setStatus(id, 'running');
    lab.close();
    fs.writeFileSync(path.join(dataDir, 'runs', String(id), 'owner.json'), JSON.stringify({ pid: 2 ** 22 + 12345, since: Date.now() }));
    const leftovers = ['step-9.safetensors.tmp-4206442', 'step-9.json.tmp-4206442'].map((f) => path.join(checkpoints, f));
    for (const f of leftovers) fs.writeFileSync(f, '');
    fs.mkdirSync(path.join(dataDir, 'runs', String(id), 'best'), { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'runs', String(id), 'best', 'model.safetensors.tmp-4206442'), '');

    lab = openLab(dataDir);
    try {
      expect(lab.store.runs.get(id)!.status).toBe('failed');
      expect(fs.readdirSync(checkpoints).sort()).toEqual(finished);
      expect(fs.readdirSync(path.join(dataDir, 'runs', String(id), 'best')).filter((f) => /\.tmp-\d+$/.test(f))).toEqual([]);
    } finally {
      lab.close();
    }
  });
});
