/**
 * A small typed builder for ONNX graphs.
 *
 * Every op method appends one node, infers its output shapes (dims are numbers
 * or symbolic names such as 'B' or 'B*T') and returns typed values, so model
 * code reads like the maths and the autodiff can reason about broadcasting.
 * `toModel()` drops every node the requested outputs do not need, which lets
 * gradient rules emit gradients for all inputs without caring who uses them.
 */
import { LOWERINGS, needsLowering } from '../lowering.ts';
import { CPU_TARGET, type Target } from '../target.ts';
import { AttrType, DataType, encodeModel, type AttributeProtoJson, type DType, type GraphProtoJson, type ModelProtoJson, type NodeProtoJson, type TensorProtoJson, type ValueInfoProtoJson } from './proto.ts';

export const OPSET = 21;
export const IR_VERSION = 10;

export type Dim = number | string;
export type Shape = Dim[];

export interface Value {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
  /** The node that computes this value; undefined for graph inputs and constants. */
  readonly producer?: Node;
}

export type Attr =
  | { i: number }
  | { f: number }
  | { s: string }
  | { ints: number[] }
  | { floats: number[] }
  /** A subgraph (a Loop body), from another builder's toGraph(). */
  | { g: GraphProtoJson };

export interface Node {
  readonly op: string;
  readonly domain: string;
  readonly inputs: readonly (Value | null)[];
  readonly outputs: readonly Value[];
  readonly attrs: Readonly<Record<string, Attr>>;
  readonly name: string;
}

export type TypedArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array;

export interface ConstTensor {
  value: Value;
  data: TypedArray;
}

const DTYPE_BYTES: Record<DType, number> = {
  float32: 4, float64: 8, int32: 4, int64: 8, int8: 1, uint8: 1, bool: 1, float16: 2, bfloat16: 2,
};

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number') throw new Error(`numel: shape [${shape.join(', ')}] has a symbolic dim`);
    n *= d;
  }
  return n;
}

function dimEq(a: Dim, b: Dim): boolean {
  return a === b;
}

/** Product of dims as a Dim: numeric when all are numbers, else 'A*B*…' with numbers folded in front. */
export function dimProduct(dims: Dim[]): Dim {
  let n = 1;
  const syms: string[] = [];
  for (const d of dims) {
    if (typeof d === 'number') n *= d;
    else syms.push(...d.split('*'));
  }
  if (syms.length === 0) return n;
  syms.sort();
  return n === 1 ? syms.join('*') : `${n}*${syms.join('*')}`;
}

/** Numpy broadcasting of two shapes. */
export function broadcastShapes(a: Shape, b: Shape): Shape {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (dimEq(da, db) || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else if (typeof da === 'number' && typeof db === 'number') {
      throw new Error(`cannot broadcast [${a.join(', ')}] with [${b.join(', ')}]`);
    } else out.push(typeof da === 'number' ? da : db);
  }
  return out;
}

function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

