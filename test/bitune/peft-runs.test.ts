/**
 * DoRA, IA3 and full fine-tuning runs end to end, alone (method "lora") and
 * under Bitune, on fresh GPT-2 and Llama bases: each run trains (its loss
 * falls), saves its adapters in PEFT's layout (DoRA as LoRA with use_dora and
 * lora_magnitude_vector, IA3 with ia3_l and feedforward_modules; full
 * fine-tuning as model folders), loads them back (the loaded model answers the
 * test questions exactly as the run did, and so does a lone adapter folder read
 * as PEFT's), and merges for export (the merged
 * folder holds the base with the default adapter folded in, or the default
 * copy itself; alone, that plain model answers as the adapted run did).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fullCopyWeights } from '../../src-main/engine/full-finetune.ts';
import { Generator } from '../../src-main/engine/generate.ts';
import { loadModelFolder } from '../../src-main/engine/hf/model-folder.ts';
import { mergeAdapter, PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE, type PeftType } from '../../src-main/engine/lora.ts';
import type { ModelArch } from '../../src-main/engine/models/family.ts';
import { readSafetensors } from '../../src-main/engine/safetensors.ts';
import { TrainerControl, type PredictionRow, type TrainerEvent } from '../../src-main/engine/trainer.ts';
import { BituneModel } from '../../src-main/methods/bitune/infer.ts';
import { parseBituneConfig } from '../../src-main/methods/bitune/recipe.ts';
import { encodePair, evaluateAnswers, runBitune, VARIANT_FILE } from '../../src-main/methods/bitune/run.ts';
import { loadSavedAdapters } from '../../src-main/methods/bitune/saved.ts';
import { readInstructFile } from '../../src-main/methods/shared/instruct/format.ts';
import { writeLateTask } from './late-task.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-peft-runs-'));
const files = writeLateTask(path.join(tmp, 'data'), { train: 16, valid: 0, test: 6 });
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Each type alone and under Bitune, on both families. */
const RUNS = (['dora', 'ia3', 'full'] as const).flatMap((peft) => (['gpt2', 'llama'] as const).flatMap((family) => (['lora', 'bitune'] as const).map((method) => [peft, family, method] as [PeftType, typeof family, typeof method])));

