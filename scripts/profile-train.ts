/**
 * Where a training step's time goes (a script, not a test):
 *   node scripts/profile-train.ts --layers 4 --dim 256 --heads 4 --seq 128 --batch 8 --vocab 32
 * Runs the compiled step under ONNX Runtime's profiler and prints the time per
 * op type and the slowest nodes, averaged over the profiled steps.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { compileModel, compileTrainLoop, isFlatGroup } from '../src-main/engine/compile.ts';
import { initGPT2, Rng } from '../src-main/engine/init.ts';
import { ADAMW_DEFAULTS } from '../src-main/engine/optim.ts';
import { ort } from '../src-main/engine/runtime.ts';
import { positiveFlag, shapeFlags, shapeOf } from './shape-flags.ts';

const { values: a } = parseArgs({
  options: {
    ...shapeFlags,
    steps: { type: 'string', default: '10' },
    top: { type: 'string', default: '25' },
    /** Profile the training loop (K steps per run, as the trainer runs them) instead of the single step. */
    'steps-per-run': { type: 'string', default: '0' },
  },
  strict: true,
});
const { arch, batch: B, seq: T, threads } = shapeOf('profile-train', a);
const steps = positiveFlag('profile-train', a, 'steps'), top = positiveFlag('profile-train', a, 'top');
const K = Number(a['steps-per-run']);
const compiled = K > 0 ? compileTrainLoop({ arch, batch: B, seq: T, adamw: ADAMW_DEFAULTS }) : compileModel({ arch, batch: B, seq: T, mode: 'step', adamw: ADAMW_DEFAULTS });
const dir = mkdtempSync(path.join(os.tmpdir(), 'stepwise-profile-'));
const session = await ort.InferenceSession.create(compiled.model, {
  executionProviders: ['cpu'],
  graphOptimizationLevel: 'all',
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  enableProfiling: true,
  profileFilePrefix: path.join(dir, 'step'),
});
const layout = compiled.layout;
const params = new Float32Array(layout.total);
for (const [name, t] of initGPT2(arch, 0)) params.set(t.data, layout.entries.find((e) => e.name === name)!.offset);
const rng = new Rng(2);
const ids = BigInt64Array.from({ length: B * T }, () => BigInt(Math.floor(rng.next() * arch.vocabSize)));
const positions = BigInt64Array.from({ length: B * T }, (_, i) => BigInt(i % T));
const repeat = (x: BigInt64Array) => {
  const out = new BigInt64Array(K * x.length);
  for (let k = 0; k < K; k++) out.set(x, k * x.length);
  return out;
};
const feeds: Record<string, ort.Tensor> = {
  // The optimizer state by groups (compile.ts trainLayout); a single step takes a large parameter's from p.<name>.
  ...Object.fromEntries(layout.groups!.flatMap((grp) => {
    const view = (x: Float32Array) => new ort.Tensor('float32', x.subarray(grp.offset, grp.offset + grp.size), grp.shape);
    const zeros = new Float32Array(layout.total);
    return [
      ...(K > 0 || isFlatGroup(grp.key) ? [[`params.${grp.key}`, view(params)]] : []),
      [`adam_m.${grp.key}`, view(zeros)],
      [`adam_v.${grp.key}`, view(zeros)],
    ];
  })),
  ...(K > 0
    ? {
      step: new ort.Tensor('float32', Float32Array.of(0), []),
      lr: new ort.Tensor('float32', new Float32Array(K).fill(1e-3), [K]),
      input_ids: new ort.Tensor('int64', repeat(ids), [K, B, T]),
      labels: new ort.Tensor('int64', repeat(ids), [K, B, T]),
      position_ids: new ort.Tensor('int64', repeat(positions), [K, B, T]),
    }
    : {
      step: new ort.Tensor('float32', Float32Array.of(1), []),
      lr: new ort.Tensor('float32', Float32Array.of(1e-3), []),
      input_ids: new ort.Tensor('int64', ids, [B, T]),
      labels: new ort.Tensor('int64', ids.slice(), [B, T]),
      position_ids: new ort.Tensor('int64', positions, [B, T]),
    }),
};
if (K === 0) for (const e of layout.entries) feeds[`p.${e.name}`] = new ort.Tensor('float32', params.subarray(e.offset, e.offset + e.size), e.shape);
const t0 = performance.now();
for (let i = 0; i < steps + 2; i++) await session.run(feeds);
const stepsPerRun = Math.max(1, K);
const wall = (performance.now() - t0) / (steps + 2) / stepsPerRun;
session.endProfiling(); // writes <prefix>_<date>.json
const file = path.join(dir, readdirSync(dir).find((f) => f.endsWith('.json'))!);
const events = JSON.parse(readFileSync(file, 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string } }[];
const nodes = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
const byOp = new Map<string, number>();
const byNode = new Map<string, { op: string; us: number }>();
for (const e of nodes) {
  const op = e.args?.op_name ?? '?';
  if (op === 'Loop') continue; // its time is its body's nodes, counted one by one
  byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
  const n = e.name.replace(/_kernel_time$/, '');
  const r = byNode.get(n) ?? { op, us: 0 };
  r.us += e.dur;
  byNode.set(n, r);
}
const per = (us: number) => us / 1000 / runs.length / stepsPerRun;
const kernels = [...byOp.values()].reduce((p, q) => p + q, 0);
console.log(`${runs.length} runs of ${stepsPerRun} step(s); wall ${wall.toFixed(1)} ms/step; model_run ${per(runs.reduce((p, e) => p + e.dur, 0)).toFixed(1)} ms; kernels ${per(kernels).toFixed(1)} ms; ${byNode.size} nodes`);
console.log('\nms/step by op type:');
for (const [op, us] of [...byOp].sort((p, q) => q[1] - p[1])) console.log(`  ${op.padEnd(28)} ${per(us).toFixed(2).padStart(8)}`);
console.log(`\nslowest ${top} nodes:`);
for (const [n, r] of [...byNode].sort((p, q) => q[1].us - p[1].us).slice(0, top)) console.log(`  ${per(r.us).toFixed(2).padStart(7)}  ${r.op.padEnd(14)} ${n}`);