export class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly inputs: Value[] = [];
  readonly constants = new Map<string, ConstTensor>();
  private readonly names = new Set<string>();
  private scopes: string[] = [];
  private counter = 0;
  /** Prefixed to every internal name: a subgraph's builder keeps clear of its outer graph's names. */
  private readonly prefix: string;
  /** The provider the graph is written for (target.ts): its token dtype and the ops lowered at export. */
  readonly target: Target;

  constructor(opts: { prefix?: string; target?: Target } = {}) {
    this.prefix = opts.prefix ?? '';
    this.target = opts.target ?? CPU_TARGET;
  }
  // ---------------------------------------------------------------- naming

  /** Run `fn` with `name` pushed on the scope stack; values get 'a.b.name' names. */
  scope<T>(name: string, fn: () => T): T {
    this.scopes.push(name);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  fresh(hint: string): string {
    // Internal names always end in _N, so they never take a name an input or output claims.
    const base = this.prefix + [...this.scopes, hint].join('.');
    let name = `${base}_${++this.counter}`;
    while (this.names.has(name)) name = `${base}_${++this.counter}`;
    this.names.add(name);
    return name;
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`duplicate value name '${name}'`);
    this.names.add(name);
    return name;
  }

  // ---------------------------------------------------------------- leaves

  input(name: string, dtype: DType, shape: Shape): Value {
    const v: Value = { name: this.claim(name), dtype, shape };
    this.inputs.push(v);
    return v;
  }

  /** A constant tensor, stored as an initializer. */
  constant(data: TypedArray, dtype: DType, shape: Shape, hint = 'const'): Value {
    if (numel(shape) !== data.length) throw new Error(`constant '${hint}': ${data.length} values for shape [${shape.join(', ')}]`);
    const value: Value = { name: this.fresh(hint), dtype, shape };
    this.constants.set(value.name, { value, data });
    return value;
  }

  /** A token-id input (input_ids, labels, position_ids) in the target's token dtype. */
  tokenInput(name: string, shape: Shape): Value {
    return this.input(name, this.target.tokenDtype, shape);
  }

  scalar(x: number, dtype: DType = 'float32'): Value {
    return this.constant(makeArray(dtype, [x]), dtype, [], `c_${String(x).replace(/[^0-9a-z]/gi, '_')}`);
  }

  ints(xs: number[], hint = 'ints'): Value {
    return this.constant(BigInt64Array.from(xs.map(BigInt)), 'int64', [xs.length], hint);
  }

  // ---------------------------------------------------------------- core

  /** Append a node whose output types are given explicitly. */
  node(op: string, inputs: (Value | null)[], outs: { dtype: DType; shape: Shape; hint?: string }[], attrs: Record<string, Attr> = {}, domain = ''): Value[] {
    const outputs: Value[] = [];
    const node: Node = { op, domain, inputs, outputs, attrs, name: this.fresh(`${op}_node`) };
    for (const o of outs) outputs.push({ name: this.fresh(o.hint ?? op.toLowerCase()), dtype: o.dtype, shape: o.shape, producer: node });
    this.nodes.push(node);
    return outputs;
  }

  /**
   * `x` under the exact name `name` (for graph outputs). The producing node's output is renamed
   * when that is safe, so no Identity copy runs; otherwise an Identity node is added.
   */
  named(x: Value, name: string): Value {
    const renamable = x.producer && !this.aliases.has(x.name) && !this.constants.has(x.name) && !this.inputs.includes(x) && this.nodes.includes(x.producer);
    if (renamable) {
      this.aliases.set(x.name, this.claim(name));
      return { name, dtype: x.dtype, shape: x.shape, producer: x.producer };
    }
    const outputs: Value[] = [];
    const node: Node = { op: 'Identity', domain: '', inputs: [x], outputs, attrs: {}, name: this.fresh('Identity_node') };
    outputs.push({ name: this.claim(name), dtype: x.dtype, shape: x.shape, producer: node });
    this.nodes.push(node);
    return outputs[0];
  }
  /** Output renames made by named(): internal name → exported name. */
  private readonly aliases = new Map<string, string>();
  private resolve(name: string): string {
    return this.aliases.get(name) ?? name;
  }

  private unary(op: string, x: Value, attrs: Record<string, Attr> = {}, hint?: string): Value {
    return this.node(op, [x], [{ dtype: x.dtype, shape: x.shape, hint }], attrs)[0];
  }

  private binary(op: string, a: Value, b: Value, hint?: string): Value {
    if (a.dtype !== b.dtype) throw new Error(`${op}: dtype mismatch ${a.name}:${a.dtype} vs ${b.name}:${b.dtype}`);
    return this.node(op, [a, b], [{ dtype: a.dtype, shape: broadcastShapes(a.shape, b.shape), hint }])[0];
  }

  // ---------------------------------------------------------------- elementwise

  add(a: Value, b: Value, hint?: string): Value { return this.binary('Add', a, b, hint); }
  sub(a: Value, b: Value, hint?: string): Value { return this.binary('Sub', a, b, hint); }
  mul(a: Value, b: Value, hint?: string): Value { return this.binary('Mul', a, b, hint); }
  div(a: Value, b: Value, hint?: string): Value { return this.binary('Div', a, b, hint); }
  pow(a: Value, b: Value, hint?: string): Value {
    return this.node('Pow', [a, b], [{ dtype: a.dtype, shape: broadcastShapes(a.shape, b.shape), hint }])[0];
  }
  max(a: Value, b: Value, hint?: string): Value { return this.binary('Max', a, b, hint); }
  min(a: Value, b: Value, hint?: string): Value { return this.binary('Min', a, b, hint); }
  neg(x: Value, hint?: string): Value { return this.unary('Neg', x, {}, hint); }
  exp(x: Value, hint?: string): Value { return this.unary('Exp', x, {}, hint); }
  log(x: Value, hint?: string): Value { return this.unary('Log', x, {}, hint); }
  sqrt(x: Value, hint?: string): Value { return this.unary('Sqrt', x, {}, hint); }
  tanh(x: Value, hint?: string): Value { return this.unary('Tanh', x, {}, hint); }
  sigmoid(x: Value, hint?: string): Value { return this.unary('Sigmoid', x, {}, hint); }
  reciprocal(x: Value, hint?: string): Value { return this.unary('Reciprocal', x, {}, hint); }
  identity(x: Value, hint?: string): Value { return this.unary('Identity', x, {}, hint); }
  /** GELU; 'tanh' is GPT-2's gelu_new. */
  gelu(x: Value, approximate: 'none' | 'tanh' = 'tanh', hint?: string): Value {
    return this.unary('Gelu', x, { approximate: { s: approximate } }, hint);
  }

  sum(xs: Value[], hint?: string): Value {
    if (xs.length === 1) return xs[0];
    const shape = xs.map((x) => x.shape).reduce(broadcastShapes);
    return this.node('Sum', xs, [{ dtype: xs[0].dtype, shape, hint }])[0];
  }

  cast(x: Value, to: DType, hint?: string): Value {
    return this.node('Cast', [x], [{ dtype: to, shape: x.shape, hint }], { to: { i: DataType[to] } })[0];
  }

  equal(a: Value, b: Value, hint?: string): Value {
    return this.node('Equal', [a, b], [{ dtype: 'bool', shape: broadcastShapes(a.shape, b.shape), hint }])[0];
  }

  not(x: Value, hint?: string): Value {
    return this.node('Not', [x], [{ dtype: 'bool', shape: x.shape, hint }])[0];
  }

  where(cond: Value, a: Value, b: Value, hint?: string): Value {
    const shape = broadcastShapes(cond.shape, broadcastShapes(a.shape, b.shape));
    return this.node('Where', [cond, a, b], [{ dtype: a.dtype, shape, hint }])[0];
  }

  // ---------------------------------------------------------------- linear algebra

  /** Numpy matmul: [..., M, K] @ [..., K, N] → [..., M, N]. */
  matmul(a: Value, b: Value, hint?: string): Value {
    if (a.shape.length < 2 || b.shape.length < 2) throw new Error('matmul: rank-1 operands are not supported');
    const [m, k1] = a.shape.slice(-2);
    const [k2, n] = b.shape.slice(-2);
    if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) {
      throw new Error(`matmul: inner dims differ, [${a.shape.join(', ')}] @ [${b.shape.join(', ')}]`);
    }
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
    return this.node('MatMul', [a, b], [{ dtype: a.dtype, shape: [...batch, m, n], hint }])[0];
  }

  // ---------------------------------------------------------------- shape ops

  shape(x: Value, hint?: string): Value {
    return this.node('Shape', [x], [{ dtype: 'int64', shape: [x.shape.length], hint }])[0];
  }

  /** Reshape to `target` (ONNX semantics: 0 copies the input dim, -1 is inferred). */
  reshape(x: Value, target: number[], hint?: string): Value {
    const out: Dim[] = target.map((d, i) => (d === 0 ? x.shape[i] : d));
    const inferred = out.indexOf(-1);
    if (inferred >= 0) {
      const known = out.filter((_, i) => i !== inferred);
      out[inferred] = divideDims(dimProduct(x.shape), dimProduct(known));
    }
    return this.node('Reshape', [x, this.ints(target, 'shape')], [{ dtype: x.dtype, shape: out, hint }])[0];
  }

  /** Reshape x to the runtime shape of `like` (whose static shape it takes). */
  reshapeLike(x: Value, like: Value, hint?: string): Value {
    if (x.shape.length === like.shape.length && x.shape.every((d, i) => dimEq(d, like.shape[i]))) return x;
    const target = like.shape.every((d) => typeof d === 'number') ? this.ints(like.shape as number[], 'shape') : this.shape(like);
    return this.node('Reshape', [x, target], [{ dtype: x.dtype, shape: like.shape, hint }])[0];
  }

  transpose(x: Value, perm: number[], hint?: string): Value {
    return this.node('Transpose', [x], [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]), hint }], { perm: { ints: perm } })[0];
  }

  unsqueeze(x: Value, axes: number[], hint?: string): Value {
    const rank = x.shape.length + axes.length;
    const norm = axes.map((a) => normAxis(a, rank)).sort((p, q) => p - q);
    const out: Dim[] = [...x.shape];
    for (const a of norm) out.splice(a, 0, 1);
    return this.node('Unsqueeze', [x, this.ints(axes, 'axes')], [{ dtype: x.dtype, shape: out, hint }])[0];
  }

  squeeze(x: Value, axes: number[], hint?: string): Value {
    const norm = axes.map((a) => normAxis(a, x.shape.length));
    const out = x.shape.filter((_, i) => !norm.includes(i));
    return this.node('Squeeze', [x, this.ints(axes, 'axes')], [{ dtype: x.dtype, shape: out, hint }])[0];
  }

  concat(xs: Value[], axis: number, hint?: string): Value {
    const a = normAxis(axis, xs[0].shape.length);
    const out: Dim[] = [...xs[0].shape];
    let total: Dim = 0;
    for (const x of xs) total = addDims(total, x.shape[a]);
    out[a] = total;
    return this.node('Concat', xs, [{ dtype: xs[0].dtype, shape: out, hint }], { axis: { i: a } })[0];
  }

  split(x: Value, axis: number, sizes: number[], hint?: string): Value[] {
    const a = normAxis(axis, x.shape.length);
    const outs = sizes.map((s) => ({ dtype: x.dtype, shape: x.shape.map((d, i) => (i === a ? s : d)), hint }));
    return this.node('Split', [x, this.ints(sizes, 'split')], outs, { axis: { i: a } });
  }

  /** Static slice along `axes` (ends clamp like numpy; use a large number for 'to the end'). */
  slice(x: Value, starts: number[], ends: number[], axes: number[], hint?: string): Value {
    const out: Dim[] = [...x.shape];
    axes.forEach((ax, j) => {
      const a = normAxis(ax, x.shape.length);
      const d = x.shape[a];
      if (typeof d === 'number') {
        const s = clampIndex(starts[j], d);
        const e = clampIndex(ends[j], d);
        out[a] = Math.max(0, e - s);
      } else if (starts[j] >= 0 && ends[j] < 0 && ends[j] > -1e9) {
        out[a] = `${d}${ends[j] - starts[j]}`.replace('--', '+');
      } else {
        out[a] = `${d}[${starts[j]}:${ends[j]}]`;
      }
    });
    return this.node('Slice', [x, this.ints(starts, 'starts'), this.ints(ends, 'ends'), this.ints(axes, 'axes')], [{ dtype: x.dtype, shape: out, hint }])[0];
  }

  expand(x: Value, shape: Value, outShape: Shape, hint?: string): Value {
    return this.node('Expand', [x, shape], [{ dtype: x.dtype, shape: outShape, hint }])[0];
  }

  gather(data: Value, indices: Value, axis = 0, hint?: string): Value {
    const a = normAxis(axis, data.shape.length);
    const out = [...data.shape.slice(0, a), ...indices.shape, ...data.shape.slice(a + 1)];
    return this.node('Gather', [data, indices], [{ dtype: data.dtype, shape: out, hint }], { axis: { i: a } })[0];
  }

  scatterElements(data: Value, indices: Value, updates: Value, axis: number, reduction: 'none' | 'add', hint?: string): Value {
    return this.node('ScatterElements', [data, indices, updates], [{ dtype: data.dtype, shape: data.shape, hint }], {
      axis: { i: axis },
      reduction: { s: reduction },
    })[0];
  }

  /** A tensor of `outShape` (given at run time by `shape`) filled with `value`. */
  constantOfShape(shape: Value, outShape: Shape, value: number, dtype: DType = 'float32', hint?: string): Value {
    const out = this.node('ConstantOfShape', [shape], [{ dtype, shape: outShape, hint }])[0];
    this.tensorAttrs.set(out.producer as Node, { name: 'value', data: makeArray(dtype, [value]), dtype });
    return out;
  }

  /** Tensor-valued attributes (ConstantOfShape's value), kept apart from Attr to keep Attr small. */
  private readonly tensorAttrs = new Map<Node, { name: string; data: TypedArray; dtype: DType }>();

  oneHot(indices: Value, depth: number, dtype: DType = 'float32', hint?: string): Value {
    const values = this.constant(makeArray(dtype, [0, 1]), dtype, [2], 'onehot_values');
    const d = this.constant(BigInt64Array.from([BigInt(depth)]), 'int64', [1], 'depth');
    return this.node('OneHot', [indices, d, values], [{ dtype, shape: [...indices.shape, depth], hint }], { axis: { i: -1 } })[0];
  }

  // ---------------------------------------------------------------- reductions

  private reduce(op: string, x: Value, axes: number[], keepdims: boolean, hint?: string): Value {
    const norm = axes.map((a) => normAxis(a, x.shape.length));
    const out: Dim[] = [];
    x.shape.forEach((d, i) => {
      if (!norm.includes(i)) out.push(d);
      else if (keepdims) out.push(1);
    });
    return this.node(op, [x, this.ints(norm, 'axes')], [{ dtype: x.dtype, shape: out, hint }], { keepdims: { i: keepdims ? 1 : 0 } })[0];
  }
  reduceSum(x: Value, axes: number[], keepdims = false, hint?: string): Value { return this.reduce('ReduceSum', x, axes, keepdims, hint); }
  reduceMean(x: Value, axes: number[], keepdims = false, hint?: string): Value { return this.reduce('ReduceMean', x, axes, keepdims, hint); }
  reduceMax(x: Value, axes: number[], keepdims = false, hint?: string): Value { return this.reduce('ReduceMax', x, axes, keepdims, hint); }
  reduceSumSquare(x: Value, axes: number[], keepdims = false, hint?: string): Value { return this.reduce('ReduceSumSquare', x, axes, keepdims, hint); }

  // ---------------------------------------------------------------- NN ops

  softmax(x: Value, axis = -1, hint?: string): Value {
    return this.unary('Softmax', x, { axis: { i: axis } }, hint);
  }

  logSoftmax(x: Value, axis = -1, hint?: string): Value {
    return this.unary('LogSoftmax', x, { axis: { i: axis } }, hint);
  }

  /** LayerNormalization over the last axis; also returns the saved mean and 1/σ ([..., 1]) for the backward pass. */
  layerNorm(x: Value, scale: Value, bias: Value, epsilon: number, hint?: string): { y: Value; mean: Value; invStd: Value } {
    const stat = [...x.shape.slice(0, -1), 1];
    // ONNX Runtime keeps the statistics in float32 (stash_type 1) whatever the input type.
    const stash: DType = 'float32';
    const [y, mean, invStd] = this.node(
      'LayerNormalization',
      [x, scale, bias],
      [{ dtype: x.dtype, shape: x.shape, hint }, { dtype: stash, shape: stat, hint: 'ln_mean' }, { dtype: stash, shape: stat, hint: 'ln_inv_std' }],
      { axis: { i: -1 }, epsilon: { f: epsilon }, stash_type: { i: DataType[stash] } },
    );
    return { y, mean, invStd };
  }

  /**
   * Mean (or summed) cross-entropy of `scores` [N, C] against `labels` [N], skipping `ignoreIndex`.
   * Also returns the log-probabilities [N, C], which the backward pass reuses.
   */
  softmaxCrossEntropy(scores: Value, labels: Value, ignoreIndex: number, reduction: 'mean' | 'sum' = 'mean', hint?: string): { loss: Value; logProb: Value } {
    const [loss, logProb] = this.node(
      'SoftmaxCrossEntropyLoss',
      [scores, labels],
      [{ dtype: scores.dtype, shape: [], hint }, { dtype: scores.dtype, shape: scores.shape, hint: 'log_prob' }],
      { ignore_index: { i: ignoreIndex }, reduction: { s: reduction } },
    );
    return { loss, logProb };
  }

  range(start: Value, limit: Value, delta: Value, length: Dim, hint?: string): Value {
    return this.node('Range', [start, limit, delta], [{ dtype: start.dtype, shape: [length], hint }])[0];
  }

  // ---------------------------------------------------------------- export

  /** Nodes needed to compute `outputs`, in order. */
  liveNodes(outputs: Value[]): Node[] {
    const needed = new Set<string>(outputs.map((o) => this.resolve(o.name)));
    const live: Node[] = [];
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const n = this.nodes[i];
      if (!n.outputs.some((o) => needed.has(this.resolve(o.name)))) continue;
      live.push(n);
      for (const inp of n.inputs) if (inp) needed.add(this.resolve(inp.name));
    }
    return live.reverse();
  }

  /** The graph computing `outputs` from this builder's inputs, in declaration order (a subgraph body). */
  toGraph(outputs: Value[], name: string): GraphProtoJson {
    return this.toGraphProto(outputs, name);
  }

  /**
   * `nodes` with every node the target lacks replaced by its lowering (lowering.ts), applied
   * until none is left. The lowering's nodes are taken out of the builder again, so the graph as
   * built (and its gradients) stays as it was; its outputs take the replaced node's names.
   */
  private lowered(nodes: Node[]): Node[] {
    const out: Node[] = [];
    for (const n of nodes) {
      if (!needsLowering(n, this.target)) {
        out.push(n);
        continue;
      }
      const start = this.nodes.length;
      const values = LOWERINGS[n.op](this, n, this.target);
      const made = this.nodes.splice(start);
      values.forEach((v, i) => {
        if (!made.includes(v.producer as Node)) throw new Error(`lowering of ${n.op} must compute its outputs (${n.name})`);
        this.aliases.set(v.name, this.resolve(n.outputs[i].name));
      });
      out.push(...this.lowered(made));
    }
    return out;
  }

  private toGraphProto(outputs: Value[], name: string): GraphProtoJson {
    let nodes = this.liveNodes(outputs);
    if (this.target.lowered.size > 0) {
      nodes = this.lowered(nodes);
      // A lowering may compute more than is used (a cross-entropy's log-probabilities): keep what the outputs need.
      const needed = new Set<string>(outputs.map((o) => this.resolve(o.name)));
      nodes = nodes.reverse().filter((n) => {
        if (!n.outputs.some((o) => needed.has(this.resolve(o.name)))) return false;
        for (const inp of n.inputs) if (inp) needed.add(this.resolve(inp.name));
        return true;
      }).reverse();
    }
    const used = new Set<string>();
    for (const n of nodes) for (const inp of n.inputs) if (inp) used.add(inp.name);
    for (const o of outputs) used.add(this.resolve(o.name));
    const initializer: TensorProtoJson[] = [];
    for (const [cname, c] of this.constants) if (used.has(cname)) initializer.push(tensorProto(cname, c.value.dtype, c.value.shape as number[], c.data));
    return {
      name,
      node: nodes.map((n) => this.nodeProto(n)),
      initializer,
      input: this.inputs.map(valueInfo),
      output: outputs.map((o) => valueInfo({ ...o, name: this.resolve(o.name) })),
    };
  }

  private nodeProto(n: Node): NodeProtoJson {
    const attribute: AttributeProtoJson[] = Object.entries(n.attrs).map(([name, a]) => attrProto(name, a));
    const t = this.tensorAttrs.get(n);
    if (t) attribute.push({ name: t.name, type: AttrType.TENSOR, t: tensorProto('', t.dtype, [1], t.data) });
    return {
      input: n.inputs.map((i) => (i ? this.resolve(i.name) : '')),
      output: n.outputs.map((o) => this.resolve(o.name)),
      name: n.name,
      op_type: n.op,
      domain: n.domain,
      attribute,
    };
  }

  /** The model bytes for an InferenceSession computing `outputs` from the builder's inputs. */
  toModel(outputs: Value[], opts: { name?: string; doc?: string; metadata?: Record<string, string> } = {}): Uint8Array {
    const graph = this.toGraphProto(outputs, opts.name ?? 'stepwise');
    const model: ModelProtoJson = {
      ir_version: IR_VERSION,
      opset_import: [{ domain: '', version: OPSET }],
      producer_name: 'stepwise',
      producer_version: '0.1.0',
      doc_string: opts.doc,
      graph,
      metadata_props: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
    };
    return encodeModel(model);
  }
}

