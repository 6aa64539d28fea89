/**
 * A Bitune run stopped mid-epoch and resumed from its checkpoint continues
 * exactly as one that never stopped (on the CPU, bit for bit): the same
 * losses at every step, and the same adapters, mixing parameters and AdamW
 * state at the end — as test/engine/trainer.test.ts shows for GPT-2. With
 * LoRA dropout on: its masks are a function of the step (engine/lora.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listCheckpoints, loadCheckpoint } from '../../src-main/engine/checkpoint.ts';
import { PEFT_WEIGHTS_FILE } from '../../src-main/engine/lora.ts';
import { TrainerControl, type TrainerEvent } from '../../src-main/engine/trainer.ts';
import { parseBituneConfig } from '../../src-main/methods/bitune/recipe.ts';
import { runBitune } from '../../src-main/methods/bitune/run.ts';
import { writeLateTask } from './late-task.ts';

let tmp: string;
let files: ReturnType<typeof writeLateTask>;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-bitune-resume-'));
  files = writeLateTask(path.join(tmp, 'late'), { train: 32, valid: 0, test: 0 });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const config = () => parseBituneConfig({
  method: 'bitune',
  model: { kind: 'fresh', layers: 2, dim: 32, heads: 2, seed: 4 },
  lora: { r: 4, alpha: 8, dropout: 0.1 }, // dropout masks too must be those of the uninterrupted run
  data: { train: files.train },
  train: { epochs: 3, batchSize: 8, lr: 1e-2, seed: 3, schedule: 'cosine', warmupSteps: 2 },
  eval: { everyEpoch: false },
  runtime: { threads: 1 },
});

/** Runs (or resumes) in runDir, cancelling after step `stopAt`; answers the losses by step and the outcome. */
async function run(runDir: string, opts: { stopAt?: number; resumeFrom?: string } = {}) {
  const control = new TrainerControl();
  const losses: number[] = [];
  const alphas: number[] = [];
  const out = await runBitune({ config: config(), runDir, resumeFrom: opts.resumeFrom }, (e: TrainerEvent) => {
    if (e.type !== 'step') return;
    losses.push(e.loss);
    alphas.push(e.info!.alpha_k_1);
    if (e.step === opts.stopAt) control.cancel();
  }, control);
  return { out, losses, alphas };
}

const bytes = (file: string) => fs.readFileSync(file);
const bytesOf = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('resuming a Bitune run', () => {
  it('stopped after 6 of 12 steps (mid-epoch) and resumed, it ends bit-identical to a run that never stopped', async () => {
    const whole = await run(path.join(tmp, 'whole'));
    expect(whole.out.status).toBe('completed');
    expect(whole.losses).toHaveLength(12); // 4 batches per epoch × 3 epochs

    const dir = path.join(tmp, 'stopped');
    const first = await run(dir, { stopAt: 6 });
    expect(first.out.status).toBe('cancelled');
    expect(first.out.step).toBe(6);
    const ck = listCheckpoints(path.join(dir, 'checkpoints')).at(-1)!;
    expect(ck.step).toBe(6);
    const second = await run(dir, { resumeFrom: ck.path });
    expect(second.out.status).toBe('completed');
    expect(second.out.step).toBe(12);

    expect([...first.losses, ...second.losses]).toEqual(whole.losses);
    expect([...first.alphas, ...second.alphas]).toEqual(whole.alphas);
    // Adapters (PEFT files) and the mixing θ, byte for byte.
    for (const file of [`default/${PEFT_WEIGHTS_FILE}`, `prefill/${PEFT_WEIGHTS_FILE}`, 'bitune.safetensors']) {
      expect(bytes(path.join(dir, 'adapters', file)).equals(bytes(path.join(tmp, 'whole', 'adapters', file))), file).toBe(true);
    }
    // The final checkpoints: parameters and AdamW moments alike.
    const [a, b] = [path.join(tmp, 'whole'), dir].map((d) => loadCheckpoint(listCheckpoints(path.join(d, 'checkpoints')).at(-1)!.path));
    expect(b.record.step).toBe(12);
    expect(b.record.optimizerStep).toBe(a.record.optimizerStep);
    for (const which of ['params', 'm', 'v'] as const) {
      for (const [name, t] of a[which]) expect(bytesOf(b[which].get(name)!.data).equals(bytesOf(t.data)), `${which} ${name}`).toBe(true);
    }
  }, 60_000);
});
