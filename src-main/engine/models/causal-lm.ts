/**
 * What every causal language model of models/ shares, whatever its family:
 * the inputs and outputs of a forward pass, the causal mask of a training
 * graph, and the shifted next-token loss. gpt2.ts and llama.ts build their
 * graphs against these types; family.ts picks between them.
 */
import { makeArray, type GraphBuilder, type Value } from '../onnx/graph.ts';

export interface ModelInputs {
  /** Token ids [B, T] int64. */
  inputIds: Value;
  /** Position ids [T] int64 (0..T−1 for training; offset by the cache length when decoding), or [B, T] per row (padded batches). */
  positions: Value;
  /** Attention allowed [T, Tk] bool: query t may see key s; or [B, 1, T, Tk] per row (padded batches). */
  mask: Value;
  /** Keys and values of earlier positions per layer, [B, kvHeads, P, headDim] each (decoding with a cache). */
  past?: { key: Value; value: Value }[];
  /**
   * Input embeddings [B, T, C] used in place of looking up `inputIds` (which is then not read),
   * as Hugging Face's `inputs_embeds`: Coconut feeds a continuous thought back this way.
   */
  inputEmbeds?: Value;
}

export interface ModelOutputs {
  /** Next-token logits [B, T, V]. */
  logits: Value;
  /** Residual stream: embeddings, then after each block (before the final norm), each [B, T, C]. */
  hidden: Value[];
  /** Attention probabilities per layer [B, nHead, T, Tk]. */
  attention: Value[];
  /** Attention outputs per head before the output projection, per layer [B, nHead, T, headDim] (GPT-2; the running-sum probe reads them). */
  heads?: Value[];
  /** Keys and values per layer including the new positions, [B, kvHeads, P+T, headDim]. */
  present: { key: Value; value: Value }[];
}

/**
 * Mean cross-entropy of position t predicting labels[t+1], over labels ≠ −100
 * (Hugging Face's shifted causal-LM loss).
 */
export function causalLmLoss(g: GraphBuilder, logits: Value, labels: Value, vocabSize: number): Value {
  const B = labels.shape[0];
  if (typeof B !== 'number') throw new Error('causalLmLoss: the batch size must be static');
  const next = g.slice(labels, [1], [Number.MAX_SAFE_INTEGER], [1], 'labels_next'); // [B, T−1]
  const ignored = g.constant(makeArray(labels.dtype, new Array<number>(B).fill(-100)), labels.dtype, [B, 1], 'ignore_col'); // [B, 1]
  const targets = g.reshape(g.concat([next, ignored], 1, 'targets'), [-1]); // [B·T]
  const flat = g.reshape(logits, [-1, vocabSize], 'logits_flat'); // [B·T, V]
  return g.softmaxCrossEntropy(flat, targets, -100, 'mean', 'ce_loss').loss;
}

/** Causal mask [T, T] for training graphs with a static length. */
export function causalMask(g: GraphBuilder, T: number): Value {
  const data = new Uint8Array(T * T);
  for (let t = 0; t < T; t++) for (let s = 0; s <= t; s++) data[t * T + s] = 1;
  return g.constant(data, 'bool', [T, T], 'causal_mask');
}
