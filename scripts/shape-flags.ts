/**
 * The flags bench-train.ts and profile-train.ts share: a fresh GPT-2's shape, the batch, and
 * ONNX Runtime's intra-op threads, each a positive whole number (a bad one exits 2, naming it).
 */
import type { GPT2Config } from '../src-main/engine/models/gpt2.ts';
import { physicalCores } from '../src-main/engine/runtime.ts';

export const shapeFlags = {
  layers: { type: 'string', default: '4' },
  dim: { type: 'string', default: '256' },
  heads: { type: 'string', default: '4' },
  seq: { type: 'string', default: '128' },
  batch: { type: 'string', default: '8' },
  vocab: { type: 'string', default: '32' },
  /** Intra-op threads (default: the physical cores). */
  threads: { type: 'string' },
} as const;

/** A flag's value as a positive whole number; otherwise a message naming the flag, and exit code 2. */
export function positiveFlag(script: string, values: Record<string, unknown>, name: string): number {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v <= 0) {
    console.error(`${script}: --${name} must be a positive integer (got '${values[name]}')`);
    process.exit(2);
  }
  return v;
}

/** The model, batch, sequence length and threads the shape flags give. */
export function shapeOf(script: string, values: Record<string, unknown>): { arch: GPT2Config; batch: number; seq: number; threads: number } {
  const int = (name: string) => positiveFlag(script, values, name);
  const seq = int('seq');
  return {
    arch: { vocabSize: int('vocab'), nPositions: seq, nEmbd: int('dim'), nLayer: int('layers'), nHead: int('heads'), layerNormEpsilon: 1e-5 },
    batch: int('batch'),
    seq,
    threads: values.threads ? int('threads') : physicalCores(),
  };
}
