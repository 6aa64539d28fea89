/**
 * Fine-tune-CoT and ICoT-SI compose: a fresh Fine-tune-CoT student (word
 * tokenizer) is the model an ICoT-SI run starts from, its `best/` folder
 * read by ICoT through the word tokenizer's stored description, on the
 * student's own rationales in ICoT's `input||cot #### answer` format, so the
 * student can go on to internalize them. Real runs of both methods (tiny).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadGpt2Folder } from '../../src-main/engine/hf/gpt2-folder.ts';
import { TrainerControl, type TrainerEvent } from '../../src-main/engine/trainer.ts';
import { generateTask } from '../../src-main/methods/finetune-cot/generators.ts';
import { parseFtCotConfig } from '../../src-main/methods/finetune-cot/recipe.ts';
import { runFtCot } from '../../src-main/methods/finetune-cot/run.ts';
import { folderTokenizer, TOKENIZER_SPEC_FILE } from '../../src-main/engine/tokenizers/spec.ts';
import { parseIcotConfig } from '../../src-main/methods/icot/recipe.ts';
import { runIcot } from '../../src-main/methods/icot/run.ts';

let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-ftcot-compose-'));
  const task = generateTask({ kind: 'arithmetic', counts: { train: 96, test: 16 }, seed: 5, size: 1, terms: 3, lastDigit: true });
  const split = (s: string) => task.examples.filter((e) => e.split === s);
  fs.writeFileSync(path.join(dir, 'train.jsonl'), split('train').map((e) => JSON.stringify({ question: e.question, rationale: e.rationale, answer: e.answer })).join('\n') + '\n');
  // The same rationales as ICoT lines: question || rationale #### answer.
  const icot = (s: string) => split(s).map((e) => `${e.question}||${e.rationale} #### ${e.answer}`).join('\n') + '\n';
  fs.writeFileSync(path.join(dir, 'icot-train.txt'), icot('train'));
  fs.writeFileSync(path.join(dir, 'icot-valid.txt'), icot('test'));
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('a Fine-tune-CoT student goes on with ICoT-SI', () => {
  test("ICoT-SI starts from the student's best/ folder, with its word tokenizer and weights", async () => {
    const student = await runFtCot(
      {
        config: parseFtCotConfig({
          format: 'ft-cot', answerType: 'number', task: 'last digit',
          // Room for ICoT's layout (its EOS separators and ' #### '), longer than the student's own examples.
          model: { kind: 'fresh', layers: 2, dim: 32, heads: 2, seed: 0, context: 64 },
          data: { train: path.join(dir, 'train.jsonl') },
          train: { epochs: 4, batchSize: 16, lr: 1e-2, seed: 0 },
          runtime: { threads: 1 },
        }),
        runDir: path.join(dir, 'student'),
      },
      () => {},
      new TrainerControl(),
    );
    expect(student.status).toBe('completed');
    const bestDir = path.join(dir, 'student', 'best');
    const spec = JSON.parse(fs.readFileSync(path.join(bestDir, TOKENIZER_SPEC_FILE), 'utf8')) as { kind: string; pieces: string[] };
    expect(spec.kind).toBe('words');

    // ICoT reads the folder's tokenizer as the student's words.
    const tok = folderTokenizer(bestDir, null);
    expect(tok.kind).toBe('words');
    expect(tok.vocabSize).toBe(spec.pieces.length);
    const line = 'What is the last digit of 4 + 9 + 7?';
    expect(tok.decode(tok.encode(line))).toBe(line);

    const events: TrainerEvent[] = [];
    const icot = await runIcot(
      {
        config: parseIcotConfig({
          recipe: 'icot-si',
          model: { kind: 'folder', path: bestDir },
          data: { train: path.join(dir, 'icot-train.txt'), valid: path.join(dir, 'icot-valid.txt') },
          train: { epochs: 1, batchSize: 16, lr: 1e-6, seed: 0 },
          // The whole CoT is removed from the second batch on, so the epoch's model counts as best/.
          curriculum: { removePerEpoch: 100, removeAllWhenBeyond: 1 },
          eval: { batchSize: 16 },
          runtime: { threads: 1 },
        }),
        runDir: path.join(dir, 'icot'),
      },
      (e) => events.push(e),
      new TrainerControl(),
    );
    expect(icot.status).toBe('completed');
    const runJson = JSON.parse(fs.readFileSync(path.join(dir, 'icot', 'run.json'), 'utf8')) as { tokenizer: unknown; arch: { vocabSize: number; nEmbd: number; nLayer: number } };
    expect(runJson.tokenizer).toEqual(spec);
    const studentArch = (JSON.parse(fs.readFileSync(path.join(dir, 'student', 'run.json'), 'utf8')) as { arch: object }).arch;
    expect(runJson.arch).toMatchObject(studentArch);
    // It starts from the student's weights: after a few steps at lr 1e-6 its model is the student's to within 1e-4, tensor by tensor.
    const before = loadGpt2Folder(bestDir).params;
    const after = loadGpt2Folder(path.join(dir, 'icot', 'best')).params;
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    expect(after.size).toBeGreaterThan(10);
    let largest = 0;
    for (const [name, t] of after) {
      const b = before.get(name)!.data as Float32Array;
      (t.data as Float32Array).forEach((v, i) => (largest = Math.max(largest, Math.abs(v - b[i]!))));
    }
    expect(largest).toBeGreaterThan(0);
    expect(largest).toBeLessThan(1e-4);
    expect(events.filter((e) => e.type === 'step').length).toBe(6);
    // The ICoT model it saved reads back with the same tokenizer.
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'icot', 'best', TOKENIZER_SPEC_FILE), 'utf8'))).toEqual(spec);
  }, 300_000);
});
