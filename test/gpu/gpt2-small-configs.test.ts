/**
 * The GPU configs (resources/configs/icot-{4x4,5x5}-gpt2-small.json) start, take steps and
 * checkpoint on WebGPU, with a tiny step budget: every field as shipped (curriculum, optimizer,
 * runtime.provider "webgpu"), but a small GPT-2 folder with a BPE tokenizer in place of GPT-2
 * Small (whose weights are not here, and whose steps SwiftShader would take minutes over) and a
 * few problems of the config's digit count.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { listCheckpoints } from '../../src-main/engine/checkpoint.ts';
import { exportGpt2Folder } from '../../src-main/engine/hf/gpt2-folder.ts';
import { initGPT2 } from '../../src-main/engine/init.ts';
import { TrainerControl } from '../../src-main/engine/trainer.ts';
import { writeMultFiles } from '../../src-main/methods/icot/mult.ts';
import { parseIcotConfig } from '../../src-main/methods/icot/recipe.ts';
import { runIcot } from '../../src-main/methods/icot/run.ts';
import { byteBpeJson } from '../fixtures/byte-bpe.ts';
import { WEBGPU } from '../fixtures/providers.ts';

let dir: string;
let model: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-gpt2-configs-'));
  const tok = path.join(dir, 'tok');
  fs.mkdirSync(tok);
  fs.writeFileSync(path.join(tok, 'tokenizer.json'), JSON.stringify(byteBpeJson()));
  model = path.join(dir, 'gpt2-tiny');
  const arch = { vocabSize: 260, nPositions: 256, nEmbd: 32, nLayer: 1, nHead: 2, layerNormEpsilon: 1e-5 };
  exportGpt2Folder(model, { config: arch, params: initGPT2(arch, 0), tokenizerFrom: tok });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!WEBGPU)('the GPT-2 Small configs on WebGPU', () => {
  for (const [name, digits] of [['icot-4x4-gpt2-small.json', 4], ['icot-5x5-gpt2-small.json', 5]] as const) {
    test(`${name} starts, takes steps and checkpoints on webgpu`, async () => {
      const shipped = JSON.parse(fs.readFileSync(new URL(`../../resources/configs/${name}`, import.meta.url), 'utf8'));
      const data = { train: path.join(dir, `${digits}-train.txt`), valid: path.join(dir, `${digits}-valid.txt`), test: path.join(dir, `${digits}-test.txt`) };
      await writeMultFiles({ digitsA: digits, digitsB: digits, counts: { train: 8, valid: 2, test: 2 }, seed: 1 }, data);
      const config = parseIcotConfig({ ...shipped, model: { ...shipped.model, path: model }, data, train: { ...shipped.train, epochs: 1, batchSize: 4 }, eval: { ...shipped.eval, batchSize: 2, maxNewTokens: 4 } });
      expect(config.runtime.provider).toBe('webgpu');
      const runDir = path.join(dir, name);
      const out = await runIcot({ config, runDir }, () => {}, new TrainerControl());
      expect(out.status).toBe('completed');
      expect(out.step).toBe(2);
      expect(listCheckpoints(path.join(runDir, 'checkpoints')).map((c) => c.step)).toEqual([2]);
      expect(JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')).device).toMatchObject({ provider: 'webgpu', adapter: { found: true } });
    });
  }
});
