/**
 * Model families behind one interface, so training (compile.ts, train-step.ts),
 * generation (generate.ts) and methods build any family the same way.
 *
 * An architecture is a plain config record (`ModelArch`: stored with runs and
 * checkpoints as JSON); `modelFamily(arch)` gives what the engine needs from
 * it: parameter shapes, the forward builder and the key/value cache layout.
 * A GPT2Config carries no tag (it predates the others); every other family's
 * config names itself in `family`.
 */
import type { GraphBuilder, Value } from '../onnx/graph.ts';
import type { ModelInputs, ModelOutputs } from './causal-lm.ts';
import { GPT2_READOUT_PARAMS, gpt2FinalNorm, gpt2Forward, gpt2ParamShapes, gpt2Readout, type GPT2Config } from './gpt2.ts';
import { llamaFinalNorm, llamaForward, llamaParamShapes, llamaReadout, llamaReadoutParams, type LlamaConfig } from './llama.ts';

export type ModelArch = GPT2Config | LlamaConfig;
export type FamilyName = 'gpt2' | 'llama';

export interface ModelFamily {
  readonly name: FamilyName;
  readonly arch: ModelArch;
  readonly vocabSize: number;
  /** Context length in positions. */
  readonly maxPositions: number;
  readonly nLayer: number;
  /** Width of the residual stream (hidden states are [B, T, hiddenSize]). */
  readonly hiddenSize: number;
  /** Query heads (attention probabilities are [B, nHead, T, Tk]). */
  readonly nHead: number;
  /** Cache layout per layer: [B, kvHeads, P, headDim]. */
  readonly kvHeads: number;
  readonly headDim: number;
  /** Parameter names (Hugging Face's) and shapes, in the family's order. */
  paramShapes(): Map<string, number[]>;
  /** Build the forward pass; `p` maps parameter names to graph values. */
  forward(g: GraphBuilder, p: Record<string, Value>, inp: ModelInputs): ModelOutputs;
  /** Parameters `readout` reads (the final norm's and the output projection's). */
  readonly readoutParams: string[];
  /** The end of the forward pass: a residual stream [..., C] through the final norm and the output projection to logits [..., V]. */
  readout(g: GraphBuilder, p: Record<string, Value>, h: Value): Value;
  /** The input embedding table's parameter name ([vocab, C]): token ids become inputs by gathering its rows. */
  readonly embedParam: string;
  /** The final norm alone, [..., C] → [..., C]: the last hidden state (Hugging Face's `hidden_states[-1]`). */
  finalNorm(g: GraphBuilder, p: Record<string, Value>, h: Value): Value;
}

export function isLlama(arch: ModelArch): arch is LlamaConfig {
  return (arch as LlamaConfig).family === 'llama';
}

export function modelFamily(arch: ModelArch): ModelFamily {
  if (isLlama(arch)) {
    return {
      name: 'llama', arch,
      vocabSize: arch.vocabSize, maxPositions: arch.maxPositions, nLayer: arch.nLayer, hiddenSize: arch.hiddenSize,
      nHead: arch.nHead, kvHeads: arch.nKvHead, headDim: arch.headDim,
      paramShapes: () => llamaParamShapes(arch),
      forward: (g, p, inp) => llamaForward(g, arch, p, inp),
      readoutParams: llamaReadoutParams(arch),
      readout: (g, p, h) => llamaReadout(g, arch, p, h),
      embedParam: 'model.embed_tokens.weight',
      finalNorm: (g, p, h) => llamaFinalNorm(g, arch, p, h),
    };
  }
  if ((arch as { family?: unknown }).family !== undefined) throw new Error(`unknown model family ${JSON.stringify((arch as { family?: unknown }).family)}`);
  return {
    name: 'gpt2', arch,
    vocabSize: arch.vocabSize, maxPositions: arch.nPositions, nLayer: arch.nLayer, hiddenSize: arch.nEmbd,
    nHead: arch.nHead, kvHeads: arch.nHead, headDim: arch.nEmbd / arch.nHead,
    paramShapes: () => gpt2ParamShapes(arch),
    forward: (g, p, inp) => gpt2Forward(g, arch, p, inp),
    readoutParams: GPT2_READOUT_PARAMS,
    readout: (g, p, h) => gpt2Readout(g, arch, p, h),
    embedParam: 'wte.weight',
    finalNorm: (g, p, h) => gpt2FinalNorm(g, arch, p, h),
  };
}

/** Parameter count of an architecture. */
export function paramCount(arch: ModelArch): number {
  let n = 0;
  for (const s of modelFamily(arch).paramShapes().values()) n += s.reduce((a, b) => a * b, 1);
  return n;
}

/** How base weights are fed: float32, or float16 (half the memory) widened to float32 in the graph. */
export type WeightDtype = 'float32' | 'float16';

/**
 * Graph inputs `p.<name>` for parameters. With float16 weights, each is cast to
 * float32 where the forward first reads it (the record creates the Cast on first
 * access), so ONNX Runtime holds the float32 copies of one layer at a time, not
 * of the whole model.
 */
export function paramInputs(g: GraphBuilder, shapes: Map<string, number[]>, dtype: WeightDtype = 'float32'): Record<string, Value> {
  const inputs: Record<string, Value> = {};
  for (const [name, shape] of shapes) inputs[name] = g.input(`p.${name}`, dtype, shape);
  if (dtype === 'float32') return inputs;
  const widened = new Map<string, Value>();
  return new Proxy(inputs, {
    get(target, name) {
      if (typeof name !== 'string' || !(name in target)) return undefined;
      let v = widened.get(name);
      if (!v) widened.set(name, (v = g.cast(target[name], 'float32', 'weight_f32')));
      return v;
    },
  });
}
