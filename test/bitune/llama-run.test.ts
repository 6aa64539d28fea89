/**
 * LoRA and Bitune runs from a Llama-family folder through the lab, as the app
 * starts them (runs.start, a worker thread, the real store): a small Llama
 * with grouped-query attention, untied output and a ChatML chat template,
 * written by the test. Both runs complete and register their merged model
 * (nn.Linear's [out, in] weights with the adapter folded in, a Llama folder
 * again); the LoRA run's merged model greedily answers as the run itself
 * does; `stepwise eval`'s service scores the Bitune run's adapters on a
 * multiple-choice file into the store.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdapterResultRow } from '../../src-main/contract/areas/adapters.ts';
import type { Run } from '../../src-main/contract/entities.ts';
import { Generator } from '../../src-main/engine/generate.ts';
import { exportLlamaFolder, llamaConfigFromHf } from '../../src-main/engine/hf/llama-folder.ts';
import { loadModelFolder } from '../../src-main/engine/hf/model-folder.ts';
import { initLlama } from '../../src-main/engine/init.ts';
import { mergeLora } from '../../src-main/engine/lora.ts';
import type { ModelArch } from '../../src-main/engine/models/family.ts';
import { BituneModel } from '../../src-main/methods/bitune/infer.ts';
import { encodePair } from '../../src-main/methods/bitune/run.ts';
import { loadSavedAdapters } from '../../src-main/methods/bitune/saved.ts';
import { evaluateAdapters } from '../../src-main/services/adapters-eval.ts';
import { openLab, type Lab } from '../../src-main/services/lab.ts';
import { byteBpeJson } from '../fixtures/byte-bpe.ts';
import { writeLateTask } from './late-task.ts';

const CHATML = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
const HF_CONFIG = {
  model_type: 'qwen2', vocab_size: 260, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4,
  num_key_value_heads: 2, max_position_embeddings: 96, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: false,
};

let tmp: string;
let folder: string;
let files: ReturnType<typeof writeLateTask>;
let lab: Lab;
const runs: Partial<Record<'lora' | 'bitune', Run>> = {};

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-llama-run-'));
  const tokDir = path.join(tmp, 'tok');
  fs.mkdirSync(tokDir);
  fs.writeFileSync(path.join(tokDir, 'tokenizer.json'), JSON.stringify(byteBpeJson()));
  fs.writeFileSync(path.join(tokDir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<|endoftext|>', chat_template: CHATML }));
  const config = llamaConfigFromHf(HF_CONFIG);
  folder = path.join(tmp, 'qwen-tiny');
  exportLlamaFolder(folder, { config, params: initLlama(config, 2, 0.2), hfExtra: HF_CONFIG, tokenizerFrom: tokDir });
  files = writeLateTask(path.join(tmp, 'late'), { train: 32, valid: 0, test: 8 });

  lab = openLab(path.join(tmp, 'lab'));
  for (const method of ['lora', 'bitune'] as const) {
    const started = await lab.dispatch('runs.start', {
      method, name: `${method} on qwen-tiny`,
      config: {
        method, model: { kind: 'folder', path: folder }, lora: { r: 4, alpha: 8 },
        data: { train: files.train, test: files.test }, train: { epochs: 2, batchSize: 8, lr: 1e-2, seed: 0 },
        eval: { everyEpoch: false, maxNewTokens: 4, batchSize: 8 }, runtime: { threads: 1 },
      },
    });
    if (!started.ok) throw new Error(started.error.message);
    runs[method] = started.result as Run;
    const end = await lab.training.whenDone(runs[method]!.id)!;
    expect(end.run.status, end.run.error ?? '').toBe('completed');
  }
}, 120_000);
afterAll(() => {
  lab?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('LoRA and Bitune from a Llama-family folder', () => {
  it('both runs train and register a merged Llama model whose weights are the base with the default adapter folded into [out, in]', () => {
    for (const method of ['lora', 'bitune'] as const) {
      const run = runs[method]!;
      const model = lab.store.models.list(10, 0).items.find((m) => m.runId === run.id)!;
      expect(model.architecture).toMatchObject({ family: 'llama', nKvHead: 2, tiedEmbeddings: false });
      expect(model.source).toMatchObject({ kind: 'trained', recipe: method, step: 8, base: folder, adapters: `runs/${run.id}/adapters`, adapterFormat: 'peft' });
      const merged = loadModelFolder(path.join(lab.dataDir, model.path));
      expect(merged.hfConfig.model_type).toBe('qwen2');
      expect(merged.chatTemplate?.source).toBe(CHATML);
      const saved = loadSavedAdapters(path.join(lab.dataDir, 'runs', String(run.id), 'adapters'));
      expect(saved.layout).toBe('out_in');
      expect(saved.adapters.map((a) => a.name)).toEqual(method === 'lora' ? ['default'] : ['default', 'prefill']);
      const want = mergeLora(saved.base, saved.adapters[0], saved.trained, 'out_in');
      const q = 'model.layers.1.self_attn.q_proj.weight';
      expect(Array.from(merged.params.get(q)!.data)).toEqual(Array.from(want.get(q)!.data));
      expect(Array.from(merged.params.get(q)!.data)).not.toEqual(Array.from(saved.base.get(q)!.data));
      const loss = lab.store.metrics.series(run.id, { keys: ['loss'] })[0].values as number[];
      expect(loss).toHaveLength(8);
      expect(loss[7]).toBeLessThan(loss[0]);
    }
  });

  it("the LoRA run's merged model, as a plain Llama, greedily answers the test prompts as the adapted run does", async () => {
    const saved = loadSavedAdapters(path.join(lab.dataDir, 'runs', String(runs.lora!.id), 'adapters'));
    const questions = fs.readFileSync(files.test, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { question: string; answer: string });
    const prompts = questions.map((q) => encodePair(saved.tok, q, saved.template, false).prompt);
    const adapted = new BituneModel(saved, { threads: 1 });
    const fromAdapters = await adapted.generate(prompts, { maxNewTokens: 4, eosId: saved.tok.eosId, padId: saved.tok.padId });
    await adapted.release();
    const merged = loadModelFolder(path.join(lab.dataDir, 'runs', String(runs.lora!.id), 'merged'));
    const gen = Generator.create(merged.config as ModelArch, merged.params, { threads: 1 });
    const plain = await gen.generate(prompts, { maxNewTokens: 4, eosTokenId: saved.tok.eosId });
    await gen.release();
    expect(plain.rows.map((r) => r.tokens)).toEqual(fromAdapters);
  });

  it("stepwise eval's service scores the Bitune run's adapters on a multiple-choice file and the results table shows it", async () => {
    const report = await evaluateAdapters(lab, { source: { runId: runs.bitune!.id }, dataFile: files.choices, batchSize: 16 });
    expect(report).toMatchObject({ kind: 'choices', name: 'choices', total: 8, stored: { runId: runs.bitune!.id, step: 8, keys: ['mc_acc.choices', 'mc_acc_norm.choices'], split: null } });
    const answer = await lab.dispatch('adapters.results', {});
    if (!answer.ok) throw new Error(answer.error.message);
    const row = (answer.result as { rows: AdapterResultRow[] }).rows.find((r) => r.runId === runs.bitune!.id)!;
    expect(row.choices.choices).toEqual({ acc: report.accuracy, accNorm: report.accNorm });
    expect(row.base).toBe('qwen-tiny');
    expect(row.alphaK).toHaveLength(2);
  });
});
