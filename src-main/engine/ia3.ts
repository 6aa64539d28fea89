/**
 * IA3 (Liu et al. 2022, "Few-Shot Parameter-Efficient Fine-Tuning is Better
 * and Cheaper than In-Context Learning") as PEFT computes it
 * (peft/tuners/ia3/layer.py): learned vectors ℓ that rescale activations,
 * initialised to 1 so the adapted model starts as the base.
 *
 * - A feed-forward module (PEFT's `feedforward_modules`: GPT-2's mlp.c_proj,
 *   Llama's down_proj) scales its input: y = (x ⊙ ℓ)·W + b, ℓ [1, in].
 * - Any other target (keys and values: GPT-2's fused c_attn, Llama's k_proj
 *   and v_proj) scales its output, bias included: y = (x·W + b) ⊙ ℓ, ℓ [out, 1].
 *
 * The vectors keep PEFT's shapes ([1, in] and [out, 1]), and PEFT's files
 * name them `base_model.model.<module>.ia3_l` (lora.ts writes and reads them,
 * `peft_type: "IA3"`). Merging multiplies W's input columns or output rows
 * (and, for output scaling, the bias) by ℓ, as PEFT's merge does.
 */
import type { TensorMap } from './safetensors.ts';

/** The scaling vector of a module's IA3 adapter. */
export function ia3ParamName(module: string, adapter: string): string {
  return `${module}.ia3_l.${adapter}`;
}

/** PEFT's shape of ℓ: [1, in] on a feed-forward module's input, [out, 1] on another's output. */
export function ia3Shape(m: { in: number; out: number; feedforward?: boolean }): number[] {
  return m.feedforward ? [1, m.in] : [m.out, 1];
}

/**
 * `base` with one module's ℓ folded in: W's input columns (feed-forward) or output rows and
 * bias (others) multiplied by ℓ, for [in, out] or [out, in] weights.
 */
export function mergeIa3Module(
  base: TensorMap, out: TensorMap, m: { module: string; in: number; out: number; feedforward?: boolean }, l: Float32Array, layout: 'in_out' | 'out_in',
): void {
  const w = base.get(`${m.module}.weight`)!;
  const merged = Float32Array.from(w.data);
  for (let o = 0; o < m.out; o++) {
    for (let i = 0; i < m.in; i++) merged[layout === 'in_out' ? i * m.out + o : o * m.in + i] *= m.feedforward ? l[i] : l[o];
  }
  out.set(`${m.module}.weight`, { shape: w.shape, data: merged });
  const bias = base.get(`${m.module}.bias`);
  if (bias && !m.feedforward) out.set(`${m.module}.bias`, { shape: bias.shape, data: Float32Array.from(bias.data, (b, o) => b * l[o]) });
}
