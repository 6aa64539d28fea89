/**
 * Llama-family decoders (Llama, Mistral, Qwen2, SmolLM and others in the same
 * layout) as an ONNX graph, in Hugging Face's naming and layout: linear weights
 * stored [out, in] (nn.Linear), RMSNorm before attention and MLP, rotary
 * position embeddings in the rotate-half convention, grouped-query attention
 * (key/value heads shared by groups of query heads), the SwiGLU MLP
 * down(silu(gate(x)) · up(x)), and an output projection that is `lm_head` or
 * the input embedding (tied). Optional biases on q/k/v (Qwen2; Llama's
 * attention_bias, which also puts one on o_proj) and on the MLP.
 *
 * Everything is built from standard ONNX ops the autodiff table covers:
 * RMSNorm as Pow/ReduceMean/Add/Sqrt/Div/Mul (the pattern ONNX Runtime fuses
 * into SimplifiedLayerNormalization where it can), SiLU as x·Sigmoid(x), and
 * the rotary tables computed in the graph from the position ids (Cos and Sin
 * of constants times positions: no gradient flows through them). This file
 * defines the graph and nothing else.
 */
import type { GraphBuilder, Value } from '../onnx/graph.ts';
import type { ModelInputs, ModelOutputs } from './causal-lm.ts';

/** How the rotary frequencies are rescaled for longer contexts (HF's rope_scaling). */
export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };

export interface LlamaConfig {
  family: 'llama';
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  nLayer: number;
  /** Query heads. */
  nHead: number;
  /** Key/value heads (nHead for plain multi-head attention; fewer for grouped-query attention). */
  nKvHead: number;
  /** Size of each head (hidden_size / num_attention_heads unless config.json says head_dim). */
  headDim: number;
  /** Context length (max_position_embeddings, capped by a sliding window if the model has one). */
  maxPositions: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  /** The output projection is the input embedding (no lm_head.weight). */
  tieWordEmbeddings: boolean;
  /** Biases on q_proj, k_proj, v_proj (Qwen2, or Llama's attention_bias). */
  qkvBias: boolean;
  /** Bias on o_proj (Llama's attention_bias). */
  oBias: boolean;
  /** Biases on gate_proj, up_proj, down_proj (mlp_bias). */
  mlpBias: boolean;
}

/** Parameter names and shapes, in Hugging Face order. Linear weights are [out, in]. */
export function llamaParamShapes(cfg: LlamaConfig): Map<string, number[]> {
  const C = cfg.hiddenSize;
  const Dq = cfg.nHead * cfg.headDim;
  const Dkv = cfg.nKvHead * cfg.headDim;
  const F = cfg.intermediateSize;
  const shapes = new Map<string, number[]>([['model.embed_tokens.weight', [cfg.vocabSize, C]]]);
  const linear = (name: string, out: number, inp: number, bias: boolean) => {
    shapes.set(`${name}.weight`, [out, inp]);
    if (bias) shapes.set(`${name}.bias`, [out]);
  };
  for (let i = 0; i < cfg.nLayer; i++) {
    const p = `model.layers.${i}.`;
    linear(`${p}self_attn.q_proj`, Dq, C, cfg.qkvBias);
    linear(`${p}self_attn.k_proj`, Dkv, C, cfg.qkvBias);
    linear(`${p}self_attn.v_proj`, Dkv, C, cfg.qkvBias);
    linear(`${p}self_attn.o_proj`, C, Dq, cfg.oBias);
    linear(`${p}mlp.gate_proj`, F, C, cfg.mlpBias);
    linear(`${p}mlp.up_proj`, F, C, cfg.mlpBias);
    linear(`${p}mlp.down_proj`, C, F, cfg.mlpBias);
    shapes.set(`${p}input_layernorm.weight`, [C]);
    shapes.set(`${p}post_attention_layernorm.weight`, [C]);
  }
  shapes.set('model.norm.weight', [C]);
  if (!cfg.tieWordEmbeddings) shapes.set('lm_head.weight', [cfg.vocabSize, C]);
  return shapes;
}

/**
 * Rotary inverse frequencies θ^(−2i/D) for i < D/2, with the config's scaling
 * applied (transformers' _compute_default / _linear / _llama3 parameters).
 */
