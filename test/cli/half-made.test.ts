/**
 * Issue 23, findings 5, 8 and 9 through `stepwise train`: a model folder
 * whose weights do not load, data whose contents are bad, a config nested
 * 5000 deep, with bytes that are not UTF-8 or with a `__proto__` key each
 * exit 2 with what was expected and where, and leave no run row and no run
 * folder. Before, the first two left a 'failed' run and an empty runs/<id>/
 * (28 of 28 attempts), and the deep config said "Maximum call stack size
 * exceeded".
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { gpt2ConfigToHf } from '../../src-main/engine/hf/gpt2-folder.ts';
import { openLab } from '../../src-main/services/lab.ts';
import { tinyConfig, writeTinyMult } from '../services/tiny-run.ts';

const BIN = fileURLToPath(new URL('../../bin/stepwise.js', import.meta.url));

let work: string;
let dataDir: string;
let data: { train: string; valid: string; test: string };

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-half-made-'));
  dataDir = path.join(work, 'lab');
  data = await writeTinyMult(path.join(work, 'mult'));
});

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function train(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, 'train', ...args, '--data-dir', dataDir], { cwd: work, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  return { code: r.status, stderr: r.stderr };
}

function writeConfig(name: string, text: string | Buffer): string {
  const file = path.join(work, name);
  fs.writeFileSync(file, text);
  return file;
}

/** Nothing was made: no run row, no run folder. */
function expectNothingMade(): void {
  if (fs.existsSync(path.join(dataDir, 'stepwise.db'))) {
    const lab = openLab(dataDir);
    try {
      expect(lab.store.runs.count()).toBe(0);
    } finally {
      lab.close();
    }
  }
  expect(fs.existsSync(path.join(dataDir, 'runs')) ? fs.readdirSync(path.join(dataDir, 'runs')) : []).toEqual([]);
}

describe('stepwise train checks the model and the data before the run exists', () => {
  test('--model naming a folder whose safetensors is corrupt exits 2 naming the file, and makes nothing', () => {
    const folder = path.join(work, 'corrupt-model');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, 'config.json'), JSON.stringify(gpt2ConfigToHf({ vocabSize: 16, nPositions: 32, nEmbd: 8, nLayer: 1, nHead: 2, layerNormEpsilon: 1e-5 })));
    fs.writeFileSync(path.join(folder, 'model.safetensors'), Buffer.from('this is not a safetensors file at all'));
    const config = writeConfig('tiny.json', JSON.stringify(tinyConfig(data, 1)));
    const r = train([config, '--model', folder]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^stepwise train: ${config} is not a valid ICoT-SI run configuration:\n  ${path.join(folder, 'model.safetensors')}: header length \\d+ does not fit in 37 bytes`));
    expectNothingMade();
  });

  test('a data file with a bad line exits 2 naming the file and line, and makes nothing', () => {
    const bad = path.join(work, 'bad-train.txt');
    const lines = fs.readFileSync(data.train, 'utf8').split('\n');
    lines[2] = 'this line has no separator';
    fs.writeFileSync(bad, lines.join('\n'));
    const config = writeConfig('bad-data.json', JSON.stringify(tinyConfig({ ...data, train: bad }, 1)));
    const r = train([config]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${bad}:3: expected one '||' between the input and the chain of thought`);
    expectNothingMade();
  });

  test('a data file with a byte that is not UTF-8 exits 2 naming its line, and makes nothing', () => {
    const bad = path.join(work, 'latin1-train.txt');
    const lines = fs.readFileSync(data.train, 'utf8').split('\n');
    fs.writeFileSync(bad, Buffer.concat([Buffer.from(`${lines.slice(0, 4).join('\n')}\n`), Buffer.from([0xff, 0xfe]), Buffer.from(`${lines.slice(4).join('\n')}`)]));
    const config = writeConfig('latin1-data.json', JSON.stringify(tinyConfig({ ...data, train: bad }, 1)));
    const r = train([config]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${bad}:5: expected valid UTF-8 text (save the file as UTF-8)`);
    expectNothingMade();
  });

  test('a config nested 5000 deep exits 2 saying so, not "Maximum call stack size exceeded"', () => {
    const config = writeConfig('deep.json', `{"model":${'['.repeat(5000)}${']'.repeat(5000)}}`);
    const r = train([config]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`stepwise train: ${config} nests deeper than 64 levels of arrays and objects; a run config nests about 4\n`);
    expectNothingMade();
  });

  test('a config that is not UTF-8 exits 2 naming its line', () => {
    const config = writeConfig('latin1.json', Buffer.concat([Buffer.from('{\n"recipe": "caf'), Buffer.from([0xe9]), Buffer.from('"\n}')]));
    const r = train([config]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`stepwise train: the config ${config}:2: is not valid UTF-8 text (save the file as UTF-8)\n`);
    expectNothingMade();
  });

  test('a config holding __proto__ is refused, not silently dropped', () => {
    const text = JSON.stringify(tinyConfig(data, 1)).replace('"model":{', '"model":{"__proto__":{"layers":64},');
    const config = writeConfig('proto.json', text);
    const r = train([config]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`stepwise train: ${config} is not a valid ICoT-SI run configuration:\n  model.__proto__: the key "__proto__" is not allowed (it names a JavaScript object's internals, not a setting)\n`);
    expectNothingMade();
  });
});
