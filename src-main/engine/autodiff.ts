/**
 * Reverse-mode differentiation of ONNX graphs built with GraphBuilder.
 *
 * `RULES` maps each op the models use to its vector-Jacobian product, written
 * in standard ONNX ops (tinygrad's gradient table, micrograd's local backward
 * closures). `gradients()` walks the graph backwards from a scalar loss and
 * sums the contributions where a value feeds several consumers.
 * Adding an op means adding one rule here and one finite-difference test in
 * test/engine/gradient-rules.test.ts, nothing else.
 */
import type { GraphBuilder, Node, Value } from './onnx/graph.ts';

/** Given the node and the gradients of its outputs (null where none flows), the gradients of its inputs. */
export type GradRule = (g: GraphBuilder, node: Node, dOut: readonly (Value | null)[]) => (Value | null)[];

const FLOAT_TYPES = new Set(['float32', 'float64', 'float16', 'bfloat16']);
export const isFloat = (v: Value): boolean => FLOAT_TYPES.has(v.dtype);

function staticShape(v: Value): number[] | null {
  return v.shape.every((d) => typeof d === 'number') ? (v.shape as number[]) : null;
}

/** Sum `grad` (shaped like a broadcast result) down to the shape of `input`. */
export function unbroadcast(g: GraphBuilder, grad: Value, input: Value): Value {
  const lead = grad.shape.length - input.shape.length;
  const axes: number[] = [];
  for (let i = 0; i < grad.shape.length; i++) {
    if (i < lead) axes.push(i);
    else if (input.shape[i - lead] === 1 && grad.shape[i] !== 1) axes.push(i);
  }
  if (axes.length === 0) return grad;
  const shape = staticShape(grad);
  if (shape && input.shape.length === 1 && lead > 0 && axes.length === lead) return sumLeading(g, grad, shape, 'unbroadcast');
  const reduced = g.reduceSum(grad, axes, true, 'unbroadcast'); // keep dims, then drop the leading ones
  return g.reshapeLike(reduced, input);
}

/**
 * Sum a static [..., C] over every axis but the last, as ones[1, M]·x[M, C]: a bias's gradient.
 * ORT's ReduceSum over leading axes walks the rows on one thread; the product uses them all.
 */
function sumLeading(g: GraphBuilder, x: Value, shape: number[], hint: string): Value {
  const C = shape[shape.length - 1];
  const M = shape.slice(0, -1).reduce((p, q) => p * q, 1);
  const ones = g.constantOfShape(g.ints([1, M], 'shape'), [1, M], 1, x.dtype, 'ones'); // [1, M]
  return g.reshape(g.matmul(ones, g.reshape(x, [M, C])), [C], hint); // [C]
}

/** Tables up to this many rows × picks get their Gather gradient as a one-hot MatMul. */
const ONE_HOT_LIMIT = 1 << 22;

/** Zeros shaped like `v`. */
export function zerosLike(g: GraphBuilder, v: Value): Value {
  const s = staticShape(v);
  return g.constantOfShape(s ? g.ints(s, 'shape') : g.shape(v), v.shape, 0, v.dtype, 'zeros');
}

/** `x` broadcast to the runtime shape of `like`. */
function expandLike(g: GraphBuilder, x: Value, like: Value): Value {
  const s = staticShape(like);
  return g.expand(x, s ? g.ints(s, 'shape') : g.shape(like), like.shape, 'expand');
}

function scalarLike(g: GraphBuilder, x: number, like: Value): Value {
  return g.scalar(x, like.dtype);
}

/** Swap the last two axes. */
function transposeLast2(g: GraphBuilder, x: Value): Value {
  return transposed(g, x, swapLast2(x.shape.length), 'T');
}

function swapLast2(rank: number): number[] {
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return perm;
}

/**
 * `x` transposed by `perm`, simplified where the backward pass would otherwise move data twice:
 * a transpose that undoes the one that made `x` is its source, and a
 * product with its last two axes swapped, (A·B)ᵀ, is Bᵀ·Aᵀ, whose operand transposes ONNX
 * Runtime reads in place (FusedMatMul). Attention's query and key gradients are such cases: they
 * would otherwise transpose [B, H, D, T] twice per layer.
 */
