/**
 * GPT-2 as an ONNX graph, in Hugging Face's naming and layout: Conv1D weights
 * stored [in, out], tanh GELU (gelu_new), learned positions, the input
 * embedding tied to the output projection. Any depth, width, heads, context
 * and vocabulary. This file defines the graph and nothing else.
 */
import type { GraphBuilder, Value } from '../onnx/graph.ts';
import type { ModelInputs, ModelOutputs } from './causal-lm.ts';

export interface GPT2Config {
  vocabSize: number;
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  layerNormEpsilon: number;
}

export const GPT2_DEFAULTS: GPT2Config = { vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12, layerNormEpsilon: 1e-5 };

/** Parameter names and shapes, in Hugging Face order. */
export function gpt2ParamShapes(cfg: GPT2Config): Map<string, number[]> {
  const C = cfg.nEmbd;
  const shapes = new Map<string, number[]>([
    ['wte.weight', [cfg.vocabSize, C]],
    ['wpe.weight', [cfg.nPositions, C]],
  ]);
  for (let i = 0; i < cfg.nLayer; i++) {
    const p = `h.${i}.`;
    shapes.set(`${p}ln_1.weight`, [C]);
    shapes.set(`${p}ln_1.bias`, [C]);
    shapes.set(`${p}attn.c_attn.weight`, [C, 3 * C]);
    shapes.set(`${p}attn.c_attn.bias`, [3 * C]);
    shapes.set(`${p}attn.c_proj.weight`, [C, C]);
    shapes.set(`${p}attn.c_proj.bias`, [C]);
    shapes.set(`${p}ln_2.weight`, [C]);
    shapes.set(`${p}ln_2.bias`, [C]);
    shapes.set(`${p}mlp.c_fc.weight`, [C, 4 * C]);
    shapes.set(`${p}mlp.c_fc.bias`, [4 * C]);
    shapes.set(`${p}mlp.c_proj.weight`, [4 * C, C]);
    shapes.set(`${p}mlp.c_proj.bias`, [C]);
  }
  shapes.set('ln_f.weight', [C]);
  shapes.set('ln_f.bias', [C]);
  return shapes;
}

export function gpt2ParamCount(cfg: GPT2Config): number {
  let n = 0;
  for (const s of gpt2ParamShapes(cfg).values()) n += s.reduce((a, b) => a * b, 1);
  return n;
}

/** HF's masked_fill value: the most negative float32, so masked scores get exactly zero probability. */
const MASK_VALUE = -3.4028234663852886e38;

