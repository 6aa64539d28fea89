/**
 * Every method end to end on WebGPU (SwiftShader here), as a person runs them: `stepwise train`
 * with `runtime.provider: "webgpu"` in child processes, then evaluation and generation, probe
 * capture and the OpenAI-compatible endpoint on the GPU. Each run records the adapter it trained
 * on (run.json) and says it in its log.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { exportLlamaFolder, llamaConfigFromHf } from '../../src-main/engine/hf/llama-folder.ts';
import { initLlama } from '../../src-main/engine/init.ts';
import { openLab } from '../../src-main/services/lab.ts';
import { writeLateTask } from '../bitune/late-task.ts';
import { byteBpeJson } from '../fixtures/byte-bpe.ts';
import { WEBGPU } from '../fixtures/providers.ts';
import { tinyConfig, writeTinyMult } from '../services/tiny-run.ts';

const BIN = fileURLToPath(new URL('../../bin/stepwise.js', import.meta.url));
const COIN_FLIP = fileURLToPath(new URL('../../../shared/data/fine-tune-cot/tasks/coin_flip.jsonl', import.meta.url));
const QWEN = {
  model_type: 'qwen2', vocab_size: 260, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4,
  num_key_value_heads: 2, max_position_embeddings: 96, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: false,
};

let work: string;
let dataDir: string;

function stepwise(args: string[]) {
  const { STEPWISE_DATA_DIR: _, ...env } = process.env;
  const r = spawnSync(process.execPath, [BIN, ...args, '--data-dir', dataDir], { cwd: work, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function writeConfig(name: string, config: unknown): string {
  fs.writeFileSync(path.join(work, name), JSON.stringify(config, null, 2));
  return name;
}

/** Trains CONFIG on webgpu; answers the new run's id after checking it completed on the adapter found here. */
function trainOnGpu(name: string, config: Record<string, unknown>): number {
  const r = stepwise(['train', writeConfig(name, { ...config, runtime: { ...(config.runtime as object), provider: 'webgpu' } })]);
  expect(r.code, r.stderr).toBe(0);
  const id = Number(/^Run (\d+) completed at step \d+\./m.exec(r.stdout)?.[1]);
  expect(id).toBeGreaterThan(0);
  const lab = openLab(dataDir);
  try {
    const logs = lab.store.logs.after(id, 0, 1000).map((l) => l.message);
    expect(logs).toContainEqual(expect.stringMatching(/^training on webgpu: google swiftshader, SwiftShader driver [\d.]+ \(software: correct but slow, no GPU\)$/));
  } finally {
    lab.close();
  }
  const runJson = JSON.parse(fs.readFileSync(path.join(dataDir, 'runs', String(id), 'run.json'), 'utf8'));
  expect(runJson.device).toMatchObject({ provider: 'webgpu', adapter: { found: true, vendor: 'google', architecture: 'swiftshader', software: true } });
  return id;
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-webgpu-'));
  dataDir = path.join(work, 'lab');
  await writeTinyMult(path.join(work, 'mult'));
  writeLateTask(path.join(work, 'late'), { train: 32, valid: 0, test: 8 });
  const tokDir = path.join(work, 'tok');
  fs.mkdirSync(tokDir);
  fs.writeFileSync(path.join(tokDir, 'tokenizer.json'), JSON.stringify(byteBpeJson()));
  fs.writeFileSync(path.join(tokDir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<|endoftext|>' }));
  const qwen = llamaConfigFromHf(QWEN);
  exportLlamaFolder(path.join(work, 'qwen-tiny'), { config: qwen, params: initLlama(qwen, 2, 0.2), hfExtra: QWEN, tokenizerFrom: tokDir });
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe.skipIf(!WEBGPU)('every method on WebGPU from the CLI', () => {
  const mult = { train: 'mult/train.txt', valid: 'mult/valid.txt', test: 'mult/test.txt' };

  test('ICoT-SI, explicit CoT and No CoT train; evaluation generates and probes capture on the GPU', () => {
    const ids = (['icot-si', 'cot', 'nocot'] as const).map((recipe) => trainOnGpu(`${recipe}.json`, { ...tinyConfig(mult, 2), recipe }));
    expect(ids).toEqual([1, 2, 3]);
    // Evaluation of the ICoT-SI run reads its provider from the run: generation on webgpu.
    const scored = stepwise(['eval', '--run', '1', '--data', 'mult/test.txt']);
    expect(scored.code, scored.stderr).toBe(0);
    expect(scored.stdout).toMatch(/^accuracy {2}\d+\.\d% \(\d\/8\)$/m);
    // Probe capture (hidden states through the decode graph) on webgpu.
    const probed = stepwise(['probe', '--run', '1', '--checkpoint', 'latest', '--data', 'mult/train.txt', '--target', 'pp0.d1', '--seeds', '1', '--no-random']);
    expect(probed.code, probed.stderr).toBe(0);
    expect(probed.stdout).toMatch(/pp0\.d1 +best at layer [01]/);
  });

  test('a Fine-tune-CoT student trains on the paper\'s coin-flip rationales', () => {
    trainOnGpu('student.json', {
      method: 'fine-tune-cot', format: 'ft-cot', answerType: 'yes-no', task: 'coin_flip',
      model: { kind: 'fresh', layers: 1, dim: 16, heads: 2, seed: 0 },
      data: { train: COIN_FLIP, trainSplit: 'train', test: COIN_FLIP, testSplit: 'test', trainLimit: 16, testLimit: 4 },
      train: { epochs: 1, batchSize: 8 }, runtime: { threads: 1 },
    });
  });

  test('LoRA and Bitune train on a fresh GPT-2 and on a Qwen2 (Llama-family) folder', () => {
    for (const model of [{ kind: 'fresh', layers: 1, dim: 32, heads: 2, seed: 0 }, { kind: 'folder', path: 'qwen-tiny' }]) {
      for (const method of ['lora', 'bitune'] as const) {
        const id = trainOnGpu(`${method}-${model.kind}.json`, {
          method, model, lora: { r: 4, alpha: 8 },
          data: { train: 'late/train.jsonl', test: 'late/test.jsonl' },
          train: { epochs: 1, batchSize: 8, lr: 3e-3, seed: 1 }, eval: { everyEpoch: false, maxNewTokens: 4 }, runtime: { threads: 1 },
        });
        const lab = openLab(dataDir);
        try {
          expect(lab.store.runs.get(id)).toMatchObject({ method, status: 'completed' });
        } finally {
          lab.close();
        }
      }
    }
  });

  test('the OpenAI-compatible endpoint serves a library model on webgpu (stepwise serve --provider webgpu)', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--provider', 'webgpu', '--data-dir', dataDir], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      for (let waited = 0; !/token=/.test(out); waited += 50) {
        if (waited > 30_000) throw new Error(`stepwise serve printed no URL: ${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const url = new URL(/http:\/\/\S+/.exec(out)![0]);
      const token = url.searchParams.get('token')!;
      const answer = await fetch(`${url.origin}/v1/completions`, {
        method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 1, prompt: '1 2 * 3 4', max_tokens: 4, temperature: 0 }),
      });
      const body = (await answer.json()) as { choices: { text: string }[] };
      expect(answer.status, JSON.stringify(body)).toBe(200);
      expect(typeof body.choices[0].text).toBe('string');
    } finally {
      child.kill('SIGINT');
    }
    expect(stepwise(['serve', '--provider', 'metal'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--provider must be cpu or webgpu (got "metal")') });
  });
});
