/**
 * scripts/bitune-experiment.ts as a person runs it: a grid of tiny Bitune and
 * LoRA runs into a real data folder, one line per run, Ctrl-C ending the grid
 * after cancelling the current run, and the same command again skipping the
 * runs completed and printing the table of the whole grid.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { openStore } from '../../src-main/store/store.ts';
import { DATABASE_FILE } from '../../src-main/services/paths.ts';

const SCRIPT = path.resolve(import.meta.dirname, '../../scripts/bitune-experiment.ts');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-bitune-grid-'));
const args = ['--data-dir', dataDir, '--tasks', 'choice-late', '--methods', 'lora,bitune', '--seeds', '1-2', '--train', '32', '--test', '8', '--epochs', '1', '--layers', '1', '--dim', '16', '--heads', '2'];

afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

/** Runs the script; `interruptAfter` sends Ctrl-C (SIGINT) once stderr has that many finished-run lines. */
function grid(extra: string[] = [], interruptAfter?: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SCRIPT, ...args, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (interruptAfter !== undefined && !interrupted && (stderr.match(/^\[\d+\/4\]/gm) ?? []).length >= interruptAfter) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the Bitune experiment grid', () => {
  test('runs tasks × methods × seeds, ends on Ctrl-C after cancelling the current run, and continues where it ended', async () => {
    const first = await grid([], 1);
    expect(first.code, first.stderr).toBe(130);
    expect(first.stderr).toContain(`4 runs (choice-late × lora, bitune × lora × seeds 1, 2), 2 steps each, in ${dataDir}`);
    expect(first.stderr).toMatch(/^\[1\/4\] choice-late · LoRA · seed 1: run 1 completed, test accuracy \d+\.\d%/m);
    expect(first.stderr).toContain('Cancelling');
    expect(first.stdout).toMatch(/^[12] of 4 runs completed/m);
    expect(first.stderr).not.toContain('[4/4]');

    const second = await grid();
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain('[1/4] choice-late · LoRA · seed 1: run 1 already completed, skipped');
    expect(second.stdout).toContain('4 of 4 runs completed');
    expect(second.stdout).toContain(`npx stepwise results --data-dir ${dataDir}`);
    const lines = second.stdout.split('\n');
    expect(lines[0]).toBe('fresh 1×16 · choice-late-32-8/train.jsonl · 1 epochs × batch 16');
    expect(lines.find((l) => l.startsWith('Bitune − LoRA'))).toMatch(/^Bitune − LoRA +2 /);

    const store = openStore(path.join(dataDir, DATABASE_FILE));
    try {
      const runs = store.runs.list({ limit: 100, offset: 0 }).items;
      const completed = runs.filter((r) => r.status === 'completed').map((r) => r.name).sort();
      expect(completed).toEqual(['choice-late · Bitune · seed 1', 'choice-late · Bitune · seed 2', 'choice-late · LoRA · seed 1', 'choice-late · LoRA · seed 2']);
      expect(runs.filter((r) => r.status === 'cancelled').length).toBeLessThanOrEqual(1);
    } finally {
      store.close();
    }
  }, 240_000);

  test('refuses a task, method or seed it does not know, naming the option', async () => {
    const bad = await grid(['--tasks', 'riddles']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('bitune-experiment: --tasks: "riddles" is not one of late, lookup, choice, choice-late\n');
    const seeds = await grid(['--seeds', 'one']);
    expect(seeds.stderr).toBe('bitune-experiment: --seeds expects whole numbers or ranges such as 1,2,3 or 1-10 (got "one")\n');
  }, 60_000);
});
