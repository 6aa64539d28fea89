/**
 * DoRA (Liu et al. 2024, "Weight-Decomposed Low-Rank Adaptation") as PEFT
 * computes it (peft/tuners/lora/dora.py, DoraLinearLayer): the adapted weight
 * is a learned magnitude per output feature times the direction of W + s·BA,
 *
 *   W' = m · (W + s·BA) / ‖W + s·BA‖,   ‖·‖ per output feature,
 *
 * where ‖·‖ is PEFT's `get_weight_norm`: the L2 norm over the input axis of
 * the [out, in] weight (a row of nn.Linear's weight; a column of GPT-2's
 * Conv1D [in, out] weight, which PEFT transposes first with fan_in_fan_out).
 * The norm is detached from the gradient (`weight_norm.detach()`, the DoRA
 * paper's section 4.3): it follows W + s·BA in the forward, and A, B learn
 * only through the direction's numerator. As in PEFT, the layer's output is
 *
 *   y = x·W + b + (m/‖·‖ − 1)·(x_d·W) + (m/‖·‖)·s·(x_d Aᵀ)Bᵀ,
 *
 * x_d being the input after the adapter's dropout (x itself without dropout,
 * where y = (m/‖·‖)·(x·W + s·x AᵀBᵀ) + b). The magnitude starts at ‖W‖, so the
 * adapted model starts as the base (B = 0).
 *
 * In PEFT's files DoRA is a LoRA adapter (`peft_type: "LORA"`, `use_dora:
 * true`) with one more tensor per module, `<module>.lora_magnitude_vector`
 * [out] (lora.ts writes and reads them).
 */
import { stopGradient } from './autodiff.ts';
import type { GraphBuilder, Value } from './onnx/graph.ts';

/** The magnitude parameter of a module's DoRA adapter, [out]. */
export function doraMagnitudeName(module: string, adapter: string): string {
  return `${module}.lora_magnitude_vector.${adapter}.weight`;
}

/** ‖W + s·BA‖ per output feature, from [out·in] or [in·out] data: PEFT's get_weight_norm (float64 sums). */
export function doraWeightNorm(
  w: Float32Array, A: Float32Array | null, B: Float32Array | null,
  dims: { in: number; out: number; r: number; scale: number; layout: 'in_out' | 'out_in' },
): Float32Array {
  const norm = new Float32Array(dims.out);
  for (let o = 0; o < dims.out; o++) {
    let ss = 0;
    for (let i = 0; i < dims.in; i++) {
      let v = w[dims.layout === 'in_out' ? i * dims.out + o : o * dims.in + i];
      if (A && B) {
        let d = 0;
        for (let j = 0; j < dims.r; j++) d += B[o * dims.r + j] * A[j * dims.in + i];
        v += dims.scale * d;
      }
      ss += v * v;
    }
    norm[o] = Math.sqrt(ss);
  }
  return norm;
}

/**
 * The DoRA layer's output in the graph. `y` = x·W (no bias) and `yDropped` = x_d·W (y itself
 * without dropout), `w` the matmul's [in, out] operand, `deltaW` AᵀBᵀ [in, out] and
 * `lora` (x_d Aᵀ)Bᵀ, both unscaled. `detachNorm` false lets the gradient flow through the
 * norm too (finite-difference checks of the whole computation); PEFT and training detach it.
 */
export function doraOutput(
  g: GraphBuilder,
  io: { y: Value; yDropped: Value; w: Value; magnitude: Value; deltaW: Value; lora: Value; scale: number; detachNorm: boolean },
): Value {
  const s = g.scalar(io.scale, io.y.dtype);
  const weight = g.add(io.w, g.mul(io.deltaW, s), 'dora_weight'); // W + s·BA as [in, out]
  const norm = g.sqrt(g.reduceSumSquare(weight, [0], false), 'dora_norm'); // [out]
  const scale = g.div(io.magnitude, io.detachNorm ? stopGradient(g, norm, 'dora_norm_detached') : norm, 'dora_mag_norm_scale'); // [out]
  const extra = g.add(g.mul(g.sub(scale, g.scalar(1, scale.dtype)), io.yDropped), g.mul(scale, g.mul(io.lora, s)), 'dora_extra'); // [..., out]
  return g.add(io.y, extra, 'dora_out'); // [..., out]
}
