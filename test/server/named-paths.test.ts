/**
 * Issue 23, finding 1: no call can block the server. Every procedure that
 * takes a path, over a real `stepwise serve` server, given a FIFO, /dev/zero,
 * a folder (or, where a folder is expected, a file), a symlink loop and a
 * file over its kind's limit: each answers a typed invalid_input naming the
 * path within a second, while app.info keeps answering and no row is added.
 * Before the fix, the FIFO hung the whole server until something wrote to it.
 */
import { startLabServer } from '../fixtures/lab-server.ts';
import { makeBadPaths } from '../fixtures/bad-paths.ts';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { CallResult } from '../../src-main/contract/client.ts';
import { INPUT_LIMITS } from '../../src-main/methods/input-file.ts';
import type { RunningServer } from '../../src-main/server/server.ts';
import type { Lab } from '../../src-main/services/lab.ts';
import { tinyConfig, writeTinyMult } from '../services/tiny-run.ts';

let work: string;
let lab: Lab;
let server: RunningServer;
let data: { train: string; valid: string; test: string };
const bad: Record<string, string> = {};

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-named-paths-'));
  data = await writeTinyMult(path.join(work, 'mult'));
  ({ lab, server } = await startLabServer(work));

  Object.assign(bad, makeBadPaths(work));
  // Where a folder is expected: a file, and folders holding a FIFO, a device link and too many bytes.
  bad.file = data.train;
  bad.fifoInside = path.join(work, 'fifo-inside');
  fs.mkdirSync(bad.fifoInside);
  expect(spawnSync('mkfifo', [path.join(bad.fifoInside, 'config.json')]).status).toBe(0);
  bad.deviceInside = path.join(work, 'device-inside');
  fs.mkdirSync(bad.deviceInside);
  fs.symlinkSync('/dev/zero', path.join(bad.deviceInside, 'model.safetensors'));
  bad.hugeInside = path.join(work, 'huge-inside');
  fs.mkdirSync(bad.hugeInside);
  fs.writeFileSync(path.join(bad.hugeInside, 'config.json'), '{}');
  fs.closeSync(fs.openSync(path.join(bad.hugeInside, 'model.safetensors'), 'w'));
  fs.truncateSync(path.join(bad.hugeInside, 'model.safetensors'), INPUT_LIMITS['model folder'] + 1);
});

