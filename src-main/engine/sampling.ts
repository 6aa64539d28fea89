/**
 * Choosing the next token from a row of logits: greedy (argmax) or sampled
 * with temperature, top-k and top-p (nucleus) filtering, driven by a seeded
 * random number generator so that a seed reproduces a generation exactly.
 *
 * Filters follow Hugging Face's order: temperature, then top-k, then top-p.
 * Probabilities are computed in float64, so the same logits and seed give the
 * same token on every platform.
 */
import { Rng as PRNG } from './init.ts';

export interface SamplingOptions {
  /** Softmax temperature; 0 means greedy (argmax). Default 0. */
  temperature?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches topP (0 < topP ≤ 1). Default 1 (off). */
  topP?: number;
  /** Keep only the k most likely tokens; 0 turns the filter off. Default 0. */
  topK?: number;
}

/** A uniform random number generator on [0, 1). */
export type Rng = () => number;

/** SplitMix32's finaliser: scrambles a 32-bit integer so nearby seeds give unrelated streams. */
function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * A uniform stream for (seed, stream), from the engine's seeded PRNG: one
 * stream per batch row, so row r draws exactly what it would draw generated
 * alone as row r, and seed 1 row 0 does not share a stream with seed 0 row 1.
 */
export function seededRng(seed: number, stream = 0): Rng {
  const hi = Math.floor(seed / 2 ** 32) | 0; // seeds beyond 32 bits still matter
  const rng = new PRNG(mix32(mix32(mix32(seed | 0) ^ hi) ^ stream));
  return () => rng.next();
}

/** Index of the largest value in logits[offset, offset+n); the first one on ties. */
export function argmax(logits: ArrayLike<number>, offset = 0, n = logits.length - offset): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = logits[offset + i];
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

export function validateSampling(opts: SamplingOptions): void {
  const { temperature = 0, topP = 1, topK = 0 } = opts;
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new Error(`sampling: temperature must be a finite number ≥ 0 (0 = greedy), got ${temperature}`);
  if (!(topP > 0 && topP <= 1)) throw new Error(`sampling: topP must be in (0, 1], got ${topP}`);
  if (!(Number.isInteger(topK) && topK >= 0)) throw new Error(`sampling: topK must be a whole number ≥ 0 (0 = off), got ${topK}`);
}

/**
 * The next token for one row: logits[offset, offset+vocab).
 * Greedy when temperature is 0; otherwise one draw from `rng`.
 */
export function sampleToken(logits: ArrayLike<number>, offset: number, vocab: number, opts: SamplingOptions, rng: Rng): number {
  const { temperature = 0, topP = 1, topK = 0 } = opts;
  if (temperature === 0) return argmax(logits, offset, vocab);

  // Softmax over logits / temperature, in float64.
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) max = Math.max(max, logits[offset + i]);
  const probs = new Float64Array(vocab);
  let total = 0;
  for (let i = 0; i < vocab; i++) {
    const p = Math.exp((logits[offset + i] - max) / temperature);
    probs[i] = p;
    total += p;
  }
  for (let i = 0; i < vocab; i++) probs[i] /= total;

  // Candidates, most likely first (stable: lower ids first on ties).
  let order: number[] = Array.from({ length: vocab }, (_, i) => i);
  if (topK > 0 || topP < 1) {
    order.sort((x, y) => probs[y] - probs[x] || x - y);
    if (topK > 0) order = order.slice(0, topK);
    if (topP < 1) {
      let cum = 0;
      let keep = 0;
      while (keep < order.length) {
        cum += probs[order[keep++]];
        if (cum >= topP) break;
      }
      order = order.slice(0, keep);
    }
  }

  let mass = 0;
  for (const i of order) mass += probs[i];
  let u = rng() * mass;
  for (const i of order) {
    u -= probs[i];
    if (u < 0) return i;
  }
  return order[order.length - 1]; // u landed on the rounding error at the top
}