describe.each(RUNS)('a %s run on a fresh %s (%s)', (peft, family, method) => {
  it('trains, saves in its format, loads back to the same answers, and merges for export', async () => {
    const runDir = path.join(tmp, `${peft}-${family}-${method}`);
    fs.mkdirSync(runDir);
    const config = parseBituneConfig({
      method, peft, model: { kind: 'fresh', family, layers: 2, dim: 32, heads: 4, seed: 1 }, lora: { r: 4, alpha: 8, dropout: peft === 'dora' ? 0.1 : 0 }, // DoRA with dropout: its base term on the dropped input (dora.ts)
      data: { train: files.train, test: files.test }, train: { epochs: 2, batchSize: 8, lr: peft === 'ia3' ? 5e-2 : 1e-2, seed: 0 },
      eval: { everyEpoch: false, maxNewTokens: 3, batchSize: 6 }, runtime: { threads: 1 },
    });
    const events: TrainerEvent[] = [];
    const outcome = await runBitune({ config, runDir }, (e) => events.push(e), new TrainerControl());
    expect(outcome.status).toBe('completed');
    expect(outcome.merged?.peft).toBe(peft);
    const losses = events.flatMap((e) => (e.type === 'step' ? [e.loss] : []));
    expect(losses).toHaveLength(4);
    expect(losses[3]).toBeLessThan(losses[0]);

    // Saved in the type's format.
    const adaptersDir = path.join(runDir, 'adapters');
    const names = method === 'lora' ? ['default'] : ['default', 'prefill'];
    expect(JSON.parse(fs.readFileSync(path.join(adaptersDir, VARIANT_FILE), 'utf8')).peft).toBe(peft);
    for (const name of names) {
      const dir = path.join(adaptersDir, name);
      if (peft === 'full') {
        expect(fs.existsSync(path.join(dir, 'config.json'))).toBe(true);
        continue;
      }
      const cfg = JSON.parse(fs.readFileSync(path.join(dir, PEFT_CONFIG_FILE), 'utf8'));
      const keys = [...readSafetensors(path.join(dir, PEFT_WEIGHTS_FILE)).tensors.keys()];
      const prefix = family === 'gpt2' ? 'base_model.model.transformer.h.0.' : 'base_model.model.model.layers.0.';
      if (peft === 'dora') {
        expect(cfg).toMatchObject({ peft_type: 'LORA', use_dora: true, r: 4, lora_alpha: 8 });
        expect(keys).toContain(`${prefix}${family === 'gpt2' ? 'attn.c_attn' : 'self_attn.q_proj'}.lora_magnitude_vector`);
      } else {
        expect(cfg).toMatchObject({ peft_type: 'IA3', target_modules: family === 'gpt2' ? ['attn.c_attn', 'mlp.c_proj'] : ['k_proj', 'v_proj', 'down_proj'], feedforward_modules: family === 'gpt2' ? ['mlp.c_proj'] : ['down_proj'] });
        expect(keys).toContain(`${prefix}${family === 'gpt2' ? 'mlp.c_proj' : 'mlp.down_proj'}.ia3_l`);
      }
    }

    // Loaded back: the same greedy answers as the run's own test predictions.
    const saved = loadSavedAdapters(adaptersDir);
    expect(saved.adapters.map((a) => [a.name, a.type])).toEqual(names.map((n) => [n, peft]));
    const model = new BituneModel(saved, { threads: 1 });
    const again = await evaluateAnswers(model, saved.tok, readInstructFile(files.test), { batchSize: 6, maxNewTokens: 3, template: saved.template });
    await model.release();
    const ran = events.flatMap((e) => (e.type === 'predictions' && e.split === 'test' ? e.rows : [])) as PredictionRow[];
    expect(again.predictions.map((r) => r.generated)).toEqual(ran.map((r) => r.generated));
    if (method === 'lora' && peft !== 'full') {
      // The default adapter's folder alone, as a PEFT adapter another tool wrote (`stepwise eval --adapters DIR`).
      const single = loadSavedAdapters(path.join(adaptersDir, 'default'));
      expect(single.adapters.map((a) => a.type)).toEqual([peft]);
      const alone = new BituneModel(single, { threads: 1 });
      const answers = await evaluateAnswers(alone, single.tok, readInstructFile(files.test), { batchSize: 6, maxNewTokens: 3, template: single.template });
      await alone.release();
      expect(answers.predictions.map((r) => r.generated)).toEqual(ran.map((r) => r.generated));
    }

    // Merged: the base with the default adapter folded in (full: the default copy), differing from the base.
    const merged = loadModelFolder(path.join(runDir, 'merged'));
    const want = peft === 'full' ? fullCopyWeights('default', saved.trained, saved.family.paramShapes()) : mergeAdapter(saved.base, saved.adapters[0], saved.trained, saved.layout);
    const w = family === 'gpt2' ? 'h.1.mlp.c_proj.weight' : 'model.layers.1.mlp.down_proj.weight';
    expect(Array.from(merged.params.get(w)!.data)).toEqual(Array.from(want.get(w)!.data));
    expect(Array.from(merged.params.get(w)!.data)).not.toEqual(Array.from(saved.base.get(w)!.data));
    if (method === 'lora') {
      // One causal pass: the merged model, as a plain model of its family, is the adapted model.
      const gen = Generator.create(merged.config as ModelArch, merged.params, { threads: 1 });
      const prompts = readInstructFile(files.test).map((q) => encodePair(saved.tok, q, saved.template, false).prompt);
      const plain = await gen.generate(prompts, { maxNewTokens: 3, eosTokenId: saved.tok.eosId });
      await gen.release();
      const adapted = new BituneModel(saved, { threads: 1 });
      expect(plain.rows.map((r) => r.tokens)).toEqual(await adapted.generate(prompts, { maxNewTokens: 3, eosId: saved.tok.eosId, padId: saved.tok.padId }));
      await adapted.release();
    }
  });
});
