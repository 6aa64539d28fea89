/**
 * Full fine-tuning: every weight of the base trains. A method that reads the
 * model in several passes with different weights (Bitune's two passes over
 * the prompt) keeps one copy of the whole model per pass, named after the
 * adapter the pass would use (lora.ts: an adapter of type 'full' has no
 * tensors of its own): `<copy>.<parameter>`, e.g. `prefill.wte.weight`.
 * The `default` copy is the fine-tuned model itself, so "merging" is reading
 * it back under the base's names.
 */
import type { TensorMap } from './safetensors.ts';

/** The trainable copy `copy` of base parameter `name`. */
export function fullParamName(copy: string, name: string): string {
  return `${copy}.${name}`;
}

/** Names and shapes of one copy of the model. */
export function fullParamShapes(copy: string, baseShapes: Map<string, number[]>): Map<string, number[]> {
  return new Map([...baseShapes].map(([name, shape]) => [fullParamName(copy, name), shape]));
}

/** A copy starts as the base (its own arrays, so training one copy leaves the base and the others alone). */
export function initFullCopy(copy: string, base: TensorMap): TensorMap {
  return new Map([...base].map(([name, t]) => [fullParamName(copy, name), { shape: t.shape, data: Float32Array.from(t.data) }]));
}

/** Copy `copy` of the model under the base's own names, from the trained parameters. */
export function fullCopyWeights(copy: string, trained: TensorMap, baseShapes: Map<string, number[]>): TensorMap {
  const out: TensorMap = new Map();
  for (const [name, shape] of baseShapes) {
    const t = trained.get(fullParamName(copy, name));
    if (!t) throw new Error(`full fine-tuning: the trained parameters lack '${fullParamName(copy, name)}' (copy '${copy}' of '${name}')`);
    if (t.shape.join(',') !== shape.join(',')) throw new Error(`full fine-tuning: '${fullParamName(copy, name)}' has shape [${t.shape.join(', ')}], the model needs [${shape.join(', ')}]`);
    out.set(name, t);
  }
  return out;
}