afterAll(async () => {
  await server?.close();
  lab?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

async function call(name: string, input: unknown): Promise<{ status: number; body: CallResult }> {
  const response = await fetch(`http://127.0.0.1:${server.port}/api/call/${name}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(input),
  });
  return { status: response.status, body: (await response.json()) as CallResult };
}

/** The call's answer, or 'blocked' when it (or app.info beside it) has not answered within a second. */
async function withinASecond(name: string, input: unknown): Promise<{ status: number; body: CallResult; info: number } | 'blocked'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<'blocked'>((resolve) => (timer = setTimeout(() => resolve('blocked'), 1000)));
  const answer = call(name, input);
  // app.info is asked after the call has reached the server: it must answer too.
  const info = new Promise((r) => setTimeout(r, 50)).then(() => call('app.info', {}));
  const both = Promise.all([answer, info]).then(([a, i]) => ({ ...a, info: i.status }));
  const result = await Promise.race([both, deadline]);
  clearTimeout(timer);
  return result;
}

const counts = () => ({ runs: lab.store.runs.count(), datasets: lab.store.datasets.list(1000, 0).total, models: lab.store.models.list(1000, 0).total });

/** Procedures taking a file, each with the path put where it goes. */
const FILE_CALLS: Record<string, (p: string) => unknown> = {
  'datasets.import': (p) => ({ path: p, name: 'x' }),
  'datasets.generateMult': (p) => ({ digitsA: 2, digitsB: 2, counts: { train: 4, valid: 0, test: 0 }, seed: 1, excludePaths: [p], name: 'x' }),
  'finetune.importTask': (p) => ({ path: p, name: 'x', answerType: 'text' }),
  'probes.estimate': (p) => ({ source: { runId: 1 }, data: { file: p } }),
  'probes.start': (p) => ({ source: { runId: 1 }, data: { file: p } }),
  'runs.start': (p) => ({ method: 'icot-si', name: 'x', config: tinyConfig({ train: p, valid: data.valid }) }),
};
/** Procedures taking a folder. */
const FOLDER_CALLS: Record<string, (p: string) => unknown> = {
  'models.import': (p) => ({ path: p }),
  'probes.estimate': (p) => ({ source: { dir: p }, data: { text: '1 2 * 3 4' } }),
  'probes.start': (p) => ({ source: { dir: p }, data: { text: '1 2 * 3 4' } }),
  'runs.start': (p) => ({ method: 'icot-si', name: 'x', config: { ...tinyConfig(data), model: { kind: 'folder', path: p } } }),
};

/** What each bad path is said to be. */
const SAID: Record<string, RegExp> = {
  fifo: /named pipe \(FIFO\)/,
  device: /is a device/,
  folder: /is a folder, expected a (file of examples|task file|probe data file)/,
  loop: /loop of symbolic links/,
  huge: /is 2 GiB \(2147483649 bytes\), more than the (2 GiB a file of examples|256 MiB a probe data file|256 MiB a task file) may have/,
  file: /is a file, expected a folder|found a file/,
  fifoInside: /config\.json: is a named pipe \(FIFO\); a model folder may hold only regular files and folders/,
  deviceInside: /model\.safetensors: is a device; a model folder may hold only regular files and folders/,
  hugeInside: /holds more than the 64 GiB a model folder may have/,
};

describe('a path that is not a readable file of the right size is refused at once, and the server keeps answering', () => {
  for (const [name, input] of Object.entries(FILE_CALLS)) {
    test.each(['fifo', 'device', 'folder', 'loop', 'huge'])(`${name} given a %s`, async (kind) => {
      const before = counts();
      const answer = await withinASecond(name, input(bad[kind]));
      expect(answer).not.toBe('blocked');
      if (answer === 'blocked') return;
      expect([answer.status, answer.info, answer.body.ok]).toEqual([400, 200, false]);
      if (answer.body.ok) return;
      expect(answer.body.error.code).toBe('invalid_input');
      expect(answer.body.error.message).toContain(bad[kind]);
      expect(answer.body.error.message).toMatch(SAID[kind]);
      expect(counts()).toEqual(before);
    });
  }
  for (const [name, input] of Object.entries(FOLDER_CALLS)) {
    test.each(['fifo', 'device', 'file', 'loop', 'fifoInside', 'deviceInside', 'hugeInside'])(`${name} given a %s for its folder`, async (kind) => {
      const before = counts();
      const answer = await withinASecond(name, input(bad[kind]));
      expect(answer).not.toBe('blocked');
      if (answer === 'blocked') return;
      expect([answer.status, answer.info, answer.body.ok]).toEqual([400, 200, false]);
      if (answer.body.ok) return;
      expect(answer.body.error.code).toBe('invalid_input');
      expect(answer.body.error.message).toContain(bad[kind]);
      expect(answer.body.error.message).toMatch(kind === 'fifo' ? /named pipe \(FIFO\), expected a folder/ : kind === 'device' ? /is a device, expected a folder/ : SAID[kind]);
      expect(counts()).toEqual(before);
    });
  }
  test('no staging folder is left in the data folder', () => {
    const datasets = path.join(lab.dataDir, 'datasets');
    const models = path.join(lab.dataDir, 'models');
    const left = [datasets, models].flatMap((d) => (fs.existsSync(d) ? fs.readdirSync(d) : []));
    expect(left).toEqual([]);
    expect(fs.existsSync(path.join(lab.dataDir, 'runs')) ? fs.readdirSync(path.join(lab.dataDir, 'runs')) : []).toEqual([]);
  });
});
