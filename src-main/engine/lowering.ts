/**
 * Lowerings: how an op a provider lacks is written from ops it has (target.ts says which).
 *
 * The autodiff's rule table (autodiff.ts) differentiates the graph as built; these rewrite the
 * built graph, forward and backward alike, only when it is serialized for such a provider, so a
 * CPU graph keeps its exact ops and bits. Each entry takes the node and answers the values that
 * replace its outputs, built with the same GraphBuilder; a lowering may emit ops that are lowered
 * in turn (a cross-entropy's LogSoftmax and OneHot), and the builder applies them until none is
 * left. Each has a case in test/engine/lowering.test.ts comparing it with the op it replaces.
 */
import type { Target } from './target.ts';
import type { GraphBuilder, Node, Value } from './onnx/graph.ts';
import { makeArray } from './onnx/graph.ts';

export type Lowering = (g: GraphBuilder, node: Node, target: Target) => Value[];

const inputsOf = (n: Node): Value[] => n.inputs.map((v) => v as Value);
const attrInt = (n: Node, name: string, dflt: number): number => {
  const a = n.attrs[name];
  return a && 'i' in a ? a.i : dflt;
};
const attrStr = (n: Node, name: string, dflt: string): string => {
  const a = n.attrs[name];
  return a && 's' in a ? a.s : dflt;
};

/** Constant int64 data of a node input made with g.ints() (or any initializer). */
function constInts(g: GraphBuilder, v: Value | null | undefined): number[] | null {
  if (!v) return null;
  const c = g.constants.get(v.name);
  return c ? Array.from(c.data as ArrayLike<number | bigint>, Number) : null;
}

/** Runs of at most `width` consecutive items. */
function chunks<T>(xs: readonly T[], width: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += width) out.push(xs.slice(i, i + width));
  return out;
}

/** Whether the node must be rewritten for `target`. */
export function needsLowering(n: Node, target: Target): boolean {
  if (n.domain !== '' || !target.lowered.has(n.op)) return false;
  switch (n.op) {
    // Only too wide ones: a Split binds its input and every output, a Concat every input and its output.
    case 'Split': return n.outputs.length + 1 > target.maxBindings;
    case 'Concat': return n.inputs.length + 1 > target.maxBindings || (n.outputs[0].dtype === 'bool' && target.tokenDtype === 'int32');
    // Float slices run everywhere; integer ones (labels) do not.
    case 'Slice': return (n.inputs[0] as Value).dtype !== 'float32' && (n.inputs[0] as Value).dtype !== 'float16';
    default: return true;
  }
}

