/**
 * `stepwise export-job --run ID --out DIR` (issue 25, part 1): a self-contained job folder as
 * docs/JOB-FORMAT.md describes it, written through the real CLI from a real lab.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { JobExportResult } from '../../src-main/contract/areas/jobs.ts';
import { exportModelFolder, loadModelFolder } from '../../src-main/engine/hf/model-folder.ts';
import { initModel } from '../../src-main/engine/init.ts';
import { TOKENIZER_SPEC_FILE } from '../../src-main/engine/tokenizers/spec.ts';
import { parseIcotConfig } from '../../src-main/methods/icot/recipe.ts';
import { prepare } from '../../src-main/methods/icot/run.ts';
import { exportJob } from '../../src-main/services/job-export.ts';
import { openLab } from '../../src-main/services/lab.ts';
import { writeTinyMult } from '../services/tiny-run.ts';
import { tinyJobConfig } from './tiny-job.ts';

const BIN = fileURLToPath(new URL('../../bin/stepwise.js', import.meta.url));

let dir: string;
let lab: string;
let data: { train: string; valid: string; test: string };
/** Run ids in the lab: a fresh GPT-2 ICoT-SI run, a No-CoT run from a Llama folder, a Bitune run. */
let runs: { fresh: number; folder: number; coconut: number };
let llamaFolder: string;

