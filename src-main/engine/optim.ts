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

export interface FlatState {
  /** All parameters, concatenated [N]. */
  param: Value;
  /** Their gradients, in the same order [N]. */
  grad: Value;
  m: Value;
  v: Value;
  /**
   * Per-element weight-decay switch [N] (1 = decay), only when some parameters are exempt;
   * absent: every parameter decays (PyTorch's default).
   */
  decayMask?: Value;
}

export interface OptimizerOutputs {
  /** ‖g‖ before clipping (a scalar). */
  gradNorm: Value;
  param: Value;
  m: Value;
  v: Value;
}

/**
 * Clipping over the global norm of every group's gradient, then AdamW on each group: a group is
 * one large parameter in its own shape, or several small ones laid flat, so that the large ones
 * need no concatenation of gradients nor splitting of parameters, and the small ones share a
 * dozen nodes instead of a dozen each. The arithmetic per element is the same whatever the
 * grouping. `lr` and `step` are float32 scalars; `step` counts from 1.
 */
export function clipAndAdamWGroups(g: GraphBuilder, cfg: AdamWConfig, groups: FlatState[], lr: Value, step: Value): { gradNorm: Value; groups: OptimizerOutputs[] } {
  return g.scope('adamw', () => {
    const c = (x: number) => g.scalar(x);
    const all = (x: Value) => [...x.shape.keys()];
    const squares = groups.map((s, i) => g.reduceSumSquare(s.grad, all(s.grad), false, `grad_sq_${i}`)); // []
    const gradNorm = g.sqrt(squares.length === 1 ? squares[0] : g.sum(squares, 'grad_sq'), 'global_grad_norm'); // []
    const clip = cfg.maxGradNorm > 0 && Number.isFinite(cfg.maxGradNorm);
    const coef = clip ? g.min(g.div(c(cfg.maxGradNorm), g.add(gradNorm, c(1e-6))), c(1), 'clip_coef') : null;

    // Scalars first, so the vector costs as few passes over memory as possible:
    //   m ← β1·m + ((1 − β1)·coef)·g,  v ← β2·v + ((1 − β2)·coef²)·g²,
    //   p ← p·(1 − lr·wd) − m / (√v·(1/(√(1 − β2^t)·s)) + eps/s),  s = lr/(1 − β1^t).
    const s1 = coef ? g.mul(c(1 - cfg.beta1), coef, 's1') : c(1 - cfg.beta1);
    const s2 = coef ? g.mul(c(1 - cfg.beta2), g.mul(coef, coef), 's2') : c(1 - cfg.beta2);
    const bc1 = g.sub(c(1), g.pow(c(cfg.beta1), step), 'bias_corr1'); // 1 − β1^t
    const bc2 = g.sub(c(1), g.pow(c(cfg.beta2), step), 'bias_corr2'); // 1 − β2^t
    const stepSize = g.div(lr, bc1, 'step_size');
    // At a learning rate of exactly 0 (the last step of a cosine or linear schedule) eps/s is +∞,
    // so the denominator is +∞ and the update exactly 0; √v's factor uses s floored at 1e-30 so
    // that it stays finite (0·∞ would be NaN where v = 0). Above 1e-30 the floor changes nothing.
    const sqrtScale = g.reciprocal(g.mul(g.sqrt(bc2), g.max(stepSize, c(1e-30))), 'sqrt_scale'); // 1/(√bc2·s)
    const epsScaled = g.div(c(cfg.eps), stepSize, 'eps_scaled'); // eps/s
    const lrWd = g.mul(lr, c(cfg.weightDecay)); // lr·wd
    const uniformDecay = cfg.weightDecay !== 0 ? g.sub(c(1), lrWd, 'decay') : null;

    const outs = groups.map((s) => {
      let shrunk = s.param;
      if (uniformDecay) {
        // p·(1 − lr·wd), or p·(1 − lr·wd·mask) when some parameters are exempt.
        const decay = s.decayMask ? g.sub(c(1), g.mul(s.decayMask, lrWd)) : uniformDecay;
        shrunk = g.mul(s.param, decay, 'decayed');
      }
      const m = g.add(g.mul(s.m, c(cfg.beta1)), g.mul(s.grad, s1), 'm'); // [N]
      const v = g.add(g.mul(s.v, c(cfg.beta2)), g.mul(g.mul(s.grad, s.grad), s2), 'v'); // [N]
      const denom = g.add(g.mul(g.sqrt(v), sqrtScale), epsScaled); // (√v/√bc2 + eps)/s
      const param = g.sub(shrunk, g.div(m, denom), 'param'); // [N]
      return { gradNorm, param, m, v };
    });
    return { gradNorm, groups: outs };
  });
}
