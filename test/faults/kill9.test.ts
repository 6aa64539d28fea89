/**
 * Fault group "kill -9": a tiny `stepwise train` run (12 epochs, 48 steps, a
 * few seconds) killed with SIGKILL at a random moment, N times with a fixed
 * seed: during start-up, steps, checkpoint writes, the best/ export or the
 * end; in half the attempts its `--resume` is killed too. After each:
 * `PRAGMA integrity_check` is ok, `stepwise train --resume` finishes the run,
 * its final checkpoint and best model equal an uninterrupted run's byte for
 * byte, no metric step is recorded twice, and nothing is left behind
 * (`*.tmp-PID`, staging folders, owner.json). A kill before the run existed
 * must leave no run and no run folder.
 */
import { seededRandom } from '../fixtures/seeded.ts';
import Database from 'better-sqlite3';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { tinyConfig, writeTinyMult, BATCHES_PER_EPOCH } from '../services/tiny-run.ts';
import { tally } from './counts.ts';

const BIN = fileURLToPath(new URL('../../bin/stepwise.js', import.meta.url));
const SEED = 2323;
const KILLS = 20;
const EPOCHS = 12;
const STEPS = EPOCHS * BATCHES_PER_EPOCH;
const FINAL = `step-${String(STEPS).padStart(7, '0')}.safetensors`;

let work: string;
let config: string;
let reference: { checkpoint: Buffer; best: Buffer };
/** How long the uninterrupted run took here (ms): kills are drawn across it. */
let span: number;
const group = tally('kill -9');


function train(args: string[], dataDir: string) {
  return spawnSync(process.execPath, [BIN, 'train', ...args, '--data-dir', dataDir], { cwd: work, encoding: 'utf8', timeout: 120_000 });
}

/** `stepwise train …` killed with SIGKILL after `ms`; answers whether it had already ended by itself. */
function killedAfter(args: string[], dataDir: string, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'train', ...args, '--data-dir', dataDir], { cwd: work, stdio: 'ignore' });
    let ended = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', (code, signal) => {
      ended = signal === null;
      clearTimeout(timer);
      resolve(ended && code === 0);
    });
  });
}