function transposed(g: GraphBuilder, x: Value, perm: number[], hint: string): Value {
  if (perm.every((p, i) => p === i)) return x;
  const src = x.producer;
  if (src?.op === 'Transpose' && src.domain === '') {
    const inner = (src.attrs.perm as { ints: number[] }).ints;
    if (perm.every((p, i) => inner[p] === i)) return src.inputs[0] as Value;
  }
  const r = perm.length;
  if (src?.op === 'MatMul' && src.domain === '' && r >= 2 && perm.every((p, i) => p === swapLast2(r)[i])) {
    const [a, b] = inputsOf(src);
    if (a.shape.length === r && b.shape.length === r) return g.matmul(transposeLast2(g, b), transposeLast2(g, a), hint);
  }
  return g.transpose(x, perm, hint);
}

function inputsOf(node: Node): Value[] {
  return node.inputs.map((v) => v as Value);
}

/** Constant int64 data of a value made with g.ints(), or null. */
function constInts(g: GraphBuilder, v: Value | null): number[] | null {
  if (!v) return null;
  const c = g.constants.get(v.name);
  return c ? Array.from(c.data as BigInt64Array, Number) : null;
}

function reducedAxes(g: GraphBuilder, node: Node): number[] {
  const x = node.inputs[0] as Value;
  const axes = constInts(g, node.inputs[1] ?? null);
  if (!axes) return [...x.shape.keys()];
  return axes.map((a) => (a < 0 ? a + x.shape.length : a));
}

/** Bring a reduction's output gradient back to the input's rank (keepdims form). */
function keepdimsGrad(g: GraphBuilder, node: Node, dy: Value): Value {
  const keep = node.attrs.keepdims && 'i' in node.attrs.keepdims ? node.attrs.keepdims.i : 1;
  return keep ? dy : g.unsqueeze(dy, reducedAxes(g, node), 'keepdims');
}

function reduceCount(g: GraphBuilder, node: Node): Value {
  const x = node.inputs[0] as Value;
  const axes = reducedAxes(g, node);
  const dims = axes.map((a) => x.shape[a]);
  if (dims.every((d) => typeof d === 'number')) return scalarLike(g, (dims as number[]).reduce((p, q) => p * q, 1), x);
  const sizes = g.gather(g.shape(x), g.ints(axes, 'axes'), 0, 'reduced_dims');
  const prod = g.node('ReduceProd', [sizes], [{ dtype: 'int64', shape: [], hint: 'count' }], { keepdims: { i: 0 } })[0];
  return g.cast(prod, x.dtype, 'count');
}

