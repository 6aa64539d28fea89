/** Next-token choice: argmax, seeded streams, temperature, top-k and top-p. */
import { describe, expect, it } from 'vitest';
import { argmax, sampleToken, seededRng, validateSampling } from '../../src-main/engine/sampling.ts';

/** Logits whose softmax is exactly `probs`. */
const logitsOf = (probs: number[]) => Float32Array.from(probs.map(Math.log));

function frequencies(logits: Float32Array, opts: Parameters<typeof sampleToken>[3], draws: number, seed = 1): number[] {
  const rng = seededRng(seed);
  const counts = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < draws; i++) counts[sampleToken(logits, 0, logits.length, opts, rng)]++;
  return counts.map((c) => c / draws);
}

describe('sampling', () => {
  it('argmax picks the first of equal maxima, within the row at offset', () => {
    expect(argmax([1, 3, 3, 2])).toBe(1);
    expect(argmax([9, 9, 0, 5, 7, 7], 2, 4)).toBe(2); // row [0, 5, 7, 7]
  });

  it('a seeded stream repeats exactly; other seeds and other streams differ; values lie in [0, 1)', () => {
    const take = (rng: () => number) => Array.from({ length: 1000 }, rng);
    const a = take(seededRng(42));
    expect(take(seededRng(42))).toEqual(a);
    expect(take(seededRng(43))).not.toEqual(a);
    expect(take(seededRng(42, 1))).not.toEqual(a);
    expect(take(seededRng(0, 1))).not.toEqual(take(seededRng(1, 0)));
    expect(Math.min(...a)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...a)).toBeLessThan(1);
    expect(a.reduce((s, x) => s + x, 0) / a.length).toBeCloseTo(0.5, 1);
  });

  it('temperature 0 is greedy whatever the stream', () => {
    const logits = logitsOf([0.1, 0.2, 0.6, 0.1]);
    expect(frequencies(logits, { temperature: 0 }, 50)).toEqual([0, 0, 1, 0]);
  });

  it('temperature 1 draws tokens with their softmax probabilities', () => {
    const f = frequencies(logitsOf([0.5, 0.3, 0.2]), { temperature: 1 }, 20000);
    expect(f[0]).toBeCloseTo(0.5, 1);
    expect(f[1]).toBeCloseTo(0.3, 1);
    expect(f[2]).toBeCloseTo(0.2, 1);
  });

  it('top-p 0.7 over probabilities 0.5/0.3/0.2 keeps the first two, renormalised to 0.625/0.375', () => {
    const f = frequencies(logitsOf([0.3, 0.5, 0.2]), { temperature: 1, topP: 0.7 }, 20000);
    expect(f[2]).toBe(0);
    expect(f[1]).toBeCloseTo(0.625, 1);
    expect(f[0]).toBeCloseTo(0.375, 1);
  });

  it('top-k 1 and a tiny top-p are both greedy', () => {
    const logits = logitsOf([0.2, 0.25, 0.3, 0.25]);
    expect(frequencies(logits, { temperature: 1, topK: 1 }, 200)).toEqual([0, 0, 1, 0]);
    expect(frequencies(logits, { temperature: 1, topP: 1e-6 }, 200)).toEqual([0, 0, 1, 0]);
  });

  it('rejects settings outside their ranges, naming the setting', () => {
    expect(() => validateSampling({ temperature: -1 })).toThrow(/temperature must be a finite number ≥ 0/);
    expect(() => validateSampling({ topP: 0 })).toThrow(/topP must be in \(0, 1\], got 0/);
    expect(() => validateSampling({ topK: 2.5 })).toThrow(/topK must be a whole number/);
  });
});