/** The forward pass. `p` maps Hugging Face parameter names to graph values. */
export function gpt2Forward(g: GraphBuilder, cfg: GPT2Config, p: Record<string, Value>, inp: ModelInputs): ModelOutputs {
  const C = cfg.nEmbd;
  const H = cfg.nHead;
  const D = C / H;
  if (!Number.isInteger(D)) throw new Error(`GPT-2: n_embd ${C} is not divisible by n_head ${H}`);
  const linear = (x: Value, name: string, hint: string) => g.add(g.matmul(x, p[`${name}.weight`]), p[`${name}.bias`], hint);
  const invSqrtD = g.scalar(1 / Math.sqrt(D));
  // Additive mask: 0 where attention is allowed, HF's mask value elsewhere. Adding it equals HF's
  // masked_fill (masked probabilities are exactly 0) and its gradient is free.
  const maskBias = g.where(inp.mask, g.scalar(0), g.scalar(MASK_VALUE), 'mask_bias'); // [T, Tk] or [B, 1, T, Tk]

  const tok = inp.inputEmbeds ?? g.gather(p['wte.weight'], inp.inputIds, 0, 'tok_emb'); // [B, T, C]
  const pos = g.gather(p['wpe.weight'], inp.positions, 0, 'pos_emb'); // [T, C] (or [B, T, C] for per-row positions)
  let x = g.add(tok, pos, 'h_in'); // [B, T, C]
  const hidden = [x];
  const attention: Value[] = [];
  const headOutputs: Value[] = [];
  const present: { key: Value; value: Value }[] = [];

  for (let i = 0; i < cfg.nLayer; i++) {
    x = g.scope(`h${i}`, () => {
      const ln1 = g.layerNorm(x, p[`h.${i}.ln_1.weight`], p[`h.${i}.ln_1.bias`], cfg.layerNormEpsilon, 'ln_1').y; // [B, T, C]
      const qkv = linear(ln1, `h.${i}.attn.c_attn`, 'qkv'); // [B, T, 3C]
      const [q, k, v] = g.split(qkv, -1, [C, C, C], 'qkv_split'); // 3 × [B, T, C]
      const heads = (t: Value, hint: string) => g.transpose(g.reshape(t, [0, 0, H, D]), [0, 2, 1, 3], hint); // [B, H, T, D]
      let kh = heads(k, 'k');
      let vh = heads(v, 'v');
      const past = inp.past?.[i];
      if (past) {
        kh = g.concat([past.key, kh], 2, 'k_all'); // [B, H, P+T, D]
        vh = g.concat([past.value, vh], 2, 'v_all');
      }
      present.push({ key: kh, value: vh });
      const qh = g.mul(heads(q, 'q'), invSqrtD, 'q_scaled'); // [B, H, T, D]
      const scores = g.matmul(qh, g.transpose(kh, [0, 1, 3, 2], 'kT'), 'scores'); // [B, H, T, Tk]
      const probs = g.softmax(g.add(scores, maskBias, 'scores_masked'), -1, 'attn'); // [B, H, T, Tk]
      attention.push(probs);
      const ctx = g.matmul(probs, vh, 'ctx'); // [B, H, T, D]
      headOutputs.push(ctx);
      const merged = g.reshape(g.transpose(ctx, [0, 2, 1, 3]), [0, 0, C], 'ctx_merged'); // [B, T, C]
      const attnOut = linear(merged, `h.${i}.attn.c_proj`, 'attn_out'); // [B, T, C]
      const mid = g.add(x, attnOut, 'resid_attn'); // [B, T, C]
      const ln2 = g.layerNorm(mid, p[`h.${i}.ln_2.weight`], p[`h.${i}.ln_2.bias`], cfg.layerNormEpsilon, 'ln_2').y;
      const fc = g.gelu(linear(ln2, `h.${i}.mlp.c_fc`, 'fc'), 'tanh', 'gelu'); // [B, T, 4C]
      const mlpOut = linear(fc, `h.${i}.mlp.c_proj`, 'mlp_out'); // [B, T, C]
      return g.add(mid, mlpOut, 'resid_mlp'); // [B, T, C]
    });
    hidden.push(x);
  }
  const logits = gpt2Readout(g, cfg, p, x); // [B, T, V]
  return { logits, hidden, attention, heads: headOutputs, present };
}

/** Parameters gpt2Readout reads. */
export const GPT2_READOUT_PARAMS = ['ln_f.weight', 'ln_f.bias', 'wte.weight'];

/**
 * The end of the model: a residual stream [..., C] through the final LayerNorm and the tied
 * unembedding to logits [..., V]. The forward pass ends with it, and the logit lens reads every
 * layer through it.
 */
export function gpt2Readout(g: GraphBuilder, cfg: GPT2Config, p: Record<string, Value>, x: Value): Value {
  const xf = gpt2FinalNorm(g, cfg, p, x); // [..., C]
  return g.matmul(xf, g.transpose(p['wte.weight'], [1, 0], 'wte_T'), 'logits'); // [..., V] (tied)
}

/** The final LayerNorm (ln_f) of a residual stream [..., C]: Hugging Face's last hidden state, what Coconut feeds back. */
export function gpt2FinalNorm(g: GraphBuilder, cfg: GPT2Config, p: Record<string, Value>, x: Value): Value {
  return g.layerNorm(x, p['ln_f.weight'], p['ln_f.bias'], cfg.layerNormEpsilon, 'ln_f').y; // [..., C]
}
