/**
 * Each lowering (engine/lowering.ts) computes what the op it replaces computes: the same graph is
 * written once as built and once lowered, both run on the CPU provider, and their outputs agree.
 */
import { describe, expect, it } from 'vitest';
import { LOWERINGS } from '../../src-main/engine/lowering.ts';
import { GraphBuilder, type Value } from '../../src-main/engine/onnx/graph.ts';
import { decodeModel } from '../../src-main/engine/onnx/proto.ts';
import { createSession, ort } from '../../src-main/engine/runtime.ts';
import { CPU_TARGET, targetFor, type Target } from '../../src-main/engine/target.ts';
import { randn } from './fd.ts';

/** WebGPU's lowerings and limits, but int64 tokens, run on the CPU provider; 4 bindings make small Splits and Concats wide. */
const LOWERED: Target = { ...targetFor('webgpu'), provider: 'cpu', tokenDtype: 'int64', maxBindings: 4 };
/** The same with int32 tokens, which is when masks concatenate through float32. */
const LOWERED_INT32: Target = { ...LOWERED, tokenDtype: 'int32' };

interface Case {
  op: string;
  title: string;
  build: (g: GraphBuilder) => Value[];
  feeds: Record<string, ort.Tensor>;
  target?: Target;
}

const f32 = (n: number, seed: number, dims: number[]) => new ort.Tensor('float32', Float32Array.from(randn(n, seed)), dims);
const i64 = (xs: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(xs.map(BigInt)), dims);

const CASES: Case[] = [
  { op: 'Sum', title: 'as a chain of Adds, broadcasting', build: (g) => [g.sum([g.input('a', 'float32', [2, 3]), g.input('b', 'float32', [3]), g.input('c', 'float32', [2, 3])])], feeds: { a: f32(6, 1, [2, 3]), b: f32(3, 2, [3]), c: f32(6, 3, [2, 3]) } },
  { op: 'OneHot', title: 'as an Equal against the classes', build: (g) => [g.oneHot(g.input('i', 'int64', [2, 3]), 5)], feeds: { i: i64([0, 4, 2, 2, 1, 3], [2, 3]) } },
  { op: 'LogSoftmax', title: 'shifted by the max, on any axis', build: (g) => { const x = g.input('x', 'float32', [3, 4]); return [g.logSoftmax(x, -1), g.logSoftmax(x, 0)]; }, feeds: { x: new ort.Tensor('float32', Float32Array.from([...randn(11, 4), 80]), [3, 4]) } },
  {
    op: 'SoftmaxCrossEntropyLoss', title: 'mean over kept labels, with its log-probabilities',
    build: (g) => { const r = g.softmaxCrossEntropy(g.input('s', 'float32', [4, 5]), g.input('l', 'int64', [4]), -100, 'mean'); return [r.loss, r.logProb]; },
    feeds: { s: f32(20, 5, [4, 5]), l: i64([2, -100, 4, 0], [4]) },
  },
  {
    op: 'SoftmaxCrossEntropyLoss', title: 'summed',
    build: (g) => [g.softmaxCrossEntropy(g.input('s', 'float32', [3, 4]), g.input('l', 'int64', [3]), -100, 'sum').loss],
    feeds: { s: f32(12, 6, [3, 4]), l: i64([3, 1, 1], [3]) },
  },
  { op: 'Slice', title: 'of integer labels as Gathers', build: (g) => [g.slice(g.input('l', 'int64', [2, 5]), [1], [5], [1])], feeds: { l: i64([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [2, 5]) } },
  { op: 'Split', title: 'wider than the bindings, as a tree', build: (g) => g.split(g.input('x', 'float32', [2, 20]), 1, [1, 2, 3, 1, 4, 2, 2, 1, 3, 1]), feeds: { x: f32(40, 7, [2, 20]) } },
  { op: 'Concat', title: 'wider than the bindings, as a tree', build: (g) => { const x = g.input('x', 'float32', [2, 3]); const y = g.input('y', 'float32', [2, 1]); return [g.concat([x, y, x, y, x, y, x, y, x], 1)]; }, feeds: { x: f32(6, 8, [2, 3]), y: f32(2, 9, [2, 1]) } },
  {
    op: 'Concat', title: 'of masks, through float32', target: LOWERED_INT32,
    build: (g) => { const x = g.input('x', 'float32', [2, 3]); const m = g.node('Greater', [x, g.scalar(0)], [{ dtype: 'bool', shape: [2, 3] }])[0]; return [g.cast(g.concat([m, g.not(m)], 1), 'float32')]; },
    feeds: { x: f32(6, 10, [2, 3]) },
  },
];

async function run(build: (g: GraphBuilder) => Value[], target: Target, feeds: Record<string, ort.Tensor>) {
  const g = new GraphBuilder({ target });
  const outs = build(g).map((v, i) => g.named(v, `y${i}`));
  const model = g.toModel(outs);
  const s = await createSession(model, { threads: 1 });
  const out = await s.run(feeds);
  await s.release();
  return { values: outs.map((o) => Float64Array.from(out[o.name].data as Float32Array, Number)), ops: decodeModel(model).graph!.node!.map((n) => n.op_type!) };
}

describe('lowerings compute what they replace', () => {
  it('every lowering has a case', () => {
    expect(Object.keys(LOWERINGS).filter((op) => !CASES.some((c) => c.op === op))).toEqual([]);
  });

  for (const c of CASES) {
    it(`${c.op} ${c.title}`, async () => {
      const target = c.target ?? LOWERED;
      const built = await run(c.build, CPU_TARGET, c.feeds);
      const lowered = await run(c.build, target, c.feeds);
      expect(built.ops).toContain(c.op);
      // The op is gone (a Split or Concat stays, narrower: the last test).
      if (c.op !== 'Split' && c.op !== 'Concat') expect(lowered.ops).not.toContain(c.op);
      expect(lowered.values.length).toBe(built.values.length);
      built.values.forEach((want, k) => {
        expect(lowered.values[k].length).toBe(want.length);
        let m = 0;
        for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(lowered.values[k][i] - want[i]) / Math.max(1, Math.abs(want[i])));
        expect(m, `output ${k}`).toBeLessThanOrEqual(1e-6);
      });
    });
  }

  it('a wide Split and Concat become trees no node of which binds more than the target allows', () => {
    const g = new GraphBuilder({ target: LOWERED });
    const x = g.input('x', 'float32', [20]);
    const parts = g.split(x, 0, Array(10).fill(2));
    const y = g.concat(parts.slice().reverse(), 0);
    const nodes = decodeModel(g.toModel([g.named(y, 'y')])).graph!.node!;
    const splits = nodes.filter((n) => n.op_type === 'Split');
    const concats = nodes.filter((n) => n.op_type === 'Concat');
    expect(splits.length).toBeGreaterThan(1);
    expect(concats.length).toBeGreaterThan(1);
    for (const n of splits) expect(n.output!.length + 1).toBeLessThanOrEqual(4);
    for (const n of concats) expect(n.input!.length + 1).toBeLessThanOrEqual(4);
  });
});
