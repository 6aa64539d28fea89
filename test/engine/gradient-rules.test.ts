import { describe, expect, it } from 'vitest';
import { gradients, RULES } from '../../src-main/engine/autodiff.ts';
import { GraphBuilder, type Value } from '../../src-main/engine/onnx/graph.ts';
import type { DType } from '../../src-main/engine/onnx/proto.ts';
import { WEBGPU } from '../fixtures/providers.ts';
import { checkGradient, type FdInput } from './fd.ts';

interface Case {
  op: string;
  title: string;
  inputs: FdInput[];
  build: (g: GraphBuilder, xs: Value[]) => Value;
  dtype?: DType;
  tol?: number;
}

const positive = (n: number, seed = 1) => Array.from({ length: n }, (_, i) => 0.5 + ((i * 7 + seed * 13) % 11) / 7);

const CASES: Case[] = [
  { op: 'Identity', title: 'passes the gradient through', inputs: [{ name: 'x', shape: [3, 4] }], build: (g, [x]) => g.identity(x) },
  { op: 'Add', title: 'sums the gradient over broadcast axes', inputs: [{ name: 'a', shape: [2, 3, 4] }, { name: 'b', shape: [4] }], build: (g, [a, b]) => g.add(a, b) },
  { op: 'Sub', title: 'negates and un-broadcasts the right operand', inputs: [{ name: 'a', shape: [2, 3] }, { name: 'b', shape: [2, 1] }], build: (g, [a, b]) => g.sub(a, b) },
  { op: 'Mul', title: 'multiplies by the other operand, broadcasting both ways', inputs: [{ name: 'a', shape: [2, 1, 4] }, { name: 'b', shape: [3, 1] }], build: (g, [a, b]) => g.mul(a, b) },
  { op: 'Div', title: 'differentiates numerator and denominator', inputs: [{ name: 'a', shape: [2, 3] }, { name: 'b', shape: [3], data: positive(3) }], build: (g, [a, b]) => g.div(a, b) },
  { op: 'Sum', title: 'routes the gradient to every summand', inputs: [{ name: 'a', shape: [2, 3] }, { name: 'b', shape: [3] }, { name: 'c', shape: [2, 3] }], build: (g, [a, b, c]) => g.sum([a, b, c]) },
  { op: 'Neg', title: 'negates the gradient', inputs: [{ name: 'x', shape: [5] }], build: (g, [x]) => g.neg(x) },
  { op: 'Exp', title: 'multiplies by exp(x)', inputs: [{ name: 'x', shape: [2, 3] }], build: (g, [x]) => g.exp(x) },
  { op: 'Log', title: 'divides by x', inputs: [{ name: 'x', shape: [6], data: positive(6) }], build: (g, [x]) => g.log(x) },
  { op: 'Sqrt', title: 'divides by 2·sqrt(x)', inputs: [{ name: 'x', shape: [6], data: positive(6, 2) }], build: (g, [x]) => g.sqrt(x) },
  { op: 'Reciprocal', title: 'multiplies by −1/x²', inputs: [{ name: 'x', shape: [6], data: positive(6, 3) }], build: (g, [x]) => g.reciprocal(x) },
  { op: 'Tanh', title: 'multiplies by 1 − tanh²', inputs: [{ name: 'x', shape: [2, 4] }], build: (g, [x]) => g.tanh(x) },
  { op: 'Sigmoid', title: 'multiplies by σ(x)·(1 − σ(x))', inputs: [{ name: 'x', shape: [2, 4] }], build: (g, [x]) => g.node('Sigmoid', [x], [{ dtype: x.dtype, shape: x.shape }])[0] },
  { op: 'Pow', title: 'uses p·x^(p−1) for a constant exponent', inputs: [{ name: 'x', shape: [2, 3] }], build: (g, [x]) => g.pow(x, g.scalar(3, x.dtype)) },
  {
    op: 'Cast', title: 'casts the gradient back to the input type', inputs: [{ name: 'x', shape: [2, 3], dtype: 'float32' }],
    build: (g, [x]) => g.mul(g.cast(x, 'float64'), g.cast(x, 'float64')), dtype: 'float32', tol: 1e-4,
  },
  {
    op: 'Where', title: 'sends the gradient to the chosen branch (masking)',
    inputs: [{ name: 'a', shape: [3, 4] }, { name: 'b', shape: [4] }, { name: 'm', shape: [3, 4], dtype: 'int64', data: [1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0], wrt: false }],
    build: (g, [a, b, m]) => g.where(g.equal(m, g.scalar(1, m.dtype)), a, b),
  },
  { op: 'MatMul', title: 'handles a linear layer [B,T,K]@[K,N] and folds batch rows into dW', inputs: [{ name: 'x', shape: [2, 3, 4] }, { name: 'w', shape: [4, 5] }], build: (g, [x, w]) => g.matmul(x, w) },
  { op: 'MatMul', title: 'handles batched attention products [B,H,T,D]@[B,H,D,T]', inputs: [{ name: 'q', shape: [2, 2, 3, 4] }, { name: 'k', shape: [2, 2, 4, 3] }], build: (g, [q, k]) => g.matmul(q, k) },
  { op: 'MatMul', title: 'sums over a broadcast batch dim of the right operand', inputs: [{ name: 'a', shape: [2, 3, 4] }, { name: 'b', shape: [1, 4, 2] }], build: (g, [a, b]) => g.matmul(a, b) },
  {
    op: 'Transpose', title: 'of an attention product: (q·kᵀ)ᵀ as one product, and a transpose of a transpose as one',
    inputs: [{ name: 'q', shape: [2, 3, 2, 4] }, { name: 'k', shape: [2, 3, 2, 4] }],
    build: (g, [q, k]) => {
      const heads = (t: Value) => g.transpose(t, [0, 2, 1, 3]); // [B, H, T, D]
      return g.matmul(heads(q), g.transpose(heads(k), [0, 1, 3, 2])); // [B, H, T, T]
    },
  },
  { op: 'Transpose', title: 'applies the inverse permutation', inputs: [{ name: 'x', shape: [2, 3, 4] }], build: (g, [x]) => g.transpose(x, [1, 2, 0]) },
  { op: 'Reshape', title: 'reshapes back to the input shape', inputs: [{ name: 'x', shape: [2, 3, 4] }], build: (g, [x]) => g.mul(g.reshape(x, [0, 0, 2, 2]), g.reshape(x, [2, 3, 2, 2])) },
  { op: 'Unsqueeze', title: 'drops the inserted axis', inputs: [{ name: 'x', shape: [3, 4] }], build: (g, [x]) => g.unsqueeze(x, [1]) },
  { op: 'Squeeze', title: 'restores the squeezed axis', inputs: [{ name: 'x', shape: [3, 1, 4] }], build: (g, [x]) => g.squeeze(x, [1]) },
  { op: 'Expand', title: 'sums over expanded axes', inputs: [{ name: 'x', shape: [3, 1] }], build: (g, [x]) => g.expand(x, g.ints([2, 3, 4]), [2, 3, 4]) },
  {
    op: 'Split', title: 'concatenates the part gradients, zeros for an unused part', inputs: [{ name: 'x', shape: [2, 7] }],
    build: (g, [x]) => {
      const [a, , c] = g.split(x, 1, [2, 3, 2]);
      return g.mul(a, c);
    },
  },
  { op: 'Concat', title: 'splits the gradient between the inputs', inputs: [{ name: 'a', shape: [2, 3] }, { name: 'b', shape: [2, 1] }], build: (g, [a, b]) => g.concat([a, b, a], 1) },
  { op: 'Slice', title: 'pads the gradient back with zeros', inputs: [{ name: 'x', shape: [3, 6] }], build: (g, [x]) => g.slice(x, [1, 1], [3, -1], [0, 1]) },
  {
    op: 'Gather', title: 'adds the rows of repeated indices (embedding)',
    inputs: [{ name: 'w', shape: [5, 3] }, { name: 'ids', shape: [2, 3], dtype: 'int64', data: [1, 4, 1, 0, 1, 4], wrt: false }],
    build: (g, [w, ids]) => g.gather(w, ids, 0),
  },
  {
    op: 'Gather', title: 'adds the rows of repeated indices as a one-hot product (small float32 table)',
    inputs: [{ name: 'w', shape: [5, 3] }, { name: 'ids', shape: [2, 3], dtype: 'int64', data: [1, 4, 1, 0, 1, 4], wrt: false }],
    build: (g, [w, ids]) => g.gather(w, ids, 0), dtype: 'float32', tol: 2e-3,
  },
  { op: 'ReduceSum', title: 'spreads the gradient over reduced axes (keepdims off)', inputs: [{ name: 'x', shape: [2, 3, 4] }], build: (g, [x]) => g.reduceSum(x, [0, 2], false) },
  { op: 'ReduceSum', title: 'spreads the gradient over reduced axes (keepdims on)', inputs: [{ name: 'x', shape: [2, 3, 4] }], build: (g, [x]) => g.reduceSum(x, [-1], true) },
  { op: 'ReduceMean', title: 'spreads the gradient divided by the count', inputs: [{ name: 'x', shape: [2, 3, 4] }], build: (g, [x]) => g.reduceMean(x, [1], false) },
  { op: 'ReduceSumSquare', title: 'multiplies by 2x', inputs: [{ name: 'x', shape: [2, 5] }], build: (g, [x]) => g.reduceSumSquare(x, [1], false) },
  { op: 'Softmax', title: 'uses y·(dy − Σ dy·y)', inputs: [{ name: 'x', shape: [2, 3, 5] }], build: (g, [x]) => g.softmax(x, -1) },
  { op: 'LogSoftmax', title: 'uses dy − softmax·Σ dy', inputs: [{ name: 'x', shape: [3, 5] }], build: (g, [x]) => g.logSoftmax(x, -1) },
  {
    op: 'LayerNormalization', title: 'differentiates input, scale and bias from the saved statistics',
    inputs: [{ name: 'x', shape: [2, 3, 6] }, { name: 'gamma', shape: [6] }, { name: 'beta', shape: [6] }],
    build: (g, [x, s, b]) => g.layerNorm(x, s, b, 1e-5).y,
  },
  { op: 'Gelu', title: 'matches the tanh approximation (gelu_new)', inputs: [{ name: 'x', shape: [3, 4], data: [-3, -1.5, -0.7, -0.1, 0, 0.05, 0.4, 0.9, 1.3, 2.2, 3.1, -2.4] }], build: (g, [x]) => g.gelu(x, 'tanh'), dtype: 'float32', tol: 2e-3 },
  { op: 'Gelu', title: 'matches the exact erf form', inputs: [{ name: 'x', shape: [2, 4] }], build: (g, [x]) => g.gelu(x, 'none'), dtype: 'float32', tol: 2e-3 },
  {
    op: 'SoftmaxCrossEntropyLoss', title: 'averages over kept labels and skips ignore_index −100',
    inputs: [{ name: 'scores', shape: [4, 5] }, { name: 'labels', shape: [4], dtype: 'int64', data: [2, -100, 4, 0], wrt: false }],
    build: (g, [s, l]) => g.softmaxCrossEntropy(s, l, -100, 'mean').loss, dtype: 'float32', tol: 2e-3,
  },
  {
    op: 'SoftmaxCrossEntropyLoss', title: 'sums without ignored labels',
    inputs: [{ name: 'scores', shape: [3, 4] }, { name: 'labels', shape: [3], dtype: 'int64', data: [3, 1, 1], wrt: false }],
    build: (g, [s, l]) => g.softmaxCrossEntropy(s, l, -1000, 'sum').loss, dtype: 'float32', tol: 2e-3,
  },
];