function integrity(dataDir: string): string {
  const file = path.join(dataDir, 'stepwise.db');
  if (!fs.existsSync(file)) return 'ok';
  const db = new Database(file);
  try {
    return (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
  } finally {
    db.close();
  }
}

/** Files a killed process may leave that a recovered lab must not keep. */
function leftovers(dataDir: string): string[] {
  if (!fs.existsSync(dataDir)) return [];
  return fs
    .readdirSync(dataDir, { recursive: true, withFileTypes: true })
    .map((d) => path.relative(dataDir, path.join(d.parentPath, d.name)))
    .filter((f) => /\.tmp-\d+$/.test(f) || /(^|\/)\.staging-/.test(f) || path.basename(f) === 'owner.json');
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-faults-kill-'));
  const data = await writeTinyMult(path.join(work, 'mult'));
  config = path.join(work, 'tiny.json');
  fs.writeFileSync(config, JSON.stringify(tinyConfig(data, EPOCHS)));
  const ref = path.join(work, 'reference');
  const t0 = performance.now();
  const r = train([config], ref);
  span = performance.now() - t0;
  expect(r.status, r.stderr).toBe(0);
  reference = {
    checkpoint: fs.readFileSync(path.join(ref, 'runs', '1', 'checkpoints', FINAL)),
    best: fs.readFileSync(path.join(ref, 'runs', '1', 'best', 'model.safetensors')),
  };
});

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** Everything wrong with a data folder after its run was killed and resumed, or null. */
function check(dataDir: string): string | null {
  const before = integrity(dataDir);
  if (before !== 'ok') return `integrity_check after the kill: ${before}`;
  const db = fs.existsSync(path.join(dataDir, 'stepwise.db')) ? new Database(path.join(dataDir, 'stepwise.db'), { readonly: true }) : null;
  const run = db?.prepare('SELECT status FROM runs WHERE id = 1').get() as { status: string } | undefined;
  db?.close();
  if (!run) {
    // Killed before the run existed: nothing of it may exist either.
    const runs = path.join(dataDir, 'runs');
    if (fs.existsSync(runs) && fs.readdirSync(runs).length > 0) return `no run row, but runs/ holds ${fs.readdirSync(runs).join(', ')}`;
    return null;
  }
  if (run.status !== 'completed') {
    const resumed = train(['--resume', '1'], dataDir);
    if (resumed.status !== 0) return `--resume exited ${resumed.status}: ${resumed.stderr.slice(-300)}`;
  }
  const after = integrity(dataDir);
  if (after !== 'ok') return `integrity_check after the resume: ${after}`;
  const runDir = path.join(dataDir, 'runs', '1');
  if (!fs.readFileSync(path.join(runDir, 'checkpoints', FINAL)).equals(reference.checkpoint)) return `the final checkpoint differs from the uninterrupted run's`;
  if (!fs.readFileSync(path.join(runDir, 'best', 'model.safetensors')).equals(reference.best)) return `best/model.safetensors differs from the uninterrupted run's`;
  const store = new Database(path.join(dataDir, 'stepwise.db'), { readonly: true });
  try {
    const twice = store.prepare('SELECT key, step, count(*) AS n FROM metrics WHERE run_id = 1 GROUP BY key, step HAVING n > 1').all();
    if (twice.length > 0) return `metric steps recorded twice: ${JSON.stringify(twice).slice(0, 200)}`;
    const steps = (store.prepare("SELECT step FROM metrics WHERE run_id = 1 AND key = 'loss' ORDER BY step").all() as { step: number }[]).map((r) => r.step);
    if (steps.at(-1) !== STEPS || steps.some((s, i) => i > 0 && s <= steps[i - 1]) || steps[0] < 1) return `loss steps ${steps.join(',')}`;
    const status = (store.prepare('SELECT status FROM runs WHERE id = 1').get() as { status: string }).status;
    if (status !== 'completed') return `the run ended ${status}`;
    const checkpointRows = (store.prepare('SELECT count(*) AS n FROM checkpoints WHERE run_id = 1').get() as { n: number }).n;
    const checkpointFiles = fs.readdirSync(path.join(runDir, 'checkpoints')).filter((f) => f.endsWith('.json')).length;
    if (checkpointRows !== checkpointFiles) return `${checkpointRows} checkpoint rows for ${checkpointFiles} checkpoint files`;
  } finally {
    store.close();
  }
  const left = leftovers(dataDir);
  if (left.length > 0) return `left behind: ${left.join(', ')}`;
  return null;
}

describe('kill -9 at random moments of a tiny training run', () => {
  test(`${KILLS} kills with seed ${SEED}: integrity ok, exact resume, no step twice, nothing left`, async () => {
    const next = seededRandom(SEED);
    for (let i = 0; i < KILLS; i++) {
      const dataDir = path.join(work, `kill-${i}`);
      // Anywhere from start-up to just past the end (the last checkpoint and best/ export come last).
      const ms = Math.round(100 + next() * span);
      const finished = await killedAfter([config], dataDir, ms);
      let what = `kill ${i + 1} after ${ms} ms${finished ? ' (it had finished)' : ''}`;
      if (next() < 0.5 && !finished && fs.existsSync(path.join(dataDir, 'runs', '1'))) {
        const again = Math.round(100 + next() * span * 0.8);
        const resumedToEnd = await killedAfter(['--resume', '1'], dataDir, again);
        what += `, its --resume killed after ${again} ms${resumedToEnd ? ' (it had finished)' : ''}`;
      }
      let problem: string | null;
      try {
        problem = check(dataDir);
      } catch (error) {
        problem = `the check failed: ${(error as Error).message}`;
      }
      group.attempt(what, problem);
      process.stdout.write(`kill -9: ${what}: ${problem ?? 'recovered'}\n`);
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
    expect(group.counts.attempts).toBe(KILLS);
  });

  test('every killed run recovered', () => {
    expect(group.write()).toEqual([]);
  });
});
