/**
 * Finite-difference checking of the autodiff: a graph y = f(x…) is reduced to
 * the scalar L = Σ y·R (R fixed random weights), its gradients are compiled
 * with `gradients()` and run in ONNX Runtime, and compared with central
 * differences of L computed by the same session.
 */
import { gradients } from '../../src-main/engine/autodiff.ts';
import { GraphBuilder, numel, type Value } from '../../src-main/engine/onnx/graph.ts';
import type { DType } from '../../src-main/engine/onnx/proto.ts';
import { createSession, ort } from '../../src-main/engine/runtime.ts';
import { targetFor, type ProviderName } from '../../src-main/engine/target.ts';

export interface FdInput {
  name: string;
  shape: number[];
  dtype?: DType;
  /** Values; random normal by default. */
  data?: number[];
  /** Differentiate with respect to this input (default: float inputs). */
  wrt?: boolean;
}

export interface FdResult {
  /** max |analytic − numeric| / max(1, max |numeric|), over all checked inputs. */
  relError: number;
  /** max |analytic| — to be sure the check compared something non-trivial. */
  maxGrad: number;
  analytic: Float64Array[];
  numeric: Float64Array[];
}

/** Deterministic normal samples (Box–Muller over a small LCG). */
export function randn(n: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  const uniform = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  const out: number[] = [];
  while (out.length < n) {
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const t = 2 * Math.PI * uniform();
    out.push(r * Math.cos(t), r * Math.sin(t));
  }
  return out.slice(0, n);
}

function makeData(dtype: DType, values: number[]): Float32Array | Float64Array | BigInt64Array {
  if (dtype === 'float64') return Float64Array.from(values);
  if (dtype === 'float32') return Float32Array.from(values);
  if (dtype === 'int64') return BigInt64Array.from(values.map((v) => BigInt(v)));
  if (dtype === 'int32') return Int32Array.from(values) as unknown as Float32Array;
  throw new Error(`fd: unsupported input dtype ${dtype}`);
}

export async function checkGradient(
  inputs: FdInput[],
  build: (g: GraphBuilder, xs: Value[]) => Value,
  opts: { dtype?: DType; h?: number; seed?: number; provider?: ProviderName } = {},
): Promise<FdResult> {
  const target = targetFor(opts.provider);
  // WebGPU has no float64 and takes integer inputs as int32 (engine/target.ts): there the
  // check runs in float32, with float32's step and tolerances.
  const gpu = target.provider === 'webgpu';
  const dtype = opts.dtype ?? (gpu ? 'float32' : 'float64');
  const h = opts.h ?? (dtype === 'float64' ? 1e-6 : 1e-2);
  const g = new GraphBuilder({ target });
  const declared = (i: FdInput): DType => (i.dtype === 'int64' ? target.tokenDtype : i.dtype === 'float64' && gpu ? 'float32' : i.dtype ?? dtype);
  inputs = inputs.map((i) => ({ ...i, dtype: declared(i) }));
  const xs = inputs.map((i) => g.input(i.name, i.dtype!, i.shape));
  const y = build(g, xs);
  if (!y.shape.every((d) => typeof d === 'number')) throw new Error('fd: output shape must be static');
  const weights = g.constant(makeData(y.dtype, randn(numel(y.shape), (opts.seed ?? 7) + 1)) as Float64Array, y.dtype, y.shape, 'R');
  const axes = [...y.shape.keys()];
  const loss = axes.length ? g.reduceSum(g.mul(y, weights), axes, false, 'loss') : g.mul(y, weights, 'loss');
  const wrtIdx = inputs.map((inp, k) => ({ inp, k })).filter(({ inp }) => inp.wrt ?? (inp.dtype ?? dtype).startsWith('float'));
  const grads = gradients(g, loss, wrtIdx.map(({ k }) => xs[k]));
  const session = await createSession(g.toModel([loss, ...grads]), { threads: 1, provider: target.provider });

  const values = inputs.map((inp, k) => inp.data ?? randn(numel(inp.shape), (opts.seed ?? 7) * 31 + k));
  const feeds = (vals: number[][]) => {
    const f: Record<string, ort.Tensor> = {};
    inputs.forEach((inp, k) => {
      const dt = inp.dtype ?? dtype;
      f[xs[k].name] = new ort.Tensor(dt as 'float32', makeData(dt, vals[k]) as Float32Array, inp.shape);
    });
    return f;
  };
  const out = await session.run(feeds(values));
  const analytic = grads.map((gv) => Float64Array.from(out[gv.name].data as Float32Array));
  const lossAt = async (vals: number[][]) => Number((await session.run(feeds(vals)))[loss.name].data[0]);

  const numeric: Float64Array[] = [];
  let relError = 0;
  let maxGrad = 0;
  for (let j = 0; j < wrtIdx.length; j++) {
    const k = wrtIdx[j].k;
    const num = new Float64Array(values[k].length);
    for (let e = 0; e < values[k].length; e++) {
      const plus = values.map((v) => [...v]);
      const minus = values.map((v) => [...v]);
      plus[k][e] += h;
      minus[k][e] -= h;
      num[e] = ((await lossAt(plus)) - (await lossAt(minus))) / (2 * h);
    }
    numeric.push(num);
    const scale = Math.max(1, ...Array.from(num, Math.abs));
    for (let e = 0; e < num.length; e++) {
      relError = Math.max(relError, Math.abs(analytic[j][e] - num[e]) / scale);
      maxGrad = Math.max(maxGrad, Math.abs(analytic[j][e]));
    }
  }
  await session.release();
  return { relError, maxGrad, analytic, numeric };
}
