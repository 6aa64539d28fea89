/**
 * Issue 23, finding 1, for the CLI: every command that takes a file or a
 * folder, given a FIFO, /dev/zero, a folder, a symlink loop or a file over its
 * limit, exits at once (2, or 1 where the library answers) with a message that
 * names the path and what it is, and creates nothing. Before the fix a FIFO
 * hung `stepwise train` and `data import` until something wrote to it.
 */
import { makeBadPaths } from '../fixtures/bad-paths.ts';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openLab } from '../../src-main/services/lab.ts';
import { tinyConfig, writeTinyMult } from '../services/tiny-run.ts';

const BIN = fileURLToPath(new URL('../../bin/stepwise.js', import.meta.url));

let work: string;
let dataDir: string;
let config: string;
const bad: Record<string, string> = {};

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-cli-paths-'));
  dataDir = path.join(work, 'lab');
  const data = await writeTinyMult(path.join(work, 'mult'));
  config = path.join(work, 'tiny.json');
  fs.writeFileSync(config, JSON.stringify(tinyConfig(data, 1)));
  Object.assign(bad, makeBadPaths(work));
});

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function stepwise(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args, '--data-dir', dataDir], { cwd: work, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
  return { code: r.status, signal: r.signal, stderr: r.stderr };
}

const SAID: Record<string, RegExp> = {
  fifo: /is a named pipe \(FIFO\), expected/,
  device: /is a device, expected/,
  folder: /is a folder, expected/,
  loop: /is a loop of symbolic links/,
  huge: /\(2147483649 bytes\), more than the/,
};

const COMMANDS: Record<string, (p: string) => string[]> = {
  'train CONFIG': (p) => ['train', p],
  'data import FILE': (p) => ['data', 'import', p, '--name', 'x'],
  'data mult --exclude FILE': (p) => ['data', 'mult', '--digits', '2x2', '--count', '4', '--out', path.join(work, 'out.txt'), '--exclude', p],
  'ftcot task FILE': (p) => ['ftcot', 'task', p, '--answer-type', 'text', '--name', 'x'],
};

describe('a CLI command given a path that is not a readable file exits at once, naming it', () => {
  for (const [command, args] of Object.entries(COMMANDS)) {
    test.each(Object.keys(SAID))(`${command} with a %s`, (kind) => {
      const r = stepwise(args(bad[kind]));
      expect(r.signal).toBeNull(); // not killed by the 20 s timeout: it did not hang
      expect([1, 2]).toContain(r.code);
      expect(r.stderr).toContain(bad[kind]);
      expect(r.stderr).toMatch(SAID[kind]);
      expect(r.stderr.length).toBeLessThan(3000);
    });
  }

  test.each(['fifo', 'device', 'loop'])('train CONFIG --model with a %s exits 2 naming it, and creates no run', (kind) => {
    const r = stepwise(['train', config, '--model', bad[kind]]);
    expect([r.signal, r.code]).toEqual([null, 2]);
    expect(r.stderr).toContain(bad[kind]);
    expect(r.stderr).toMatch(kind === 'loop' ? SAID.loop : kind === 'fifo' ? /is a named pipe \(FIFO\), expected a folder/ : /is a device, expected a folder/);
  });

  const FOLDER_COMMANDS: Record<string, (p: string) => string[]> = {
    'eval --model DIR': (p) => ['eval', '--model', p, '--data', path.join(work, 'mult', 'valid.txt')],
    'probe --model DIR': (p) => ['probe', '--model', p, '--data', path.join(work, 'mult', 'valid.txt')],
  };
  for (const [command, args] of Object.entries(FOLDER_COMMANDS)) {
    test.each(['fifo', 'device', 'loop'])(`${command} with a %s exits at once naming it`, (kind) => {
      const r = stepwise(args(bad[kind]));
      expect(r.signal).toBeNull();
      expect([1, 2]).toContain(r.code);
      expect(r.stderr).toContain(bad[kind]);
      expect(r.stderr).toMatch(kind === 'loop' ? SAID.loop : kind === 'fifo' ? /is a named pipe \(FIFO\), expected a folder/ : /is a device, expected a folder/);
    });
  }

  test('nothing was created: no run, no dataset, no output file', () => {
    const lab = openLab(dataDir);
    try {
      expect([lab.store.runs.count(), lab.store.datasets.list(100, 0).total]).toEqual([0, 0]);
    } finally {
      lab.close();
    }
    expect(fs.existsSync(path.join(work, 'out.txt'))).toBe(false);
  });
});
