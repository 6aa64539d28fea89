/**
 * The statistics under the results table (services/statistics.ts): mean,
 * spread and the seeded percentile bootstrap interval of the mean, checked
 * against distributions worked out by hand and the normal approximation.
 */
import { describe, expect, it } from 'vitest';
import { bootstrapMeanInterval, summarize } from '../../src-main/services/statistics.ts';

describe('summarize', () => {
  it('gives the mean, the sample standard deviation (n − 1) and the range', () => {
    const s = summarize([0.31, 0.4, 0.47])!;
    expect(s.n).toBe(3);
    expect(s.mean).toBeCloseTo(0.39333, 5);
    expect(s.sd).toBeCloseTo(Math.sqrt(((0.31 - 0.39333) ** 2 + (0.4 - 0.39333) ** 2 + (0.47 - 0.39333) ** 2) / 2), 5);
    expect([s.min, s.max]).toEqual([0.31, 0.47]);
  });

  it('has no spread or interval for one value, and nothing for none', () => {
    expect(summarize([0.43])).toEqual({ n: 1, mean: 0.43, sd: null, min: 0.43, max: 0.43, ci: null });
    expect(summarize([])).toBeNull();
  });

  it('refuses a value that is not a finite number, naming it', () => {
    expect(() => summarize([0.4, Number.NaN])).toThrow('every value must be a finite number (got NaN)');
  });
});

describe('the percentile bootstrap interval of the mean', () => {
  it('is the same on every call with the same seed, and another seed moves it only a little', () => {
    const values = [0.31, 0.4, 0.47, 0.35, 0.5];
    const a = bootstrapMeanInterval(values)!;
    expect(bootstrapMeanInterval(values)).toEqual(a);
    const b = bootstrapMeanInterval(values, { seed: 7 })!;
    expect(b).not.toEqual(a);
    expect(Math.abs(b[0] - a[0])).toBeLessThan(0.01);
    expect(Math.abs(b[1] - a[1])).toBeLessThan(0.01);
  });

  it('of two values spans both: each resample mean is a, (a+b)/2 or b with chance 1/4, 1/2, 1/4', () => {
    expect(bootstrapMeanInterval([0.2, 0.6])).toEqual([0.2, 0.6]);
  });

  it('of 0, 0, 1 is [0, 1]: a mean of 1 has chance 1/27 > 2.5%, a mean of 0 has 8/27', () => {
    expect(bootstrapMeanInterval([0, 0, 1])).toEqual([0, 1]);
  });

  it('of three equal differences is that difference alone', () => {
    expect(bootstrapMeanInterval([0.25, 0.25, 0.25])).toEqual([0.25, 0.25]);
  });

  it('of 100 values matches the normal approximation mean ± 1.96 · SE', () => {
    const values = Array.from({ length: 100 }, (_, i) => i);
    const se = Math.sqrt(values.reduce((s, v) => s + (v - 49.5) ** 2, 0) / 100) / Math.sqrt(100); // the bootstrap's SE uses n, not n − 1
    const [lo, hi] = bootstrapMeanInterval(values)!;
    expect(lo).toBeCloseTo(49.5 - 1.96 * se, 0);
    expect(hi).toBeCloseTo(49.5 + 1.96 * se, 0);
  });

  it('widens with the level asked for, and refuses a level outside (0, 1)', () => {
    const values = [0.31, 0.4, 0.47, 0.35, 0.5];
    const [l95, h95] = bootstrapMeanInterval(values)!;
    const [l80, h80] = bootstrapMeanInterval(values, { level: 0.8 })!;
    expect(l80).toBeGreaterThan(l95);
    expect(h80).toBeLessThan(h95);
    expect(() => bootstrapMeanInterval(values, { level: 95 })).toThrow('level must be between 0 and 1 (got 95)');
  });
});
