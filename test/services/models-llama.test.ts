/**
 * models.import takes Llama-family folders as well as GPT-2 ones, through the
 * contract on a real data folder: the llama-tiny reference is copied in and
 * listed with its Llama architecture and parameter count; a model_type
 * Stepwise does not load is refused naming the file and the field.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createClient, type Client } from '../../src-main/contract/client.ts';
import { openLab, type Lab } from '../../src-main/services/lab.ts';

const LLAMA_TINY = path.resolve(import.meta.dirname, '../../../shared/reference/llama-tiny');

let dataDir: string;
let outside: string;
let lab: Lab;
let client: Client;

beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-models-llama-'));
  outside = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-outside-'));
  lab = openLab(dataDir);
  client = createClient({ call: (name, input) => lab.dispatch(name, input), on: () => () => {} });
});
afterEach(() => {
  lab.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

describe('models.import of Llama-family folders', () => {
  test('copies the llama-tiny folder in with its grouped-query architecture and parameter count', async () => {
    const model = await client.call('models.import', { path: LLAMA_TINY });
    expect(model.architecture).toEqual({ family: 'llama', nLayer: 2, nHead: 4, nKvHead: 2, hiddenSize: 32, vocabSize: 24, blockSize: 64, tiedEmbeddings: false });
    // embed + lm_head 2·24·32, 2 layers of (q 32·32, k 16·32, v 16·32, o 32·32, gate/up/down 3·64·32, 2 norms 2·32), final norm 32
    expect(model.paramCount).toBe(2 * 768 + 2 * (1024 + 512 + 512 + 1024 + 3 * 2048 + 64) + 32);
    expect(fs.readdirSync(path.join(dataDir, model.path)).sort()).toEqual(fs.readdirSync(LLAMA_TINY).sort());
  });

  test('a model_type Stepwise does not load is refused naming the file, and leaves no row', async () => {
    const other = path.join(outside, 'gemma');
    fs.cpSync(LLAMA_TINY, other, { recursive: true });
    const config = JSON.parse(fs.readFileSync(path.join(other, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(other, 'config.json'), JSON.stringify({ ...config, model_type: 'gemma' }));
    await expect(client.call('models.import', { path: other })).rejects.toThrow(
      `models.import: ${other}/config.json: model_type is "gemma", expected one of "gpt2", "llama", "mistral", "qwen2"`,
    );
    expect((await client.call('models.list')).total).toBe(0);
  });
});
