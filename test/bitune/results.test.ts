/**
 * The LoRA-vs-Bitune table (adapters.results, and `stepwise results`' text)
 * from rows written straight into a real store: runs compare within a group
 * of runs that differ only in method or seed, where library datasets are told
 * apart by name even when their files share a name; files evaluated after
 * training get their own columns; each method is summarised over its seeds
 * (mean, spread, bootstrap interval) and set against its baseline over the
 * seeds both have.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatResults } from '../../src-main/cli/commands/results.ts';
import type { AdapterOutputs } from '../../src-main/contract/areas/adapters.ts';
import type { JsonObject } from '../../src-main/contract/entities.ts';
import { openLab, type Lab } from '../../src-main/services/lab.ts';

type Table = AdapterOutputs['adapters.results'];

async function results(lab: Lab, input: object = {}): Promise<Table> {
  const answer = await lab.dispatch('adapters.results', input);
  if (!answer.ok) throw new Error(answer.error.message);
  return answer.result as Table;
}

describe('the LoRA-vs-Bitune table', () => {
  let dir: string;
  let lab: Lab;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-bitune-results-'));
    lab = openLab(dir);
    const { store } = lab;
    const dataset = (name: string) => store.datasets.add({ name, kind: 'jsonl', contentHash: name, splitCounts: { train: 64 }, path: `datasets/staged-${name}`, preview: [] });
    const [alpaca, gsm] = [dataset('alpaca-small'), dataset('gsm8k-aug')];
    const run = (method: 'lora' | 'bitune', datasetId: number, values: Record<string, number>) => {
      const r = store.runs.create({ method, name: `${method} on ${datasetId}`, config: { method, model: { kind: 'folder', path: '/models/SmolLM2-135M' }, data: { train: `datasets/${datasetId}/train.jsonl` }, train: { epochs: 3, batchSize: 8 }, ...(method === 'bitune' ? { bitune: { ablation: 'no-mixing', sInit: 0.01 } } : {}) } });
      store.runs.setStatus(r.id, 'completed');
      store.metrics.record(r.id, 24, { loss: 1, ...values });
      return r;
    };
    run('lora', alpaca.id, { test_accuracy: 0.25, 'eval_acc.gsm-test': 0.1 });
    run('bitune', alpaca.id, { test_accuracy: 0.3, 'mc_acc.piqa': 0.6, 'mc_acc_norm.piqa': 0.62 });
    run('bitune', gsm.id, { test_accuracy: 0.05, alpha_k_0: 0.7, alpha_k_1: 0.4, alpha_v_0: 0.5, alpha_v_1: 0.5 });
  });
  afterAll(() => {
    lab?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('groups runs by base, library dataset and budget, with every stored figure', async () => {
    const table = await results(lab);
    expect(table.rows.map((r) => [r.runId, r.group])).toEqual([
      [1, 'SmolLM2-135M · alpaca-small (train) · 3 epochs × batch 8'],
      [2, 'SmolLM2-135M · alpaca-small (train) · 3 epochs × batch 8'],
      [3, 'SmolLM2-135M · gsm8k-aug (train) · 3 epochs × batch 8'],
    ]);
    expect(table.evalFiles).toEqual(['gsm-test']);
    expect(table.choiceFiles).toEqual(['piqa']);
    expect(table.metrics).toEqual(['test_accuracy', 'eval_acc.gsm-test', 'mc_acc.piqa', 'mc_acc_norm.piqa']);
    expect(table.rows[0]).toMatchObject({ method: 'lora', peft: 'lora', arm: 'LoRA', seed: '0', ablation: null, testAccuracy: 0.25, evals: { 'gsm-test': 0.1 }, choices: {}, steps: 24 });
    expect(table.rows[1]).toMatchObject({ method: 'bitune', arm: 'Bitune (no-mixing)', ablation: 'no-mixing', prefillMask: 'bidirectional', choices: { piqa: { acc: 0.6, accNorm: 0.62 } }, evals: {} });
    expect(table.rows[2]).toMatchObject({ alphaK: [0.7, 0.4], alphaV: [0.5, 0.5] });

    expect(formatResults(table).split('\n')).toEqual([
      'SmolLM2-135M · alpaca-small (train) · 3 epochs × batch 8',
      'run  name         method  peft  variant                                seed  steps  test acc  gsm-test acc  piqa acc  piqa acc_norm  final α (keys)',
      '---  -----------  ------  ----  -------------------------------------  ----  -----  --------  ------------  --------  -------------  --------------',
      '  1  lora on 1      LoRA  lora  —                                         0     24     25.0%         10.0%         —              —  —',
      '  2  bitune on 1  Bitune  lora  no-mixing, s_init 0.01, bidirectional     0     24     30.0%             —     60.0%          62.0%  —',
      '',
      'test acc over seeds  seeds   mean  sd  min … max  95% bootstrap CI',
      '-------------------  -----  -----  --  ---------  ----------------',
      'LoRA                     1  25.0%   —      25.0%                 —',
      'Bitune (no-mixing)       1  30.0%   —      30.0%                 —',
      '',
      'paired difference (points)  seeds  mean  sd  min … max  95% bootstrap CI  higher / lower  verdict',
      '--------------------------  -----  ----  --  ---------  ----------------  --------------  --------',
      'Bitune (no-mixing) − LoRA       1  +5.0   —       +5.0                 —           1 / 0  one seed',
      '',
      'SmolLM2-135M · gsm8k-aug (train) · 3 epochs × batch 8',
      'run  name         method  peft  variant                                seed  steps  test acc  gsm-test acc  piqa acc  piqa acc_norm  final α (keys)',
      '---  -----------  ------  ----  -------------------------------------  ----  -----  --------  ------------  --------  -------------  --------------',
      '  3  bitune on 2  Bitune  lora  no-mixing, s_init 0.01, bidirectional     0     24      5.0%             —         —              —  0.700 0.400',
      '',
      'test acc over seeds  seeds  mean  sd  min … max  95% bootstrap CI',
      '-------------------  -----  ----  --  ---------  ----------------',
      'Bitune (no-mixing)       1  5.0%   —       5.0%                 —',
      '',
    ]);
  });
});

describe('runs that differ only in method or seed', () => {
  let dir: string;
  let lab: Lab;
  const late = { model: { kind: 'fresh', layers: 2, dim: 64 }, data: { train: '/data/late/train.jsonl', test: '/data/late/test.jsonl' }, train: { epochs: 6, batchSize: 16, lr: 0.003 } };
  const ids: Record<string, number> = {};

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-bitune-seeds-'));
    lab = openLab(dir);
    const { store } = lab;
    const run = (name: string, method: 'lora' | 'bitune', seed: number, accuracy: number | null, extra: JsonObject = {}) => {
      const config: JsonObject = {
        method, ...late, ...extra,
        model: { ...late.model, seed }, lora: { r: 8, seed, ...(extra.lora as JsonObject | undefined) }, train: { ...late.train, seed, ...(extra.train as JsonObject | undefined) },
      };
      const r = store.runs.create({ method, name, config });
      store.runs.setStatus(r.id, accuracy === null ? 'running' : 'completed');
      store.metrics.record(r.id, 192, { loss: 2.3 });
      if (accuracy !== null) store.metrics.record(r.id, 192, { test_accuracy: accuracy, 'mc_acc.choices': accuracy - 0.01 });
      ids[name] = r.id;
    };
    // LoRA and Bitune over seeds 1–3: Bitune 3 to 5 points higher on every seed, with 16 points between seeds.
    run('lora s1', 'lora', 1, 0.4);
    run('bitune s1', 'bitune', 1, 0.44, { bitune: { ablation: 'full' } });
    run('lora s2', 'lora', 2, 0.31);
    run('bitune s2', 'bitune', 2, 0.36, { runtime: { threads: 2 } }); // how many threads computed it does not split the group
    run('lora s3', 'lora', 3, 0.47);
    run('bitune s3', 'bitune', 3, 0.5);
    run('bitune s3 again', 'bitune', 3, 0.52); // a rerun of seed 3 counts once, as the mean of its runs
    run('bitune s4', 'bitune', 4, null); // still running: no test accuracy yet
    // DoRA (the PEFT type, stored as the config's `peft`) on two seeds, and Bitune on DoRA on one.
    run('dora s1', 'lora', 1, 0.38, { peft: 'dora' });
    run('dora s2', 'lora', 2, 0.35, { peft: 'dora' });
    run('bitune dora s1', 'bitune', 1, 0.41, { peft: 'dora' });
    // The same but for the learning rate: a group of its own; its caption says what differs.
    run('lora lr 1e-3', 'lora', 1, 0.2, { train: { lr: 0.001 } });
    // Another data file: another group.
    run('lora other data', 'lora', 1, 0.6, { data: { train: '/data/copy/train.jsonl', test: '/data/late/test.jsonl' }, lora: { seed: 0 } });
  });
  afterAll(() => {
    lab?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('share one group whatever their method, PEFT type, seed or thread count, and a different learning rate or data file makes another', async () => {
    const table = await results(lab);
    const byGroup = new Map<string, string[]>();
    for (const r of table.rows) byGroup.set(r.group, [...(byGroup.get(r.group) ?? []), r.name]);
    expect([...byGroup]).toEqual([
      ['fresh 2×64 · copy/train.jsonl · 6 epochs × batch 16', ['lora other data']],
      ['fresh 2×64 · late/train.jsonl · 6 epochs × batch 16 · train.lr 0.001', ['lora lr 1e-3']],
      ['fresh 2×64 · late/train.jsonl · 6 epochs × batch 16 · train.lr 0.003', [
        'lora s1', 'lora s2', 'lora s3', 'dora s1', 'dora s2', 'bitune s1', 'bitune s2', 'bitune s3', 'bitune s3 again', 'bitune s4', 'bitune dora s1',
      ]],
    ]);
    const row = (name: string) => table.rows.find((r) => r.runId === ids[name])!;
    expect(row('dora s1')).toMatchObject({ method: 'lora', peft: 'dora', arm: 'DoRA', seed: '1' });
    expect(row('bitune dora s1')).toMatchObject({ method: 'bitune', peft: 'dora', arm: 'Bitune + DoRA' });
    expect(row('lora other data').seed).toBe('model 1 · lora 0 · train 1');
  });

  it('summarises each method over its seeds: mean, spread and a bootstrap interval inside the range', async () => {
    const table = await results(lab);
    const stats = table.groups.find((g) => g.group.endsWith('train.lr 0.003'))!.metrics.test_accuracy;
    expect(stats.arms.map((a) => [a.arm, a.n, a.seeds, a.runIds.length])).toEqual([
      ['LoRA', 3, ['1', '2', '3'], 3],
      ['DoRA', 2, ['1', '2'], 2],
      ['Bitune', 3, ['1', '2', '3'], 4],
      ['Bitune + DoRA', 1, ['1'], 1],
    ]);
    const [lora, , bitune] = stats.arms;
    expect(lora.mean).toBeCloseTo(0.3933, 4);
    expect(lora.sd).toBeCloseTo(0.0802, 4);
    expect([lora.min, lora.max]).toEqual([0.31, 0.47]);
    expect(bitune.mean).toBeCloseTo((0.44 + 0.36 + 0.51) / 3, 4); // seed 3 is the mean of its two runs
    for (const a of [lora, bitune]) {
      expect(a.ci![0]).toBeGreaterThanOrEqual(a.min);
      expect(a.ci![1]).toBeLessThanOrEqual(a.max);
      expect(a.ci![0]).toBeLessThan(a.mean);
      expect(a.ci![1]).toBeGreaterThan(a.mean);
    }
    expect(stats.arms[3].ci).toBeNull();
  });

  it('sets each method against its baseline over the seeds both have: the paired difference separates what the spread between seeds hides', async () => {
    const table = await results(lab);
    const stats = table.groups.find((g) => g.group.endsWith('train.lr 0.003'))!.metrics.test_accuracy;
    expect(stats.comparisons.map((c) => [c.arm, c.baseline, c.seeds, c.higher, c.lower, c.separated])).toEqual([
      ['DoRA', 'LoRA', ['1', '2'], 1, 1, false],
      ['Bitune', 'LoRA', ['1', '2', '3'], 3, 0, true],
      ['Bitune + DoRA', 'DoRA', ['1'], 1, 0, false],
    ]);
    const bitune = stats.comparisons[1];
    expect(bitune.mean).toBeCloseTo(0.13 / 3, 6); // +4, +5, +4 points
    expect(bitune.ci![0]).toBeGreaterThanOrEqual(0.04 - 1e-9);
    expect(bitune.ci![1]).toBeLessThanOrEqual(0.05 + 1e-9);
    // Unpaired, the two intervals overlap: the 16 points between seeds hide the 4-point gain.
    const [lora, , bituneArm] = stats.arms;
    expect(bituneArm.ci![0]).toBeLessThan(lora.ci![1]);
    expect(stats.comparisons[0].mean).toBeCloseTo(0.01, 6); // −2, +4
    // Other metrics are summarised the same way.
    expect(table.groups.find((g) => g.group.endsWith('train.lr 0.003'))!.metrics['mc_acc.choices'].comparisons[1].mean).toBeCloseTo(0.13 / 3, 6);
  });

  it('prints the summary and the paired differences under the runs, for the metric asked for', async () => {
    const table = await results(lab);
    const text = formatResults(table).split('\n');
    const at = text.indexOf('fresh 2×64 · late/train.jsonl · 6 epochs × batch 16 · train.lr 0.003'); // the last group
    const summary = text.slice(text.findIndex((l, i) => i > at && l.startsWith('test acc over seeds')));
    // With three seeds (or two), a resample of the smallest value alone has chance 1/27 > 2.5%: the interval is the range.
    expect(summary).toEqual([
      'test acc over seeds  seeds   mean   sd      min … max  95% bootstrap CI',
      '-------------------  -----  -----  ---  -------------  ----------------',
      'LoRA                     3  39.3%  8.0  31.0% … 47.0%    [31.0%, 47.0%]',
      'DoRA                     2  36.5%  2.1  35.0% … 38.0%    [35.0%, 38.0%]',
      'Bitune                   3  43.7%  7.5  36.0% … 51.0%    [36.0%, 51.0%]',
      'Bitune + DoRA            1  41.0%    —          41.0%                 —',
      '',
      'paired difference (points)  seeds  mean   sd    min … max  95% bootstrap CI  higher / lower  verdict',
      '--------------------------  -----  ----  ---  -----------  ----------------  --------------  --------------------------',
      'DoRA − LoRA                     2  +1.0  4.2  −2.0 … +4.0      [−2.0, +4.0]           1 / 1  interval includes 0',
      'Bitune − LoRA                   3  +4.3  0.6  +4.0 … +5.0      [+4.0, +5.0]           3 / 0  higher beyond the interval',
      'Bitune + DoRA − DoRA            1  +3.0    —         +3.0                 —           1 / 0  one seed',
      '',
    ]);
    expect(formatResults(table, 'mc_acc.choices')).toContain('choices acc over seeds');
  });

  it('stepwise results summarises the metric --metric names, and refuses one no run has, saying which they have', () => {
    const bin = path.resolve(import.meta.dirname, '../../bin/stepwise.js');
    const cli = (...args: string[]) => spawnSync(process.execPath, [bin, 'results', '--data-dir', dir, ...args], { encoding: 'utf8' });
    const mc = cli('--metric', 'mc_acc.choices');
    expect(mc.status, mc.stderr).toBe(0);
    expect(mc.stdout).toContain('\nchoices acc over seeds  seeds');
    expect(mc.stdout).toMatch(/^Bitune − LoRA +3 +\+4\.3 /m);
    const wrong = cli('--metric', 'mc_acc.piqa');
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain('--metric mc_acc.piqa: no run here has it (these do: test_accuracy, mc_acc.choices)');
  });

  it('refuses a run that is not Bitune or LoRA, and one that does not exist, naming it', async () => {
    const other = lab.store.runs.create({ method: 'icot-si', name: 'icot', config: {} });
    const wrong = await lab.dispatch('adapters.results', { runIds: [other.id] });
    expect(wrong.ok).toBe(false);
    if (!wrong.ok) expect(wrong.error.message).toBe(`adapters.results: run ${other.id} is a icot-si run, not Bitune or LoRA`);
    const missing = await lab.dispatch('adapters.results', { runIds: [999] });
    if (!missing.ok) expect(missing.error.message).toBe('adapters.results: there is no run 999');
    expect(missing.ok).toBe(false);
  });
});