export const RULES: Record<string, GradRule> = {
  Identity: (_g, _n, [dy]) => [dy],

  Add: (g, n, [dy]) => {
    const [a, b] = inputsOf(n);
    return [unbroadcast(g, dy!, a), unbroadcast(g, dy!, b)];
  },

  Sub: (g, n, [dy]) => {
    const [a, b] = inputsOf(n);
    return [unbroadcast(g, dy!, a), unbroadcast(g, g.neg(dy!), b)];
  },

  Mul: (g, n, [dy]) => {
    const [a, b] = inputsOf(n);
    return [unbroadcast(g, g.mul(dy!, b), a), unbroadcast(g, g.mul(dy!, a), b)];
  },

  Div: (g, n, [dy]) => {
    const [a, b] = inputsOf(n);
    const y = n.outputs[0];
    const da = g.div(dy!, b); // dy / b
    const db = g.neg(g.mul(da, y)); // -dy·a/b² = -(dy/b)·(a/b)
    return [unbroadcast(g, da, a), unbroadcast(g, db, b)];
  },

  Sum: (g, n, [dy]) => inputsOf(n).map((x) => unbroadcast(g, dy!, x)),

  Neg: (g, _n, [dy]) => [g.neg(dy!)],

  Exp: (g, n, [dy]) => [g.mul(dy!, n.outputs[0])],

  Log: (g, n, [dy]) => [g.div(dy!, n.inputs[0] as Value)],

  Sqrt: (g, n, [dy]) => [g.div(g.mul(dy!, scalarLike(g, 0.5, dy!)), n.outputs[0])],

  Reciprocal: (g, n, [dy]) => {
    const y = n.outputs[0];
    return [g.neg(g.mul(dy!, g.mul(y, y)))];
  },

  Tanh: (g, n, [dy]) => {
    const y = n.outputs[0];
    return [g.mul(dy!, g.sub(scalarLike(g, 1, y), g.mul(y, y)))];
  },

  /** y = σ(x): dx = dy·y·(1 − y). */
  Sigmoid: (g, n, [dy]) => {
    const y = n.outputs[0];
    return [g.mul(dy!, g.mul(y, g.sub(scalarLike(g, 1, y), y)))];
  },

  /** x^p for a constant exponent p: p·x^(p−1). */
  Pow: (g, n, [dy]) => {
    const [x, p] = inputsOf(n);
    const pm1 = g.sub(p, scalarLike(g, 1, p));
    const dx = g.mul(dy!, g.mul(p, g.pow(x, pm1)));
    return [unbroadcast(g, dx, x), null];
  },

  Cast: (g, n, [dy]) => {
    const x = n.inputs[0] as Value;
    return [isFloat(x) ? g.cast(dy!, x.dtype) : null];
  },

  /** Masking: the gradient flows to whichever branch was chosen. */
  Where: (g, n, [dy]) => {
    const [cond, a, b] = inputsOf(n);
    const zero = scalarLike(g, 0, dy!);
    return [null, unbroadcast(g, g.where(cond, dy!, zero), a), unbroadcast(g, g.where(cond, zero, dy!), b)];
  },

  /** [..., M, K] @ [..., K, N]: dA = dY·Bᵀ, dB = Aᵀ·dY, batch dims summed where broadcast. */
  MatMul: (g, n, [dy]) => {
    const [a, b] = inputsOf(n);
    const da = unbroadcast(g, g.matmul(dy!, transposeLast2(g, b), 'dA'), a);
    let db: Value;
    if (b.shape.length === 2 && a.shape.length > 2) {
      // Weight of a linear layer: fold the batch into rows, [K, B·T] @ [B·T, N].
      const a2 = g.reshape(a, [-1, a.shape[a.shape.length - 1] as number]);
      const dy2 = g.reshape(dy!, [-1, dy!.shape[dy!.shape.length - 1] as number]);
      db = g.matmul(transposeLast2(g, a2), dy2, 'dB');
    } else {
      db = unbroadcast(g, g.matmul(transposeLast2(g, a), dy!, 'dB'), b);
    }
    return [da, db];
  },

  Transpose: (g, n, [dy]) => {
    const perm = (n.attrs.perm as { ints: number[] }).ints;
    const inverse = new Array<number>(perm.length);
    perm.forEach((p, i) => (inverse[p] = i));
    return [transposed(g, dy!, inverse, 'dT'), null];
  },

  Reshape: (g, n, [dy]) => [g.reshapeLike(dy!, n.inputs[0] as Value), null],
  Unsqueeze: (g, n, [dy]) => [g.reshapeLike(dy!, n.inputs[0] as Value), null],
  Squeeze: (g, n, [dy]) => [g.reshapeLike(dy!, n.inputs[0] as Value), null],
  Expand: (g, n, [dy]) => [unbroadcast(g, dy!, n.inputs[0] as Value), null],

  Split: (g, n, dOut) => {
    const axis = (n.attrs.axis as { i: number }).i;
    const parts = n.outputs.map((o, i) => dOut[i] ?? zerosLike(g, o));
    return [g.concat(parts, axis, 'dSplit'), null];
  },

  Concat: (g, n, [dy]) => {
    const axis = (n.attrs.axis as { i: number }).i;
    const xs = inputsOf(n);
    const sizes = xs.map((x) => x.shape[axis]);
    if (!sizes.every((s) => typeof s === 'number')) throw new Error(`Concat gradient needs static sizes on axis ${axis} (${n.name})`);
    return g.split(dy!, axis, sizes as number[], 'dConcat');
  },

  /** Static slice: the gradient is dy padded back with zeros. */
  Slice: (g, n, [dy]) => {
    const x = n.inputs[0] as Value;
    const starts = constInts(g, n.inputs[1]);
    const ends = constInts(g, n.inputs[2]);
    const axes = constInts(g, n.inputs[3]) ?? starts!.map((_, i) => i);
    const steps = constInts(g, n.inputs[4] ?? null);
    if (!starts || !ends || (steps && steps.some((s) => s !== 1))) throw new Error(`Slice gradient needs constant starts/ends and unit steps (${n.name})`);
    const rank = x.shape.length;
    const pads = new Array<number>(2 * rank).fill(0);
    axes.forEach((ax, j) => {
      const a = ax < 0 ? ax + rank : ax;
      const d = x.shape[a];
      if (typeof d !== 'number') throw new Error(`Slice gradient needs a static dim on axis ${a} (${n.name})`);
      const clamp = (i: number) => Math.min(Math.max(i < 0 ? i + d : i, 0), d);
      const s = clamp(starts[j]);
      const e = clamp(ends[j]);
      pads[a] = s;
      pads[a + rank] = d - e;
    });
    const dx = g.node('Pad', [dy!, g.ints(pads, 'pads')], [{ dtype: x.dtype, shape: x.shape, hint: 'dSlice' }], { mode: { s: 'constant' } })[0];
    return [dx, null, null, null, null];
  },

  /**
   * Embedding lookup, data [V, ...] gathered on axis 0: the gradient scatters dy rows back, adding
   * rows that share an index. ScatterElements with reduction=add (ScatterND's loses updates on
   * several threads: onnxruntime issue 18048).
   */
  Gather: (g, n, [dy]) => {
    const [data, indices] = inputsOf(n);
    const axis = (n.attrs.axis as { i: number }).i;
    if (axis !== 0) throw new Error(`Gather gradient supports axis 0 only (${n.name})`);
    const row = data.shape.slice(1);
    const rows = data.shape[0];
    const picks = staticShape(indices)?.reduce((p, q) => p * q, 1);
    if (dy!.dtype === 'float32' && row.length === 1 && typeof rows === 'number' && typeof row[0] === 'number' && picks !== undefined && rows * picks <= ONE_HOT_LIMIT) {
      // A small table (positions, a compact vocabulary): dTable = onehot(indices)ᵀ·dy, one MatMul
      // where ScatterElements adds row by row on one thread.
      const oh = g.oneHot(g.reshape(indices, [-1], 'gather_idx'), rows, dy!.dtype, 'gather_onehot'); // [N, V]
      const dyFlat = g.reshape(dy!, [-1, row[0]], 'gather_dy'); // [N, C]
      return [g.matmul(g.transpose(oh, [1, 0]), dyFlat, 'dEmbedding'), null]; // [V, C]
    }
    const flatIdx = g.reshape(indices, [-1, ...row.map(() => 1)], 'gather_idx'); // [N, 1, …]
    const dyFlat = g.reshape(dy!, [-1, ...row.map((d) => (typeof d === 'number' ? d : 0))], 'gather_dy'); // [N, ...row]
    const idx = row.length ? expandLike(g, flatIdx, dyFlat) : flatIdx;
    const zeros = zerosLike(g, data);
    return [g.scatterElements(zeros, idx, dyFlat, 0, 'add', 'dEmbedding'), null];
  },

  ReduceSum: (g, n, [dy]) => [expandLike(g, keepdimsGrad(g, n, dy!), n.inputs[0] as Value), null],

  ReduceMean: (g, n, [dy]) => {
    const x = n.inputs[0] as Value;
    const spread = expandLike(g, keepdimsGrad(g, n, dy!), x);
    return [g.div(spread, reduceCount(g, n)), null];
  },

  ReduceSumSquare: (g, n, [dy]) => {
    const x = n.inputs[0] as Value;
    const spread = expandLike(g, keepdimsGrad(g, n, dy!), x);
    return [g.mul(g.mul(spread, x), scalarLike(g, 2, x)), null];
  },

  /** y = softmax(x): dx = y·(dy − Σ dy·y). */
  Softmax: (g, n, [dy]) => {
    const y = n.outputs[0];
    const axis = (n.attrs.axis as { i: number }).i;
    const dot = g.reduceSum(g.mul(dy!, y), [axis], true);
    return [g.mul(y, g.sub(dy!, dot))];
  },

  /** y = log softmax(x): dx = dy − softmax(x)·Σ dy. */
  LogSoftmax: (g, n, [dy]) => {
    const y = n.outputs[0];
    const axis = (n.attrs.axis as { i: number }).i;
    return [g.sub(dy!, g.mul(g.exp(y), g.reduceSum(dy!, [axis], true)))];
  },

  /**
   * LayerNormalization over the last axis, from the saved mean and 1/σ:
   * x̂ = (x − μ)/σ, dx̂ = dy·γ, dx = (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂))/σ, dγ = Σ dy·x̂, dβ = Σ dy.
   */
  LayerNormalization: (g, n, dOut) => {
    const [dy, dMean, dInv] = dOut;
    if (dMean || dInv) throw new Error(`LayerNormalization: gradients through the saved statistics are not supported (${n.name})`);
    const [x, scale, bias] = inputsOf(n);
    const [, savedMean, savedInvStd] = n.outputs;
    const mean = savedMean.dtype === x.dtype ? savedMean : g.cast(savedMean, x.dtype);
    const invStd = savedInvStd.dtype === x.dtype ? savedInvStd : g.cast(savedInvStd, x.dtype);
    const axis = (n.attrs.axis as { i: number }).i;
    if (axis !== -1 && axis !== x.shape.length - 1) throw new Error(`LayerNormalization gradient supports the last axis only (${n.name})`);
    const xhat = g.mul(g.sub(x, mean), invStd, 'xhat'); // [..., C]
    const dxhat = g.mul(dy!, scale); // [..., C]
    const m1 = g.reduceMean(dxhat, [-1], true); // [..., 1]
    const m2 = g.reduceMean(g.mul(dxhat, xhat), [-1], true); // [..., 1]
    const dx = g.mul(g.sub(g.sub(dxhat, m1), g.mul(xhat, m2)), invStd, 'dLN');
    const lead = [...Array(x.shape.length - 1).keys()];
    const shape = staticShape(x);
    const sum = (v: Value, hint: string) => (shape ? sumLeading(g, v, shape, hint) : g.reduceSum(v, lead, false, hint));
    const dScale = sum(g.mul(dy!, xhat), 'dGamma');
    const dBias = bias ? sum(dy!, 'dBeta') : null;
    return [dx, dScale, dBias];
  },

  /**
   * GELU. tanh form (GPT-2's gelu_new): y = ½x(1 + tanh(c(x + 0.044715x³))) = x·σ(2c(x + 0.044715x³)),
   * c = √(2/π). Exact form: dy/dx = Φ(x) + x·φ(x).
   */
  Gelu: (g, n, [dy]) => {
    const x = n.inputs[0] as Value;
    const approx = n.attrs.approximate && 's' in n.attrs.approximate ? n.attrs.approximate.s : 'none';
    const c = (v: number) => scalarLike(g, v, x);
    const x2 = g.mul(x, x);
    let dydx: Value;
    if (approx === 'tanh') {
      // Sigmoid form, reusing the forward output y: with z = 2c(x + a·x³) and s = σ(z), y = x·s and
      // dy/dx = s + x·s(1 − s)·z' = s + (y − y·s)·z',  z' = 2c(1 + 3a·x²). 12 passes over [.., 4C]
      // where the tanh form takes 15: GELU's backward is the widest elementwise work in the step.
      const k = 2 * Math.sqrt(2 / Math.PI);
      const a = 0.044715;
      const y = n.outputs[0];
      const s = g.sigmoid(g.mul(x, g.add(g.mul(x2, c(k * a)), c(k)))); // σ(z)
      const dz = g.add(g.mul(x2, c(3 * k * a)), c(k)); // z'
      dydx = g.add(g.mul(g.sub(y, g.mul(y, s)), dz), s);
    } else {
      const cdf = g.mul(c(0.5), g.add(c(1), g.node('Erf', [g.mul(x, c(Math.SQRT1_2))], [{ dtype: x.dtype, shape: x.shape }])[0]));
      const pdf = g.mul(c(1 / Math.sqrt(2 * Math.PI)), g.exp(g.mul(x2, c(-0.5))));
      dydx = g.add(cdf, g.mul(x, pdf));
    }
    return [g.mul(dy!, dydx, 'dGelu')];
  },

  /**
   * Cross-entropy of scores [N, C] against labels [N] (ignore_index skipped):
   * dscores = (softmax − onehot(label)) · kept / count (mean) or · kept (sum), times dLoss.
   */
  SoftmaxCrossEntropyLoss: (g, n, [dLoss, dLogProb]) => {
    if (dLogProb) throw new Error(`SoftmaxCrossEntropyLoss: gradients through log_prob are not supported (${n.name})`);
    const [scores, labels] = inputsOf(n);
    if (scores.shape.length !== 2) throw new Error(`SoftmaxCrossEntropyLoss gradient expects scores [N, C] (${n.name})`);
    const logProb = n.outputs[1];
    const ignore = n.attrs.ignore_index && 'i' in n.attrs.ignore_index ? n.attrs.ignore_index.i : null;
    const reduction = n.attrs.reduction && 's' in n.attrs.reduction ? n.attrs.reduction.s : 'mean';
    const depth = scores.shape[1];
    if (typeof depth !== 'number') throw new Error(`SoftmaxCrossEntropyLoss gradient needs a static class count (${n.name})`);
    let kept: Value | null = null;
    let safeLabels = labels;
    if (ignore !== null) {
      const isIgnored = g.equal(labels, g.scalar(ignore, labels.dtype));
      kept = g.cast(g.not(isIgnored), scores.dtype, 'kept'); // [N]
      safeLabels = g.where(isIgnored, g.scalar(0, labels.dtype), labels);
    }
    let d = g.sub(g.exp(logProb), g.oneHot(safeLabels, depth, scores.dtype), 'dCE'); // [N, C]
    let scale: Value = dLoss!;
    if (kept) {
      d = g.mul(d, g.unsqueeze(kept, [1]));
      if (reduction === 'mean') scale = g.div(scale, g.reduceSum(kept, [0], false, 'count'));
    } else if (reduction === 'mean') {
      const rows = g.cast(g.gather(g.shape(scores), g.ints([0]), 0), scores.dtype); // [1]: N
      scale = g.div(scale, g.reshape(rows, []));
    }
    return [g.mul(d, scale), null, null];
  },
};

