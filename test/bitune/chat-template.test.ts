/**
 * Instruction data through a model folder's chat template: a small GPT-2
 * folder the test writes (byte-level BPE tokenizer.json with ChatML's special
 * tokens, tokenizer_config.json with a chat_template), rendered with
 * @huggingface/jinja; the `Question: …\n\nAnswer: …` template when the folder
 * has none; and a LoRA run that trains and evaluates through the template.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatTemplate } from '../../src-main/engine/hf/chat-template.ts';
import { exportGpt2Folder } from '../../src-main/engine/hf/gpt2-folder.ts';
import { loadModelFolder } from '../../src-main/engine/hf/model-folder.ts';
import { initGPT2 } from '../../src-main/engine/init.ts';
import { mergeLora } from '../../src-main/engine/lora.ts';
import { TrainerControl, type TrainerEvent } from '../../src-main/engine/trainer.ts';
import { parseBituneConfig } from '../../src-main/methods/bitune/recipe.ts';
import { encodePair, instructTemplateOf, prepareBitune, runBitune } from '../../src-main/methods/bitune/run.ts';
import { loadSavedAdapters } from '../../src-main/methods/bitune/saved.ts';
import { chatInstructTemplate, QUESTION_ANSWER } from '../../src-main/methods/shared/instruct/format.ts';
import { byteBpeJson } from '../fixtures/byte-bpe.ts';
import { writeLateTask } from './late-task.ts';

const EOT = 256;
const IM_START = 257;
const IM_END = 258;
const CHATML = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

let tmp: string;
let files: ReturnType<typeof writeLateTask>;

const tokenizerJson = () => byteBpeJson({ special: { '<|endoftext|>': EOT, '<|im_start|>': IM_START, '<|im_end|>': IM_END }, postProcessor: true });

/** A 1-layer GPT-2 folder with the byte-level tokenizer, and a chat template when given. */
function writeFolder(name: string, chatTemplate?: string): string {
  const dir = path.join(tmp, name);
  const config = { vocabSize: 259, nPositions: 96, nEmbd: 32, nLayer: 1, nHead: 2, layerNormEpsilon: 1e-5 };
  exportGpt2Folder(dir, { config, params: initGPT2(config, 3) });
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson()));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<|endoftext|>', bos_token: '<|endoftext|>', ...(chatTemplate ? { chat_template: chatTemplate } : {}) }));
  return dir;
}

const configFor = (folder: string) => parseBituneConfig({
  method: 'lora',
  model: { kind: 'folder', path: folder },
  lora: { r: 4, alpha: 8 },
  data: { train: files.train, test: files.test, testLimit: 4 },
  train: { epochs: 1, batchSize: 8, lr: 1e-3, seed: 0 },
  eval: { everyEpoch: false, maxNewTokens: 3, batchSize: 4 },
  runtime: { threads: 1 },
});

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-chat-'));
  files = writeLateTask(path.join(tmp, 'late'), { train: 16, valid: 0, test: 8 });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('instruction data and chat templates', () => {
  it("a folder's chat_template renders each example as a user turn and an assistant turn; the answer ends with the template's end of turn and EOS", () => {
    const p = prepareBitune(configFor(writeFolder('chatml', CHATML)));
    expect(p.template.name).toMatch(/^chat template of .*tokenizer_config\.json$/);
    const ex = p.train[0];
    const prompt = `<|im_start|>user\n${ex.question}<|im_end|>\n<|im_start|>assistant\n`;
    expect(p.template.prompt(ex.question)).toBe(prompt);
    expect(p.template.answer(ex.question, ex.answer)).toBe(`${ex.answer}<|im_end|>\n`);
    expect(p.pairs[0].prompt).toEqual(p.tok.encode(prompt));
    // The special tokens are single tokens of the tokenizer, not their characters.
    expect(p.pairs[0].prompt[0]).toBe(IM_START);
    expect(p.pairs[0].prompt.filter((t) => t === IM_START).length).toBe(2);
    expect(p.pairs[0].answer).toEqual([...p.tok.encode(ex.answer), IM_END, ...p.tok.encode('\n'), EOT]);
    expect(p.template.cut(`${ex.answer}<|im_end|>\nmore`)).toBe(ex.answer);
    expect(p.template.choice('7')).toBe('7');
  });

  it('without a chat template the default `Question: …\\n\\nAnswer: …` template is used', () => {
    const p = prepareBitune(configFor(writeFolder('plain')));
    expect(p.template).toBe(QUESTION_ANSWER);
    const ex = p.train[0];
    expect(p.pairs[0]).toEqual({ prompt: p.tok.encode(`Question: ${ex.question}\n\nAnswer:`), answer: [...p.tok.encode(` ${ex.answer}`), EOT] });
    expect(encodePair(p.tok, ex, QUESTION_ANSWER, false)).toEqual({ prompt: p.pairs[0].prompt, answer: [] });
  });

  it('a template whose answer turn does not extend its prompt is refused when loaded, naming its file', () => {
    expect(() => chatInstructTemplate(new ChatTemplate(`{{ messages|length }}:${CHATML}`, {}, 'odd/tokenizer_config.json'))).toThrow(/^odd\/tokenizer_config\.json: the chat template renders a question and its answer as text that does not start with the question's prompt/);
  });

  it('a LoRA run on the folder trains, answers its test questions through the template, and exports the merged model with the template', async () => {
    const runDir = path.join(tmp, 'run');
    const events: TrainerEvent[] = [];
    const out = await runBitune({ config: configFor(writeFolder('chatml-run', CHATML)), runDir }, (e) => events.push(e), new TrainerControl());
    expect(out.status).toBe('completed');
    expect(out.step).toBe(2);
    expect(out.test!.total).toBe(4);
    const preds = events.find((e) => e.type === 'predictions' && e.split === 'test') as Extract<TrainerEvent, { type: 'predictions' }>;
    expect(preds.rows.map((r) => r.input)).toEqual(fs.readFileSync(files.test, 'utf8').trim().split('\n').slice(0, 4).map((l) => (JSON.parse(l) as { question: string }).question));
    // Generations are cut at the template's end of turn.
    for (const r of preds.rows) expect(r.generated).not.toContain('<|im_end|>');
    // The merged export is the base with the saved adapter folded in, and keeps the tokenizer and its chat template.
    expect(out.merged!.path).toBe(path.join(runDir, 'merged'));
    const saved = loadSavedAdapters(path.join(runDir, 'adapters'));
    expect(saved.variant.method).toBe('lora');
    expect(saved.baseDtype).toBe('float32');
    expect(JSON.parse(fs.readFileSync(path.join(runDir, 'adapters', 'stepwise-adapters.json'), 'utf8'))).toEqual({
      method: 'lora', peft: 'lora', ablation: 'full', sInit: 0.01, prefillMask: 'bidirectional', adapters: ['default'], baseModel: path.join(tmp, 'chatml-run'), baseDtype: 'float32',
    });
    expect(saved.template.name).toMatch(/^chat template of /);
    const want = mergeLora(saved.base, saved.adapters[0], saved.trained, saved.layout);
    const folder = loadModelFolder(out.merged!.path);
    for (const [name, t] of want) expect(Array.from(folder.params.get(name)!.data), name).toEqual(Array.from(t.data));
    expect(instructTemplateOf(out.merged!.path).prompt('q')).toBe('<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n');
  }, 60_000);
});
