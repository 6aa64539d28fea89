/** `stepwise data mult` and `stepwise data import`, run as a user runs them. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { main } from '../../src-main/cli/main.ts';
import { formatLine, parseLine, readExamples } from '../../src-main/methods/shared/examples.ts';
import { generateMult, parseMultInput } from '../../src-main/methods/icot/mult.ts';

const BIN = fileURLToPath(new URL('../../bin/stepwise.js', import.meta.url));
const ICOT = path.resolve(import.meta.dirname, '../../../shared/data/icot');

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-data-cli-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function stepwise(args: string[]) {
  const { STEPWISE_DATA_DIR: _, ...env } = process.env;
  const result = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('stepwise data mult', () => {
  test('--count writes one split to the file: the generator’s lines for that seed, none of the excluded pairs', () => {
    const out = path.join(tmp, 'train.txt');
    const exclude = path.join(ICOT, '4_by_4_mult/test.txt');
    const { code, stdout, stderr } = stepwise(['data', 'mult', '--digits', '4x4', '--count', '500', '--seed', '3', '--out', out, '--exclude', exclude]);
    expect([code, stderr]).toEqual([0, '']);
    expect(stdout).toBe(`Wrote 500 train examples of 4×4 multiplication to ${out}\n`);
    const lines = fs.readFileSync(out, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    const excluded = new Set(readExamples(exclude).map((ex) => ex.input));
    const expected = [...generateMult({ digitsA: 4, digitsB: 4, counts: { train: 500, valid: 0, test: 0 }, seed: 3, exclude: excluded })].map((g) => formatLine(g.example));
    expect(lines).toEqual(expected);
    for (const line of lines) expect(parseMultInput(parseLine(line).input)!.a).toHaveLength(4);
  });

  test('--splits writes train/valid/test into a folder, from counts or from ratios of --count', () => {
    const dir = path.join(tmp, 'splits');
    expect(stepwise(['data', 'mult', '--digits', '3x2', '--splits', 'train=50,valid=5,test=5', '--out', dir]).code).toBe(0);
    expect(fs.readdirSync(dir).sort()).toEqual(['test.txt', 'train.txt', 'valid.txt']);
    expect(readExamples(path.join(dir, 'valid.txt'))).toHaveLength(5);
    const ratios = path.join(tmp, 'ratios');
    const { code, stdout } = stepwise(['data', 'mult', '--digits', '2x2', '--count', '101', '--splits', 'train=0.8,valid=0.1,test=0.1', '--out', ratios]);
    expect(code).toBe(0);
    expect(stdout).toContain('Wrote 81 train examples');
    expect(stdout).toContain('Wrote 10 valid examples');
    expect(stdout).toContain('Wrote 10 test examples');
  });

  test('--digits 4by4 exits 2 naming the flag and the expected form, and writes nothing', () => {
    const out = path.join(tmp, 'x.txt');
    const { code, stdout, stderr } = stepwise(['data', 'mult', '--digits', '4by4', '--count', '10', '--out', out]);
    expect([code, stdout]).toEqual([2, '']);
    expect(stderr).toBe('stepwise data mult: --digits expects AxB with A and B from 1 to 30, e.g. 4x4 (got "4by4"). Run `stepwise data mult --help` for its options.\n');
    expect(fs.existsSync(out)).toBe(false);
  });

  test('other bad flags exit 2 and say what was expected', async () => {
    const out = path.join(tmp, 'x.txt');
    const cases: [string[], string][] = [
      [['--digits', '4x4', '--out', out], 'give --count N (one file) or --splits train=N,valid=N,test=N (a folder of splits)'],
      [['--digits', '4x4', '--count', 'ten', '--out', out], '--count expects an integer from 1 to 100000000 (got "ten")'],
      [['--digits', '4x4', '--count', '5', '--split', 'dev', '--out', out], '--split expects one of train, valid, test (got "dev")'],
      [['--digits', '4x4', '--count', '5'], '--out is required'],
      [['--digits', '1x1', '--count', '82', '--out', out], '82 examples were asked for, but there are only 81 distinct 1×1 pairs'],
      [['--digits', '4x4', '--splits', 'train=5,dev=1', '--out', tmp], '--splits expects train=N,valid=N,test=N (got "train=5,dev=1")'],
      [['--digits', '4x4', '--count', '5', '--splits', 'train=0.5,test=0.4', '--out', tmp], '--splits ratios must sum to 1'],
      [['--digits', '4x4', '--count', '5', '--seed', '-1', '--out', out], "--seed"],
    ];
    // In process (the exit-code path through bin/ is covered above): capture what main writes to stderr.
    let stderr = '';
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      stderr += String(chunk);
      return true;
    });
    try {
      for (const [args, message] of cases) {
        stderr = '';
        expect(await main(['data', 'mult', ...args]), args.join(' ')).toBe(2);
        expect(stderr).toContain(message);
      }
    } finally {
      spy.mockRestore();
    }
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe('stepwise data import', () => {
  test('imports a file into the library and says what it stored', () => {
    const dataDir = path.join(tmp, 'data');
    const { code, stdout, stderr } = stepwise(['data', 'import', path.join(ICOT, 'gsm8k/valid.txt'), '--name', 'GSM8K valid', '--split', 'valid', '--data-dir', dataDir, '--json']);
    expect([code, stderr]).toEqual([0, '']);
    const dataset = JSON.parse(stdout);
    expect(dataset).toMatchObject({ id: 1, name: 'GSM8K valid', kind: 'gsm8k-aug', splitCounts: { valid: 500 }, path: 'datasets/1' });
    expect(fs.readFileSync(path.join(dataDir, 'datasets/1/valid.txt'), 'utf8')).toBe(fs.readFileSync(path.join(ICOT, 'gsm8k/valid.txt'), 'utf8'));
  });

  test('--into adds the file as a split the dataset lacks; a split it has exits 1, a bad id 2', () => {
    const dataDir = path.join(tmp, 'data');
    expect(stepwise(['data', 'import', path.join(ICOT, 'gsm8k/valid.txt'), '--name', 'GSM8K', '--data-dir', dataDir]).code).toBe(0);
    const added = stepwise(['data', 'import', path.join(ICOT, 'gsm8k/test.txt'), '--split', 'test', '--into', '1', '--data-dir', dataDir]);
    expect([added.code, added.stderr]).toEqual([0, '']);
    expect(added.stdout).toMatch(/^Imported \d+ test examples as dataset 1 "GSM8K" \(gsm8k-aug, sha256 [0-9a-f]{12}…\)\n$/);
    expect(fs.readdirSync(path.join(dataDir, 'datasets/1')).sort()).toEqual(['test.txt', 'train.txt']);
    const again = stepwise(['data', 'import', path.join(ICOT, 'gsm8k/test.txt'), '--split', 'test', '--into', '1', '--data-dir', dataDir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^stepwise data import: GSM8K already has a test split \(\d+ examples\)\n$/);
    expect(stepwise(['data', 'import', path.join(ICOT, 'gsm8k/test.txt'), '--into', 'one', '--data-dir', dataDir])).toMatchObject({ code: 2, stderr: expect.stringContaining('--into expects a dataset id (got "one")') });
  });

  test('a bad line exits 1 naming file and line; a missing FILE exits 2', () => {
    const bad = path.join(tmp, 'bad.txt');
    fs.writeFileSync(bad, '1 * 2||2 0 #### 2 0\n1 * 2||2 0 ####\n');
    const dataDir = path.join(tmp, 'data');
    const { code, stderr } = stepwise(['data', 'import', bad, '--data-dir', dataDir]);
    expect(code).toBe(1);
    expect(stderr).toBe(`stepwise data import: ${bad}:2: expected an answer after '####' in "1 * 2||2 0 ####"\n`);
    expect(fs.readdirSync(path.join(dataDir, 'datasets'))).toEqual([]);
    const missing = stepwise(['data', 'import', '--data-dir', dataDir]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('stepwise data import: expected FILE, got nothing');
  });
});
