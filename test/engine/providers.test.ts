import { describe, expect, it } from 'vitest';
import { availableProviders, createSession, ort, physicalCores, ProviderError } from '../../src-main/engine/runtime.ts';
import { doubleModel } from './denormal-worker.ts';

describe('execution providers', () => {
  it('this build offers the bundled CPU provider', () => {
    const offered = availableProviders();
    expect(offered.find((p) => p.name === 'cpu')).toEqual({ name: 'cpu', bundled: true });
  });

  it('CPU runs with intra-op threads set to the physical cores', async () => {
    expect(physicalCores()).toBeGreaterThanOrEqual(1);
    const s = await createSession(doubleModel());
    const out = await s.run({ x: new ort.Tensor('float32', Float32Array.of(1.5, -2), [2]) });
    expect(Array.from(out.y.data as Float32Array)).toEqual([3, -4]);
  });

  it('a provider that cannot start fails with its name and the reason, never silently on CPU', async () => {
    // Here CUDA is never usable (no GPU, no provider libraries) and DirectML/CoreML are not in a Linux build.
    const err = await createSession(doubleModel(), { provider: 'dml' }).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.provider).toBe('dml');
    expect(err.message).toMatch(/'dml' failed to start: .*does not offer it .*offered: cpu/);
    expect(err.message).toMatch(/Choose 'cpu'/);
    const cuda = await createSession(doubleModel(), { provider: 'cuda' }).catch((e) => e);
    expect(cuda).toBeInstanceOf(ProviderError);
    expect(cuda.message).toMatch(/'cuda' failed to start: .*CUDA 12/);
    expect(cuda.message.split('\n')).toHaveLength(1);
  });
});