function stepwise(args: string[]) {
  const { STEPWISE_DATA_DIR: _, ...env } = process.env;
  const r = spawnSync(process.execPath, [BIN, ...args, '--data-dir', lab], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-export-'));
  lab = path.join(dir, 'lab');
  data = await writeTinyMult(path.join(dir, 'data'));
  // A Llama folder with the compact tokenizer's spec, as a run's best/ is.
  const p = prepare(parseIcotConfig(tinyJobConfig(data, 'llama')));
  llamaFolder = path.join(dir, 'llama-model');
  exportModelFolder(llamaFolder, { arch: p.arch, params: initModel(p.arch, 5) });
  fs.writeFileSync(path.join(llamaFolder, TOKENIZER_SPEC_FILE), JSON.stringify(p.tok.spec()));
  const l = openLab(lab);
  try {
    runs = {
      fresh: l.store.runs.create({ method: 'icot-si', name: '2x2 ICoT-SI', config: tinyJobConfig(data, 'gpt2') }).id,
      folder: l.store.runs.create({ method: 'icot-si', name: '2x2 No CoT', config: tinyJobConfig(data, 'llama', 2, { recipe: 'nocot', model: { kind: 'folder', path: llamaFolder } }) }).id,
      coconut: l.store.runs.create({ method: 'coconut', name: 'a Coconut run', config: {} }).id,
    };
  } finally {
    l.close();
  }
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('stepwise export-job', () => {
  test('writes the job folder: job.json, the data files, the initial model, the tokens, train.py and the launch files', () => {
    const out = path.join(dir, 'job-fresh');
    const r = stepwise(['export-job', '--run', String(runs.fresh), '--out', out]);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toContain(`Exported run ${runs.fresh} (icot-si, 8 steps) to ${out}: 13 files`);
    expect(r.stdout).toContain('torchrun --nproc_per_node=N train.py job.json');
    expect(fs.readdirSync(out).sort()).toEqual(['README.md', 'data', 'job.json', 'model', 'requirements.txt', 'sky.yaml', 'slurm.sbatch', 'tokens.json', 'train.py']);
    expect(fs.readdirSync(path.join(out, 'data')).sort()).toEqual(['test.txt', 'train.txt', 'valid.txt']);
    expect(fs.readFileSync(path.join(out, 'data/train.txt'), 'utf8')).toBe(fs.readFileSync(data.train, 'utf8'));

    const job = readJson(path.join(out, 'job.json'));
    const config = parseIcotConfig(tinyJobConfig(data, 'gpt2'));
    const p = prepare(config);
    expect(job).toMatchObject({
      format: 'stepwise-job', version: 1, method: 'icot-si',
      parent: { runId: runs.fresh, name: '2x2 ICoT-SI', lab },
      config: { ...config, data: { train: 'data/train.txt', valid: 'data/valid.txt', test: 'data/test.txt' }, curriculum: { ...config.curriculum, smoothingLambda: 4, removeAllWhenBeyond: null } },
      start: { model: 'model', tokens: 'tokens.json', arch: p.arch },
      launch: { bf16: false },
    });
    expect(job.exported.commit === null || /^[0-9a-f]{40}$/.test(job.exported.commit)).toBe(true);
    expect(Date.parse(job.exported.at)).toBeGreaterThan(0);

    // The fresh model's initial weights, exactly as Stepwise initialised them from its seed.
    const model = loadModelFolder(path.join(out, 'model'));
    expect(model.config).toEqual(p.arch);
    for (const [name, t] of p.init) expect(Array.from(model.params.get(name)!.data), name).toEqual(Array.from(t.data));

    const tokens = readJson(path.join(out, 'tokens.json'));
    expect(tokens.tokenizer).toMatchObject({ kind: 'compact', eos: 1, pad: 0, vocabSize: 17, joiner: ' ' });
    expect(tokens.tokenizer.pieces.slice(0, 3)).toEqual(['<pad>', '<eos>', '0']);
    expect(tokens.train).toEqual(p.laid.map((e) => ({ ids: e.ids, eos: e.eos })));
    expect(tokens.valid).toHaveLength(8);
    expect(tokens.valid[0]).toMatchObject({ input: p.valid[0].input, answer: p.valid[0].answer, cotLength: p.cotLength(p.valid[0]) });
    expect([tokens.longest, tokens.maxCot]).toEqual([p.longest, p.maxCot]);

    expect(fs.readFileSync(path.join(out, 'requirements.txt'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'))).toEqual([expect.stringMatching(/^torch==\d+\.\d+\.\d+$/)]);
    const readme = fs.readFileSync(path.join(out, 'README.md'), 'utf8');
    for (const line of ['torchrun --nproc_per_node=N train.py job.json', 'torchrun --nnodes=2 --node_rank=NODE_RANK --nproc_per_node=8', 'sbatch slurm.sbatch', 'sky launch -c stepwise sky.yaml', 'train.py job.json --resume', `stepwise import-job`]) {
      expect(readme).toContain(line);
    }
    expect(readme).toContain(`# 2x2 ICoT-SI: a Stepwise job\n\nRun ${runs.fresh} of the lab in \`${lab}\``);
    for (const file of ['README.md', 'slurm.sbatch', 'sky.yaml']) expect(fs.readFileSync(path.join(out, file), 'utf8'), file).not.toContain('{{');
    const sbatch = fs.readFileSync(path.join(out, 'slurm.sbatch'), 'utf8');
    expect(sbatch).toContain(`#SBATCH --job-name=stepwise-run-${runs.fresh}\n`);
    expect(sbatch).toContain('srun torchrun --nnodes="$SLURM_JOB_NUM_NODES"');
    expect(sbatch).toContain('  train.py job.json $RESUME\n');
    expect(fs.readFileSync(path.join(out, 'sky.yaml'), 'utf8')).toContain(`name: stepwise-run-${runs.fresh}\n`);
    expect(fs.statSync(path.join(out, 'train.py')).mode & 0o111).not.toBe(0);
  });

  test("a run from a model folder: model/ holds the folder's weights and tokenizer, and the config names model/", () => {
    const out = path.join(dir, 'job-folder');
    expect(stepwise(['export-job', '--run', String(runs.folder), '--out', out, '--bf16']).code).toBe(0);
    const job = readJson(path.join(out, 'job.json'));
    expect(job.config).toMatchObject({ recipe: 'nocot', model: { kind: 'folder', path: 'model' } });
    expect(job.start.arch).toMatchObject({ family: 'llama', nLayer: 1, hiddenSize: 32 });
    expect(job.launch).toEqual({ bf16: true });
    const theirs = loadModelFolder(llamaFolder).params;
    const ours = loadModelFolder(path.join(out, 'model')).params;
    for (const [name, t] of theirs) expect(Array.from(ours.get(name)!.data), name).toEqual(Array.from(t.data));
    expect(readJson(path.join(out, 'model', TOKENIZER_SPEC_FILE))).toEqual(readJson(path.join(llamaFolder, TOKENIZER_SPEC_FILE)));
  });

  test('jobs.export through the contract writes the same folder and answers what it wrote; a bad request names its field', async () => {
    const l = openLab(lab);
    try {
      const out = path.join(dir, 'job-contract');
      const r = await l.dispatch('jobs.export', { runId: runs.fresh, out });
      if (!r.ok) throw new Error(r.error.message);
      const result = r.result as JobExportResult;
      expect(result).toMatchObject({ dir: out, method: 'icot-si', steps: 8 });
      expect(result.files).toContain('train.py');
      expect(result.files.every((f) => fs.existsSync(path.join(out, f)))).toBe(true);
      expect(await l.dispatch('jobs.export', { runId: runs.fresh, out: 'relative/job' })).toMatchObject({ ok: false, error: { code: 'invalid_input', issues: [{ path: ['out'] }] } });
      expect(await l.dispatch('jobs.export', { runId: 99, out: path.join(dir, 'nothing') })).toMatchObject({ ok: false, error: { code: 'not_found' } });
    } finally {
      l.close();
    }
  });

  test('refuses what it cannot export, naming it: no run, a folder in use, a method train.py does not train, missing flags', () => {
    const missing = stepwise(['export-job', '--run', '99', '--out', path.join(dir, 'none')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`stepwise export-job: there is no run 99 in ${lab}`);
    expect(fs.existsSync(path.join(dir, 'none'))).toBe(false);
    const flag = stepwise(['export-job', '--run', 'one', '--out', path.join(dir, 'x')]);
    expect([flag.code, flag.stderr]).toEqual([2, 'stepwise export-job: --run expects a run id, a whole number from 1 (got "one"). Run `stepwise export-job --help` for its options.\n']);

    // The rest through the service the CLI calls (a process each would only repeat how its errors print).
    const l = openLab(lab);
    try {
      const busy = path.join(dir, 'busy');
      fs.mkdirSync(busy);
      fs.writeFileSync(path.join(busy, 'notes.txt'), 'mine');
      expect(() => exportJob(l, { runId: runs.fresh, out: busy })).toThrow(`${busy} is not empty: export-job writes a new job folder, give a new or empty one`);
      expect(fs.readdirSync(busy)).toEqual(['notes.txt']);
      expect(() => exportJob(l, { runId: runs.coconut, out: path.join(dir, 'coconut') })).toThrow(
        `run ${runs.coconut} is a coconut run; export-job exports icot-si, fine-tune-cot, lora and bitune runs (train.py trains those)`,
      );
      expect(fs.existsSync(path.join(dir, 'coconut'))).toBe(false);
    } finally {
      l.close();
    }
  });
});