describe('gradient rules match finite differences', () => {
  it('every rule in the table has a finite-difference case', () => {
    const tested = new Set(CASES.map((c) => c.op));
    expect(Object.keys(RULES).filter((op) => !tested.has(op))).toEqual([]);
  });

  it('moves no data twice in attention: no gradient transposes a transpose or a product', () => {
    const g = new GraphBuilder();
    const [q, k] = ['q', 'k'].map((n) => g.input(n, 'float32', [2, 3, 2, 4])); // [B, T, H, D]
    const heads = (t: Value) => g.transpose(t, [0, 2, 1, 3]); // [B, H, T, D]
    const scores = g.matmul(heads(q), g.transpose(heads(k), [0, 1, 3, 2])); // [B, H, T, T]
    const loss = g.reduceSum(g.mul(scores, scores), [0, 1, 2, 3], false);
    const before = new Set(g.nodes);
    const added = g.liveNodes(gradients(g, loss, [q, k])).filter((n) => !before.has(n) && n.op === 'Transpose');
    const swapsLast2 = (n: (typeof added)[number]) => (n.attrs.perm as { ints: number[] }).ints.join() === '0,1,3,2';
    // No transpose of a transpose, and no product transposed as a whole: (A·B)ᵀ is Bᵀ·Aᵀ.
    expect(added.filter((n) => n.inputs[0]!.producer?.op === 'Transpose')).toEqual([]);
    expect(added.filter((n) => n.inputs[0]!.producer?.op === 'MatMul' && swapsLast2(n))).toEqual([]);
    // The transposes left: dq and dk back to [B, T, H, D], and operands swapped in a product.
    expect(added.filter((n) => !swapsLast2(n)).map((n) => (n.attrs.perm as { ints: number[] }).ints.join())).toEqual(['0,2,1,3', '0,2,1,3']);
  });

  for (const c of CASES) {
    it(`${c.op} ${c.title}`, async () => {
      const r = await checkGradient(c.inputs, c.build, { dtype: c.dtype });
      expect(r.maxGrad).toBeGreaterThan(1e-3);
      expect(r.relError).toBeLessThan(c.tol ?? 1e-6);
    });
  }
});

/**
 * The same rules on WebGPU, in float32 (it has no float64), lowered as a WebGPU graph is.
 * Central differences in float32 with h = 1e-2 carry a truncation error of about h²·|f'''| and a
 * rounding error of about 6e-8·|L|/h, each near 1e-4 of the gradient here: 2e-3 bounds both with
 * room, and is the tolerance the float32 cases above already use on the CPU.
 */
describe.skipIf(!WEBGPU)('gradient rules match finite differences on WebGPU (float32)', () => {
  for (const c of CASES) {
    it(`${c.op} ${c.title}`, async () => {
      const r = await checkGradient(c.inputs, c.build, { dtype: c.dtype === 'float64' ? undefined : c.dtype, provider: 'webgpu' });
      expect(r.maxGrad).toBeGreaterThan(1e-3);
      expect(r.relError).toBeLessThan(Math.max(c.tol ?? 0, 2e-3));
    });
  }
});
