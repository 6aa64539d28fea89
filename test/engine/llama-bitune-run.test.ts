/**
 * A whole Bitune run on a Llama-family folder: a small Llama written by the
 * test with a byte-level tokenizer and a ChatML chat template (SmolLM2 /
 * Qwen2 style) is the frozen base; the run lays the instruction data out
 * through the folder's chat template, trains both adapters and the mixing on
 * every q/k/v/o and MLP projection, answers the test questions greedily from
 * the mixed cache, and saves the adapters in PEFT's layout under Llama's module
 * names, which load back against the base.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportLlamaFolder, llamaConfigFromHf } from '../../src-main/engine/hf/llama-folder.ts';
import { initLlama } from '../../src-main/engine/init.ts';
import { loadAdapterPeft, PEFT_WEIGHTS_FILE } from '../../src-main/engine/lora.ts';
import { llamaParamShapes } from '../../src-main/engine/models/llama.ts';
import { readSafetensors } from '../../src-main/engine/safetensors.ts';
import { TrainerControl, type TrainerEvent } from '../../src-main/engine/trainer.ts';
import { parseBituneConfig } from '../../src-main/methods/bitune/recipe.ts';
import { prepareBitune, runBitune } from '../../src-main/methods/bitune/run.ts';
import { byteBpeJson } from '../fixtures/byte-bpe.ts';

let tmp: string;
let folder: string;

const CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
const HF_CONFIG = {
  model_type: 'llama', vocab_size: 260, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4,
  num_key_value_heads: 2, max_position_embeddings: 64, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: true,
};

beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'stepwise-llama-bitune-'));
  const tokDir = path.join(tmp, 'tok');
  mkdirSync(tokDir);
  writeFileSync(path.join(tokDir, 'tokenizer.json'), JSON.stringify(byteBpeJson()));
  writeFileSync(path.join(tokDir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<|im_end|>', chat_template: CHATML }));
  const config = llamaConfigFromHf(HF_CONFIG);
  folder = path.join(tmp, 'base');
  // A random base with weights of std 0.3 (not 0.02), so its logits are far from uniform and adapters can move them.
  exportLlamaFolder(folder, { config, params: initLlama(config, 5, 0.3), hfExtra: HF_CONFIG, tokenizerFrom: tokDir });
  // Which letter comes last: the answer sits at the end of the question.
  const letters = 'abcdefgh';
  const rows = Array.from({ length: 24 }, (_, i) => {
    const q = `${letters[i % 8]}${letters[(i * 3 + 1) % 8]}${letters[(i * 5 + 2) % 8]}`;
    return JSON.stringify({ question: q, answer: q[2] });
  });
  writeFileSync(path.join(tmp, 'train.jsonl'), rows.slice(0, 16).join('\n'));
  writeFileSync(path.join(tmp, 'test.jsonl'), rows.slice(16).join('\n'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('a Bitune run on a Llama folder', () => {
  it('trains both adapters and the mixing through the chat template, answers the test split and saves PEFT adapters under Llama names', async () => {
    const runDir = path.join(tmp, 'run');
    mkdirSync(runDir);
    const events: TrainerEvent[] = [];
    const config = {
      method: 'bitune', model: { kind: 'folder', path: folder },
      lora: { r: 4, alpha: 8 },
      data: { train: path.join(tmp, 'train.jsonl'), test: path.join(tmp, 'test.jsonl') },
      train: { epochs: 10, batchSize: 8, lr: 3e-2 },
      eval: { maxNewTokens: 4, batchSize: 8, everyEpoch: false },
      runtime: { threads: 1 },
    };
    const out = await runBitune({ config: config as never, runDir }, (e) => events.push(e), new TrainerControl());
    expect(out.status).toBe('completed');
    expect(out.step).toBe(20);
    const steps = events.filter((e) => e.type === 'step') as Extract<TrainerEvent, { type: 'step' }>[];
    expect(steps.at(-1)!.loss).toBeLessThan(0.8 * steps[0].loss);
    // The learned mixing moved from s_init (α = 0.5 there) in every layer.
    for (const k of ['alpha_k_0', 'alpha_k_1', 'alpha_v_0', 'alpha_v_1']) expect(Math.abs(steps.at(-1)!.info![k] - 0.5), k).toBeGreaterThan(1e-3);
    expect(out.test!.total).toBe(8);
    const predictions = events.find((e) => e.type === 'predictions' && e.split === 'test') as Extract<TrainerEvent, { type: 'predictions' }>;
    expect(predictions.rows).toHaveLength(8);
    // The run read the examples through the folder's chat template: <|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n.
    const prepared = prepareBitune(parseBituneConfig(config));
    expect(prepared.template.name).toBe(`chat template of ${path.join(folder, 'tokenizer_config.json')}`);
    expect(prepared.pairs[0].prompt).toEqual([257, ...new TextEncoder().encode('user\nabc'), 258, 10, 257, ...new TextEncoder().encode('assistant\n')]);
    expect(prepared.pairs[0].answer).toEqual([99, 258, 10, 256]); // 'c', <|im_end|>, '\n', then EOS (<|endoftext|>)
    const run = JSON.parse(readFileSync(path.join(runDir, 'run.json'), 'utf8'));
    expect(run.arch).toMatchObject({ family: 'llama', nKvHead: 2, tieWordEmbeddings: true });
    // PEFT files in Llama's names, loading back against the base's shapes.
    const stored = readSafetensors(path.join(out.adaptersDir!, 'default', PEFT_WEIGHTS_FILE)).tensors;
    expect(stored.has('base_model.model.model.layers.1.mlp.down_proj.lora_B.weight')).toBe(true);
    expect(stored.get('base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight')!.shape).toEqual([4, 32]);
    expect(stored.get('base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight')!.shape).toEqual([16, 4]);
    const shapes = llamaParamShapes(llamaConfigFromHf(HF_CONFIG));
    for (const name of ['default', 'prefill']) {
      const { adapter } = loadAdapterPeft(path.join(out.adaptersDir!, name), name, shapes, { modulePrefix: '', layout: 'out_in' });
      expect(adapter.modules).toHaveLength(7 * 2);
    }
  });
});
