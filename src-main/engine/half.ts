/**
 * IEEE half precision (float16) storage for weights that stay in 16 bits:
 * float32 → float16 bits with round-to-nearest-even, as numpy's astype and
 * torch's .half() do (overflow to ±∞, gradual underflow to subnormals), and
 * float16 tensors for ONNX Runtime.
 */
import { ort } from './runtime.ts';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** One float32 value as float16 bits. */
export function halfBits(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // ∞ or NaN
  const e = exp - 127 + 15; // the half's biased exponent
  const round = (m: number, shift: number) => {
    const q = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    return rem > half || (rem === half && q & 1) ? q + 1 : q;
  };
  if (e >= 31) return sign | 0x7c00; // too large: ∞
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: ±0
    mant |= 0x800000; // the implicit leading 1
    return sign | round(mant, 14 - e); // subnormal (a carry into the exponent field is correct rounding)
  }
  return sign | ((e << 10) + round(mant, 13)); // a carry into the exponent is correct rounding
}

/** A float32 array as float16 bits. */
export function toHalf(xs: Float32Array): Uint16Array {
  const out = new Uint16Array(xs.length);
  for (let i = 0; i < xs.length; i++) out[i] = halfBits(xs[i]);
  return out;
}

/**
 * A float16 ort.Tensor over these bits. onnxruntime-common wraps Uint16Array data in a
 * Float16Array view where the runtime has one (Node ≥ 23), and onnxruntime-node 1.30 then
 * reads that view's byte length as 0 ("not enough space": microsoft/onnxruntime PR #32323);
 * the binding takes the Uint16Array itself, so the tensor is handed that.
 */
export function float16Tensor(bits: Uint16Array, dims: readonly number[]): ort.Tensor {
  const t = new ort.Tensor('float16', bits, dims);
  if (!(t.data instanceof Uint16Array)) (t as unknown as { cpuData: Uint16Array }).cpuData = bits;
  return t;
}
