/**
 * What a handful of runs that differ only in their seed say about a method:
 * the mean, the spread (sample standard deviation, smallest and largest) and
 * a 95% percentile bootstrap interval of the mean (Efron & Tibshirani, 1993,
 * ch. 13): resample the n values with replacement B times, take each
 * resample's mean, and read the 2.5th and 97.5th percentiles of those means.
 * A paired difference between two methods is the same summary of the
 * per-seed differences.
 *
 * The resampling is seeded (d3-random's LCG), so a table reads the same on
 * every load. With few seeds the interval is narrow for what it claims: with
 * 3 values there are only 10 distinct resamples, and the percentile interval
 * spans at most the values' own range, so it covers less than 95%; read it
 * beside n and the spread.
 */
import { deviation, mean, quantileSorted } from 'd3-array';
import { randomInt, randomLcg } from 'd3-random';

export interface Summary {
  n: number;
  mean: number;
  /** Sample standard deviation (n − 1); null below 2 values. */
  sd: number | null;
  min: number;
  max: number;
  /** The 95% percentile bootstrap interval of the mean; null below 2 values. */
  ci: [number, number] | null;
}

export interface BootstrapOptions {
  /** Resamples (B). */
  resamples?: number;
  /** Coverage of the interval. */
  level?: number;
  seed?: number;
}

export const BOOTSTRAP_RESAMPLES = 10_000;

/** Mean, spread and bootstrap interval of the mean; null for no values. */
export function summarize(values: readonly number[], options: BootstrapOptions = {}): Summary | null {
  if (values.length === 0) return null;
  for (const v of values) if (!Number.isFinite(v)) throw new RangeError(`summarize: every value must be a finite number (got ${v})`);
  return {
    n: values.length,
    mean: mean(values)!,
    sd: deviation(values) ?? null,
    min: Math.min(...values),
    max: Math.max(...values),
    ci: bootstrapMeanInterval(values, options),
  };
}

/** The percentile bootstrap interval of the mean of `values`; null below 2 values (one value has no spread to resample). */
export function bootstrapMeanInterval(values: readonly number[], { resamples = BOOTSTRAP_RESAMPLES, level = 0.95, seed = 0 }: BootstrapOptions = {}): [number, number] | null {
  const n = values.length;
  if (n < 2) return null;
  if (!(level > 0 && level < 1)) throw new RangeError(`bootstrap: level must be between 0 and 1 (got ${level})`);
  if (!Number.isInteger(resamples) || resamples < 1) throw new RangeError(`bootstrap: resamples must be a positive whole number (got ${resamples})`);
  const pick = randomInt.source(randomLcg(seed))(n);
  const means = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[pick()];
    means[b] = sum / n;
  }
  const sorted = Array.from(means.sort());
  const tail = (1 - level) / 2;
  return [quantileSorted(sorted, tail)!, quantileSorted(sorted, 1 - tail)!];
}