function attrProto(name: string, a: Attr): AttributeProtoJson {
  if ('i' in a) return { name, type: AttrType.INT, i: a.i };
  if ('f' in a) return { name, type: AttrType.FLOAT, f: a.f };
  if ('s' in a) return { name, type: AttrType.STRING, s: new TextEncoder().encode(a.s) };
  if ('ints' in a) return { name, type: AttrType.INTS, ints: a.ints };
  if ('g' in a) return { name, type: AttrType.GRAPH, g: a.g };
  return { name, type: AttrType.FLOATS, floats: a.floats };
}

function valueInfo(v: Value): ValueInfoProtoJson {
  return {
    name: v.name,
    type: {
      tensor_type: {
        elem_type: DataType[v.dtype],
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
      },
    },
  };
}

function tensorProto(name: string, dtype: DType, dims: number[], data: TypedArray): TensorProtoJson {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.length !== numel(dims) * DTYPE_BYTES[dtype]) throw new Error(`tensor '${name}': ${bytes.length} bytes for ${dtype}[${dims.join(', ')}]`);
  return { name, dims, data_type: DataType[dtype], raw_data: bytes.slice() };
}

export function makeArray(dtype: DType, xs: number[]): TypedArray {
  switch (dtype) {
    case 'float32': return Float32Array.from(xs);
    case 'float64': return Float64Array.from(xs);
    case 'int32': return Int32Array.from(xs);
    case 'int64': return BigInt64Array.from(xs.map((x) => BigInt(x)));
    case 'bool':
    case 'uint8': return Uint8Array.from(xs);
    default: throw new Error(`makeArray: unsupported dtype ${dtype}`);
  }
}

function clampIndex(i: number, d: number): number {
  const j = i < 0 ? i + d : i;
  return Math.min(Math.max(j, 0), d);
}

function addDims(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (a === 0) return b;
  if (b === 0) return a;
  return `${a}+${b}`;
}

/** a / b for dims, when b divides a exactly (numerically or by cancelling symbols). */
function divideDims(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') {
    if (a % b !== 0) throw new Error(`reshape: ${a} elements cannot be split by ${b}`);
    return a / b;
  }
  const parse = (d: Dim): { n: number; syms: string[] } => {
    if (typeof d === 'number') return { n: d, syms: [] };
    const parts = d.split('*');
    let n = 1;
    const syms: string[] = [];
    for (const p of parts) {
      if (/^\d+$/.test(p)) n *= Number(p);
      else syms.push(p);
    }
    return { n, syms };
  };
  const pa = parse(a);
  const pb = parse(b);
  const rest = [...pa.syms];
  for (const s of pb.syms) {
    const k = rest.indexOf(s);
    if (k < 0) return `(${a})/(${b})`;
    rest.splice(k, 1);
  }
  if (pa.n % pb.n !== 0) return `(${a})/(${b})`;
  return dimProduct([pa.n / pb.n, ...rest]);
}