/**
 * Reverse-mode gradients of scalar `loss` with respect to `wrt`, appended to `g`.
 * Values that do not depend on any of `wrt` get no gradient nodes; a `wrt` value
 * the loss does not reach gets zeros.
 */
/** The Identity nodes made by stopGradient: `gradients` treats their outputs as constants. */
const DETACHED = new WeakSet<Node>();

/**
 * `x` as a constant to `gradients` (PyTorch's `x.detach()`): an Identity node whose output
 * never varies with the parameters, so no gradient flows back through it.
 */
export function stopGradient(g: GraphBuilder, x: Value, hint = 'detached'): Value {
  const y = g.identity(x, hint);
  DETACHED.add(y.producer!);
  return y;
}

export function gradients(g: GraphBuilder, loss: Value, wrt: Value[], seed?: Value): Value[] {
  if (loss.shape.length !== 0 && !(loss.shape.length === 1 && loss.shape[0] === 1)) {
    throw new Error(`gradients: loss '${loss.name}' must be a scalar, got [${loss.shape.join(', ')}]`);
  }
  const nodes = [...g.nodes];
  // Forward: which values depend on the parameters.
  const varies = new Set(wrt.map((v) => v.name));
  for (const n of nodes) {
    if (!DETACHED.has(n) && n.inputs.some((i) => i && varies.has(i.name))) for (const o of n.outputs) if (isFloat(o)) varies.add(o.name);
  }
  const contributions = new Map<string, Value[]>();
  const push = (v: Value, d: Value) => {
    const list = contributions.get(v.name);
    if (list) list.push(d);
    else contributions.set(v.name, [d]);
  };
  push(loss, seed ?? g.scalar(1, loss.dtype));
  const total = (v: Value): Value | null => {
    const list = contributions.get(v.name);
    if (!list) return null;
    const s = list.length === 1 ? list[0] : g.sum(list, `grad_${v.name}`);
    contributions.set(v.name, [s]);
    return s;
  };
  g.scope('grad', () => {
    for (let i = nodes.length - 1; i >= 0; i--) {
      const n = nodes[i];
      if (!n.inputs.some((inp) => inp && varies.has(inp.name))) continue;
      const dOut = n.outputs.map(total);
      if (dOut.every((d) => d === null)) continue;
      const rule = RULES[n.op];
      if (!rule) throw new Error(`no gradient rule for op ${n.op} (node ${n.name}); add one to RULES in autodiff.ts`);
      const dIn = rule(g, n, dOut);
      n.inputs.forEach((inp, k) => {
        const d = dIn[k];
        if (inp && d && varies.has(inp.name)) push(inp, d);
      });
    }
  });
  return wrt.map((v) => total(v) ?? zerosLike(g, v));
}

