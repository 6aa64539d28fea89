/**
 * The LoRA-vs-Bitune table (adapters.results, and `stepwise results`' text)
 * from rows written straight into a real store: runs compare within a group
 * of the same base, data and budget, where library datasets are told apart by
 * name even when their files share a name; files evaluated after training get
 * their own columns.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatResults } from '../../src-main/cli/commands/results.ts';
import type { AdapterResultRow } from '../../src-main/contract/areas/adapters.ts';
import { openLab, type Lab } from '../../src-main/services/lab.ts';

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

describe('the LoRA-vs-Bitune table', () => {
  it('groups runs by base, library dataset and budget, with every stored figure', async () => {
    const answer = await lab.dispatch('adapters.results', {});
    if (!answer.ok) throw new Error(answer.error.message);
    const table = answer.result as { rows: AdapterResultRow[]; choiceFiles: string[]; evalFiles: string[] };
    expect(table.rows.map((r) => [r.runId, r.group])).toEqual([
      [1, 'SmolLM2-135M · alpaca-small (train) · 3 epochs × batch 8'],
      [2, 'SmolLM2-135M · alpaca-small (train) · 3 epochs × batch 8'],
      [3, 'SmolLM2-135M · gsm8k-aug (train) · 3 epochs × batch 8'],
    ]);
    expect(table.evalFiles).toEqual(['gsm-test']);
    expect(table.choiceFiles).toEqual(['piqa']);
    expect(table.rows[0]).toMatchObject({ method: 'lora', ablation: null, testAccuracy: 0.25, evals: { 'gsm-test': 0.1 }, choices: {}, steps: 24 });
    expect(table.rows[1]).toMatchObject({ method: 'bitune', ablation: 'no-mixing', prefillMask: 'bidirectional', choices: { piqa: { acc: 0.6, accNorm: 0.62 } }, evals: {} });
    expect(table.rows[2]).toMatchObject({ alphaK: [0.7, 0.4], alphaV: [0.5, 0.5] });

    expect(formatResults(table).split('\n')).toEqual([
      'SmolLM2-135M · alpaca-small (train) · 3 epochs × batch 8',
      'run  name         method  variant                                steps  test acc  gsm-test acc  piqa acc  piqa acc_norm  final α (keys)',
      '---  -----------  ------  -------------------------------------  -----  --------  ------------  --------  -------------  --------------',
      '  1  lora on 1      LoRA  —                                         24     25.0%         10.0%         —              —  —',
      '  2  bitune on 1  Bitune  no-mixing, s_init 0.01, bidirectional     24     30.0%             —     60.0%          62.0%  —',
      '',
      'SmolLM2-135M · gsm8k-aug (train) · 3 epochs × batch 8',
      'run  name         method  variant                                steps  test acc  gsm-test acc  piqa acc  piqa acc_norm  final α (keys)',
      '---  -----------  ------  -------------------------------------  -----  --------  ------------  --------  -------------  --------------',
      '  3  bitune on 2  Bitune  no-mixing, s_init 0.01, bidirectional     24      5.0%             —         —              —  0.700 0.400',
      '',
    ]);
  });
});