export function ropeInvFreq(cfg: LlamaConfig): Float32Array {
  const D = cfg.headDim;
  const inv = Array.from({ length: D / 2 }, (_, i) => 1 / cfg.ropeTheta ** ((2 * i) / D));
  const s = cfg.ropeScaling;
  if (s?.type === 'linear') return Float32Array.from(inv, (f) => f / s.factor);
  if (s?.type === 'llama3') {
    const lowWavelen = s.originalMaxPositions / s.lowFreqFactor;
    const highWavelen = s.originalMaxPositions / s.highFreqFactor;
    return Float32Array.from(inv, (f) => {
      const wavelen = (2 * Math.PI) / f;
      if (wavelen < highWavelen) return f; // high frequencies: unchanged
      if (wavelen > lowWavelen) return f / s.factor; // low frequencies: scaled
      const smooth = (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      return (1 - smooth) * (f / s.factor) + smooth * f;
    });
  }
  return Float32Array.from(inv);
}

/** HF's mask value (torch.finfo(float32).min): masked scores get exactly zero probability. */
const MASK_VALUE = -3.4028234663852886e38;

/** The forward pass. `p` maps Hugging Face parameter names to graph values. */
export function llamaForward(g: GraphBuilder, cfg: LlamaConfig, p: Record<string, Value>, inp: ModelInputs): ModelOutputs {
  const { nHead: H, nKvHead: K, headDim: D } = cfg;
  if (H % K !== 0) throw new Error(`Llama: num_attention_heads ${H} is not a multiple of num_key_value_heads ${K}`);
  if (D % 2 !== 0) throw new Error(`Llama: head_dim ${D} must be even for rotary embeddings`);
  const G = H / K; // query heads per key/value head
  const linear = (x: Value, name: string, bias: boolean, hint: string) => {
    const y = g.matmul(x, g.transpose(p[`${name}.weight`], [1, 0], `${hint}_wT`), hint); // x·Wᵀ
    return bias ? g.add(y, p[`${name}.bias`], `${hint}_b`) : y;
  };
  const eps = g.scalar(cfg.rmsNormEps);
  const two = g.scalar(2);
  const norm = (x: Value, weight: string, hint: string) => rmsNorm(g, x, p[weight], eps, two, hint); // [B, T, C]
  const invSqrtD = g.scalar(1 / Math.sqrt(D));
  const maskBias = g.where(inp.mask, g.scalar(0), g.scalar(MASK_VALUE), 'mask_bias'); // [T, Tk] or [B, 1, T, Tk]

  // Rotary tables from the positions: angle = position · inv_freq, duplicated to D (rotate-half layout).
  const invFreq = g.constant(ropeInvFreq(cfg), 'float32', [D / 2], 'rope_inv_freq'); // [D/2]
  const pos = g.unsqueeze(g.cast(inp.positions, 'float32', 'pos_f'), [-1]); // [T, 1] or [B, T, 1]
  const half = g.mul(pos, invFreq, 'rope_freqs'); // [T, D/2] or [B, T, D/2]
  const angles = g.concat([half, half], -1, 'rope_angles'); // [T, D] or [B, T, D]
  const trig = (op: 'Cos' | 'Sin') => {
    const t = g.node(op, [angles], [{ dtype: 'float32', shape: angles.shape, hint: `rope_${op.toLowerCase()}` }])[0];
    return inp.positions.shape.length === 2 ? g.unsqueeze(t, [1]) : t; // broadcasts over [B, heads, T, D]
  };
  const cos = trig('Cos');
  const sin = trig('Sin');
  /** x·cos + rotate_half(x)·sin, rotate_half([x1, x2]) = [−x2, x1]. */
  const rope = (x: Value, hint: string) => {
    const [x1, x2] = g.split(x, -1, [D / 2, D / 2], `${hint}_halves`); // 2 × [B, h, T, D/2]
    const rotated = g.concat([g.neg(x2), x1], -1, `${hint}_rot`); // [B, h, T, D]
    return g.add(g.mul(x, cos), g.mul(rotated, sin), hint); // [B, h, T, D]
  };
  /** [B, T, n·D] → [B, n, T, D]. */
  const heads = (t: Value, n: number, hint: string) => g.transpose(g.reshape(t, [0, 0, n, D]), [0, 2, 1, 3], hint);
  /** Each key/value head serves G query heads (transformers' repeat_kv): [B, K, Tk, D] → [B, H, Tk, D]. */
  const repeatKv = (t: Value, hint: string) => {
    if (G === 1) return t;
    const [B, , Tk] = t.shape;
    const wide = g.expand(g.unsqueeze(t, [2]), g.ints([1, 1, G, 1, 1], 'kv_groups'), [B, K, G, Tk, D], `${hint}_groups`); // [B, K, G, Tk, D]
    return g.reshape(wide, [0, H, -1, D], hint); // [B, H, Tk, D]
  };

  let x = inp.inputEmbeds ?? g.gather(p['model.embed_tokens.weight'], inp.inputIds, 0, 'tok_emb'); // [B, T, C]
  const hidden = [x];
  const attention: Value[] = [];
  const present: { key: Value; value: Value }[] = [];
  for (let i = 0; i < cfg.nLayer; i++) {
    const l = `model.layers.${i}.`;
    x = g.scope(`layer${i}`, () => {
      const h = norm(x, `${l}input_layernorm.weight`, 'input_norm'); // [B, T, C]
      const q = rope(heads(linear(h, `${l}self_attn.q_proj`, cfg.qkvBias, 'q_lin'), H, 'q_heads'), 'q'); // [B, H, T, D]
      let k = rope(heads(linear(h, `${l}self_attn.k_proj`, cfg.qkvBias, 'k_lin'), K, 'k_heads'), 'k'); // [B, K, T, D]
      let v = heads(linear(h, `${l}self_attn.v_proj`, cfg.qkvBias, 'v_lin'), K, 'v'); // [B, K, T, D]
      const past = inp.past?.[i];
      if (past) {
        k = g.concat([past.key, k], 2, 'k_all'); // [B, K, P+T, D]
        v = g.concat([past.value, v], 2, 'v_all');
      }
      present.push({ key: k, value: v });
      const scores = g.matmul(g.mul(q, invSqrtD, 'q_scaled'), g.transpose(repeatKv(k, 'k_rep'), [0, 1, 3, 2], 'kT'), 'scores'); // [B, H, T, Tk]
      const probs = g.softmax(g.add(scores, maskBias, 'scores_masked'), -1, 'attn'); // [B, H, T, Tk]
      attention.push(probs);
      const ctx = g.matmul(probs, repeatKv(v, 'v_rep'), 'ctx'); // [B, H, T, D]
      const merged = g.reshape(g.transpose(ctx, [0, 2, 1, 3]), [0, 0, H * D], 'ctx_merged'); // [B, T, H·D]
      const mid = g.add(x, linear(merged, `${l}self_attn.o_proj`, cfg.oBias, 'attn_out'), 'resid_attn'); // [B, T, C]
      const h2 = norm(mid, `${l}post_attention_layernorm.weight`, 'post_attn_norm'); // [B, T, C]
      const gate = linear(h2, `${l}mlp.gate_proj`, cfg.mlpBias, 'gate'); // [B, T, F]
      const silu = g.mul(gate, g.node('Sigmoid', [gate], [{ dtype: gate.dtype, shape: gate.shape, hint: 'gate_sigmoid' }])[0], 'silu'); // [B, T, F]
      const up = linear(h2, `${l}mlp.up_proj`, cfg.mlpBias, 'up'); // [B, T, F]
      const mlpOut = linear(g.mul(silu, up, 'swiglu'), `${l}mlp.down_proj`, cfg.mlpBias, 'mlp_out'); // [B, T, C]
      return g.add(mid, mlpOut, 'resid_mlp'); // [B, T, C]
    });
    hidden.push(x);
  }
  const logits = llamaReadout(g, cfg, p, x, { eps, two }); // [B, T, V]
  return { logits, hidden, attention, present };
}

/** RMSNorm: w · x / √(mean(x²) + ε) over the last axis (`eps` and `two` are scalar constants). */
function rmsNorm(g: GraphBuilder, x: Value, w: Value, eps: Value, two: Value, hint: string): Value {
  const ms = g.reduceMean(g.pow(x, two), [-1], true, `${hint}_ms`); // [..., 1]
  const rms = g.sqrt(g.add(ms, eps), `${hint}_rms`); // [..., 1]
  return g.mul(g.div(x, rms), w, hint); // [..., C]
}

/** Parameters llamaReadout reads: the final norm, and the output projection (the input embedding when tied). */
export function llamaReadoutParams(cfg: LlamaConfig): string[] {
  return ['model.norm.weight', cfg.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight'];
}

/**
 * The end of the model: a residual stream [..., C] through the final RMSNorm and the output
 * projection (lm_head, or the input embedding when tied) to logits [..., V]. The forward pass ends
 * with it, and the logit lens reads every layer through it.
 */
export function llamaReadout(g: GraphBuilder, cfg: LlamaConfig, p: Record<string, Value>, x: Value, scalars?: { eps: Value; two: Value }): Value {
  const xf = llamaFinalNorm(g, cfg, p, x, scalars); // [..., C]
  return cfg.tieWordEmbeddings
    ? g.matmul(xf, g.transpose(p['model.embed_tokens.weight'], [1, 0], 'embed_T'), 'logits') // [..., V] (tied)
    : g.matmul(xf, g.transpose(p['lm_head.weight'], [1, 0], 'logits_wT'), 'logits'); // [..., V]
}

/** The final RMSNorm (model.norm) of a residual stream [..., C]: Hugging Face's last hidden state, what Coconut feeds back. */
export function llamaFinalNorm(g: GraphBuilder, cfg: LlamaConfig, p: Record<string, Value>, x: Value, scalars?: { eps: Value; two: Value }): Value {
  const { eps, two } = scalars ?? { eps: g.scalar(cfg.rmsNormEps), two: g.scalar(2) };
  return rmsNorm(g, x, p['model.norm.weight'], eps, two, 'final_norm'); // [..., C]
}
