/**
 * Global-norm gradient clipping and AdamW as graph nodes, with PyTorch's
 * semantics (torch.nn.utils.clip_grad_norm_ then torch.optim.AdamW):
 *
 *   coef = min(1, max_norm / (‖g‖ + 1e-6));  g ← g·coef
 *   p ← p·(1 − lr·wd)                         (decoupled weight decay)
 *   m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²
 *   p ← p − lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + eps)
 *
 * The learning rate and the step t are graph inputs, so schedules and
 * optimizer resets (t back to 1, m = v = 0) need no new graph.
 */
import type { GraphBuilder, Value } from './onnx/graph.ts';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Clip the global gradient norm to this; 0 or Infinity disables clipping. */
  maxGradNorm: number;
  /** Parameters exempt from weight decay (PyTorch's default decays every parameter). */
  noDecay?: (name: string) => boolean;
}

export const ADAMW_DEFAULTS: AdamWConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1.0 };

export interface OptimizerParam {
  name: string;
  param: Value;
  grad: Value;
  m: Value;
  v: Value;
}

export interface OptimizerOutputs {
  /** ‖g‖ before clipping (a scalar). */
  gradNorm: Value;
  updated: { name: string; param: Value; m: Value; v: Value }[];
}

/** Append clipping and one AdamW step. `lr` and `step` are float32 scalars; `step` counts from 1. */
export function clipAndAdamW(g: GraphBuilder, cfg: AdamWConfig, params: OptimizerParam[], lr: Value, step: Value): OptimizerOutputs {
  return g.scope('adamw', () => {
    const c = (x: number) => g.scalar(x);
    const squares = params.map((p) => g.reduceSumSquare(p.grad, [...p.grad.shape.keys()], false, `sq_${p.name}`));
    const gradNorm = g.sqrt(g.sum(squares, 'grad_sq'), 'global_grad_norm'); // []
    const clip = cfg.maxGradNorm > 0 && Number.isFinite(cfg.maxGradNorm);
    const coef = clip ? g.min(g.div(c(cfg.maxGradNorm), g.add(gradNorm, c(1e-6))), c(1), 'clip_coef') : null;

    // Scalars first, so each parameter costs as few passes over memory as possible:
    //   m ← β1·m + ((1 − β1)·coef)·g,  v ← β2·v + ((1 − β2)·coef²)·g²,
    //   p ← p·(1 − lr·wd) − m / (√v·(1/(√(1 − β2^t)·s)) + eps/s),  s = lr/(1 − β1^t).
    const coef2 = coef ? g.mul(coef, coef, 'clip_coef_sq') : null;
    const s1 = coef ? g.mul(c(1 - cfg.beta1), coef, 's1') : c(1 - cfg.beta1);
    const s2 = coef2 ? g.mul(c(1 - cfg.beta2), coef2, 's2') : c(1 - cfg.beta2);
    const bc1 = g.sub(c(1), g.pow(c(cfg.beta1), step), 'bias_corr1'); // 1 − β1^t
    const bc2 = g.sub(c(1), g.pow(c(cfg.beta2), step), 'bias_corr2'); // 1 − β2^t
    const stepSize = g.div(lr, bc1, 'step_size');
    const sqrtScale = g.reciprocal(g.mul(g.sqrt(bc2), stepSize), 'sqrt_scale'); // 1/(√bc2·s)
    const epsScaled = g.div(c(cfg.eps), stepSize, 'eps_scaled'); // eps/s
    const decay = g.sub(c(1), g.mul(lr, c(cfg.weightDecay)), 'decay'); // 1 − lr·wd

    const updated = params.map((p) => {
      const decays = cfg.weightDecay !== 0 && !(cfg.noDecay?.(p.name) ?? false);
      const shrunk = decays ? g.mul(p.param, decay) : p.param;
      const m = g.add(g.mul(p.m, c(cfg.beta1)), g.mul(p.grad, s1), `m_${p.name}`);
      const v = g.add(g.mul(p.v, c(cfg.beta2)), g.mul(g.mul(p.grad, p.grad), s2), `v_${p.name}`);
      const denom = g.add(g.mul(g.sqrt(v), sqrtScale), epsScaled); // (√v/√bc2 + eps)/s
      const param = g.sub(shrunk, g.div(m, denom), `p_${p.name}`);
      return { name: p.name, param, m, v };
    });
    return { gradNorm, updated };
  });
}
