/** The continuous-thought training step (engine/latent-step.ts) on both model families. */
import { describe, expect, it } from 'vitest';
import { initModel } from '../../src-main/engine/init.ts';
import { compileLatentModel } from '../../src-main/engine/latent-passes.ts';
import { LatentStep } from '../../src-main/engine/latent-step.ts';
import { modelFamily, type ModelArch } from '../../src-main/engine/models/family.ts';
import { ADAMW_DEFAULTS } from '../../src-main/engine/optim.ts';
import { createSession, ort } from '../../src-main/engine/runtime.ts';

const LATENT = 10;
const gpt2: ModelArch = { vocabSize: 11, nPositions: 12, nEmbd: 16, nLayer: 2, nHead: 2, layerNormEpsilon: 1e-5 };
const llama: ModelArch = {
  family: 'llama', vocabSize: 11, hiddenSize: 16, intermediateSize: 24, nLayer: 2, nHead: 4, nKvHead: 2, headDim: 4, maxPositions: 12,
  rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: null, tieWordEmbeddings: true, qkvBias: false, oBias: false, mlpBias: false,
};
const rows = [
  [2, 3, 4, LATENT, LATENT, 5, 6, 1],
  [2, 3, 7, LATENT, LATENT, 8, 6, 1],
];
const B = 2;
const T = 8;
const ids = BigInt64Array.from(rows.flat(), BigInt);
const labels = BigInt64Array.from(rows.flatMap((r) => r.map((id, t) => (t < 5 ? -100 : id))), BigInt);

describe.each([['GPT-2', gpt2], ['Llama', llama]] as const)('the continuous-thought step (%s)', (_name, arch) => {
  it('takes the unrolled graph’s loss as its first loss, learns a batch, and resets its optimizer to zero', async () => {
    const init = initModel(arch, 2);
    const step = LatentStep.create({ arch, batch: B, seq: T, latentId: LATENT, adamw: ADAMW_DEFAULTS, init, threads: 1 });
    // The forward graph's loss on the same batch, from the same parameters.
    const forward = await createSession(compileLatentModel({ arch, batch: B, seq: T, latents: 2, mode: 'forward' }).model, { threads: 1 });
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, shape] of modelFamily(arch).paramShapes()) feeds[`p.${name}`] = new ort.Tensor('float32', init.get(name)!.data, shape);
    const want = await forward.run({
      ...feeds, input_ids: new ort.Tensor('int64', ids, [B, T]), labels: new ort.Tensor('int64', labels, [B, T]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: B * T }, (_, i) => BigInt(i % T)), [B, T]),
      latent_index: new ort.Tensor('int64', BigInt64Array.from([3n, 4n, 3n, 4n]), [B, 2]),
    });
    await forward.release();
    const losses: number[] = [];
    for (let i = 0; i < 30; i++) losses.push((await step.run(ids, labels, 1e-2)).loss);
    expect(Math.abs(losses[0] - (want.loss.data as Float32Array)[0])).toBeLessThan(1e-5);
    expect(losses[29]).toBeLessThan(0.5 * losses[0]);
    expect(step.optimizerStep).toBe(30);
    step.resetOptimizer();
    expect(step.optimizerStep).toBe(0);
    const { m, v } = step.optimizerSnapshot();
    for (const t of [...m.values(), ...v.values()]) expect(t.data.every((x) => x === 0)).toBe(true);
    await step.release();
  });
});