export const LOWERINGS: Record<string, Lowering> = {
  /** Variadic Sum (autodiff's accumulation of gradients) as a chain of Adds, in the same order. */
  Sum: (g, n) => {
    const xs = inputsOf(n);
    let acc = g.add(xs[0], xs[1], 'sum');
    for (const x of xs.slice(2)) acc = g.add(acc, x, 'sum');
    return [acc];
  },

  /** onehot(i)[…, c] = (i == c): an Equal against 0..depth−1, then the off/on values. */
  OneHot: (g, n) => {
    const [indices, depthV, values] = inputsOf(n);
    const depth = constInts(g, depthV)?.[0];
    const [off, on] = (constInts(g, values) ?? [0, 1]);
    if (depth === undefined) throw new Error(`OneHot lowering needs a constant depth (${n.name})`);
    if (attrInt(n, 'axis', -1) !== -1) throw new Error(`OneHot lowering supports axis −1 only (${n.name})`);
    const out = n.outputs[0];
    const classes = g.constant(makeArray(indices.dtype, [...Array(depth).keys()]), indices.dtype, [depth], 'classes'); // [C]
    const hit = g.cast(g.equal(g.unsqueeze(indices, [-1]), classes, 'onehot_eq'), out.dtype, 'onehot'); // [..., C]
    if (off === 0 && on === 1) return [hit];
    return [g.add(g.mul(hit, g.scalar(on - off, out.dtype)), g.scalar(off, out.dtype), 'onehot')];
  },

  /** log softmax(x) = (x − max x) − log Σ exp(x − max x), along the node's axis. */
  LogSoftmax: (g, n) => {
    const [x] = inputsOf(n);
    const axis = attrInt(n, 'axis', -1);
    const shifted = g.sub(x, g.reduceMax(x, [axis], true, 'lse_max'), 'lse_shifted');
    return [g.sub(shifted, g.log(g.reduceSum(g.exp(shifted), [axis], true, 'lse_sum')), 'log_softmax')];
  },

  /**
   * Cross-entropy of scores [N, C] against labels [N] (ignore_index skipped): the log-probability
   * of each label, picked by a one-hot product, averaged (or summed) over the kept rows.
   */
  SoftmaxCrossEntropyLoss: (g, n) => {
    const [scores, labels] = inputsOf(n);
    if (n.inputs[2]) throw new Error(`SoftmaxCrossEntropyLoss lowering does not take class weights (${n.name})`);
    if (scores.shape.length !== 2) throw new Error(`SoftmaxCrossEntropyLoss lowering expects scores [N, C] (${n.name})`);
    const C = scores.shape[1];
    if (typeof C !== 'number') throw new Error(`SoftmaxCrossEntropyLoss lowering needs a static class count (${n.name})`);
    const ignore = n.attrs.ignore_index && 'i' in n.attrs.ignore_index ? n.attrs.ignore_index.i : null;
    const reduction = attrStr(n, 'reduction', 'mean');
    const logp = g.logSoftmax(scores, 1, 'log_prob'); // [N, C]
    let safe = labels;
    let kept: Value | null = null;
    if (ignore !== null) {
      const ignored = g.equal(labels, g.scalar(ignore, labels.dtype), 'ignored'); // [N]
      kept = g.cast(g.not(ignored), scores.dtype, 'kept'); // [N]
      safe = g.where(ignored, g.scalar(0, labels.dtype), labels, 'safe_labels');
    }
    const picked = g.reduceSum(g.mul(logp, g.oneHot(safe, C, scores.dtype)), [1], false, 'picked'); // [N]
    const weighted = kept ? g.mul(picked, kept) : picked;
    let loss = g.neg(g.reduceSum(weighted, [0], false), 'ce_sum'); // []
    if (reduction === 'mean') {
      const count = kept ? g.reduceSum(kept, [0], false, 'count') : g.scalar(scores.shape[0] as number, scores.dtype);
      loss = g.div(loss, count, 'ce_mean');
    } else if (reduction !== 'sum') throw new Error(`SoftmaxCrossEntropyLoss lowering: reduction '${reduction}' (${n.name})`);
    return [loss, logp];
  },

  /** A static slice of integer data as Gathers of the kept indices, one per sliced axis. */
  Slice: (g, n) => {
    const [x, startsV, endsV, axesV, stepsV] = n.inputs;
    const src = x as Value;
    const starts = constInts(g, startsV);
    const ends = constInts(g, endsV);
    const axes = constInts(g, axesV) ?? starts?.map((_, i) => i);
    const steps = constInts(g, stepsV) ?? starts?.map(() => 1);
    if (!starts || !ends || !axes || !steps) throw new Error(`Slice lowering needs constant starts, ends and axes (${n.name})`);
    let out = src;
    axes.forEach((ax, j) => {
      const a = ax < 0 ? ax + src.shape.length : ax;
      const d = src.shape[a];
      if (typeof d !== 'number') throw new Error(`Slice lowering needs a static dim on axis ${a} (${n.name})`);
      const clamp = (i: number) => Math.min(Math.max(i < 0 ? i + d : i, 0), d);
      const picks: number[] = [];
      for (let i = clamp(starts[j]); i < clamp(ends[j]); i += steps[j]) picks.push(i);
      out = g.gather(out, g.ints(picks, 'slice_idx'), a, 'slice');
    });
    return [out === src ? g.identity(src) : out];
  },

  /** A Split wider than the provider binds: split into runs first, then each run. */
  Split: (g, n, target) => {
    const [x] = inputsOf(n);
    const axis = attrInt(n, 'axis', 0);
    const sizes = n.outputs.map((o) => o.shape[axis] as number);
    const runs = chunks(sizes, target.maxBindings - 1);
    const runSizes = runs.map((r) => r.reduce((p, q) => p + q, 0));
    const parts = g.split(x, axis, runSizes, 'split_run');
    return runs.flatMap((r, i) => (r.length === 1 ? [g.identity(parts[i])] : g.split(parts[i], axis, r, 'split_part')));
  },

  /**
   * A Concat wider than the provider binds: concatenate runs first, then the runs. A Concat of
   * masks (bool, which WebGPU does not concatenate) goes through float32 and back.
   */
  Concat: (g, n, target) => {
    const axis = attrInt(n, 'axis', 0);
    if (n.outputs[0].dtype === 'bool') {
      const wide = g.concat(inputsOf(n).map((x) => g.cast(x, 'float32', 'mask_f')), axis, 'mask_concat');
      return [g.cast(wide, 'bool', 'mask')];
    }
    const xs = inputsOf(n);
    const runs = chunks(xs, target.maxBindings - 1).map((r) => (r.length === 1 ? r[0] : g.concat(r, axis, 'concat_run')));
    return [g.concat(runs, axis, 'concat')];
  },
};
