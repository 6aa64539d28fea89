/**
 * Training-step benchmark (a script, not a test):
 *   npm run bench:train -- --layers 4 --dim 256 --heads 4 --seq 128 --batch 8 --vocab 32
 * Prints ms per step, achieved GFLOP/s, the share of a step spent copying
 * parameters and optimizer state in and out of ONNX Runtime, ONNX Runtime's own
 * throughput on a 1024×1024×1024 float32 MatMul measured in the same process,
 * the ratio of the two, and last `tokens/s N`. With `--provider webgpu` the copy is the
 * state's trip from host to device and back, which every session run makes (README, GPU). Steps run as training runs them:
 * K steps per session run (an ONNX Loop), the state handed back once per run,
 * with the K the trainer would pick for this model (runs of about two seconds,
 * at most 16) unless --steps-per-run says otherwise; the single-step graph is
 * timed first, for comparison.
 *
 * A shared 2-core machine's speed drifts by ±10% over a minute, which a MatMul
 * measured once beside steps measured once turns into noise in their ratio. So
 * the two alternate: --rounds rounds of one training run (K steps) then three
 * MatMuls, the ratio taken per round; the figures printed are the medians over
 * the rounds.
 */
import { parseArgs } from 'node:util';
import { GraphBuilder } from '../src-main/engine/onnx/graph.ts';
import { initGPT2, Rng } from '../src-main/engine/init.ts';
import { gpt2ParamCount, gpt2ParamShapes } from '../src-main/engine/models/gpt2.ts';
import { ADAMW_DEFAULTS } from '../src-main/engine/optim.ts';
import { createSession, ort, type ProviderName } from '../src-main/engine/runtime.ts';
import { TrainStep } from '../src-main/engine/train-step.ts';
import { stepsPerRun } from '../src-main/engine/trainer.ts';
import { positiveFlag, shapeFlags, shapeOf } from './shape-flags.ts';

const { values: a } = parseArgs({
  options: {
    ...shapeFlags,
    steps: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '9' },
    warmup: { type: 'string', default: '3' },
    inter: { type: 'string', default: '1' },
    'steps-per-run': { type: 'string' },
    provider: { type: 'string', default: 'cpu' },
  },
  strict: true,
});
const int = (name: keyof typeof a) => positiveFlag('bench:train', a, name);
const { arch, batch: B, seq: T, threads } = shapeOf('bench:train', a);
const L = arch.nLayer, C = arch.nEmbd, H = arch.nHead, V = arch.vocabSize;
const steps = int('steps'), warmup = int('warmup'), rounds = int('rounds');
const interOpThreads = int('inter');
const provider = a.provider as ProviderName;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];

async function timeIt(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const ts: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    ts.push(performance.now() - t0);
  }
  return ts;
}

/** ORT's 1024³ float32 MatMul: `measure(n)` times n runs and gives the median throughput in GFLOP/s. */
async function matmulBench(): Promise<{ measure: (n: number) => Promise<number>; release: () => Promise<void> }> {
  const N = 1024;
  const g = new GraphBuilder();
  const x = g.input('a', 'float32', [N, N]);
  const y = g.input('b', 'float32', [N, N]);
  const out = g.named(g.matmul(x, y), 'c');
  const s = await createSession(g.toModel([out]), { threads, provider });
  const rng = new Rng(1);
  const A = Float32Array.from({ length: N * N }, () => rng.normal());
  const feeds = { a: new ort.Tensor('float32', A, [N, N]), b: new ort.Tensor('float32', A.slice(), [N, N]) };
  await timeIt(3, () => s.run(feeds));
  return {
    measure: async (n) => {
      await timeIt(1, () => s.run(feeds));
      return (2 * N ** 3) / (median(await timeIt(n, () => s.run(feeds))) / 1e3) / 1e9;
    },
    release: () => s.release(),
  };
}

/**
 * Time to pass the step's state (parameters, m, v) into ORT and back out with no compute: an
 * Identity graph fed and fetched exactly as TrainStep does (inputs wrap JS buffers, outputs are
 * written into preallocated ones). An upper bound: in the step, ORT writes the new state in place.
 */
async function copyMs(): Promise<number> {
  const g = new GraphBuilder();
  const outs = [];
  const feeds: Record<string, ort.Tensor> = {};
  const fetches: Record<string, ort.Tensor> = {};
  for (const kind of ['p', 'm', 'v']) {
    for (const [name, shape] of gpt2ParamShapes(arch)) {
      const n = shape.reduce((p, q) => p * q, 1);
      outs.push(g.named(g.input(`${kind}.${name}`, 'float32', shape), `new_${kind}.${name}`)); // an Identity node
      feeds[`${kind}.${name}`] = new ort.Tensor('float32', new Float32Array(n), shape);
      fetches[`new_${kind}.${name}`] = new ort.Tensor('float32', new Float32Array(n), shape);
    }
  }
  const s = await createSession(g.toModel(outs), { threads, provider });
  await timeIt(3, () => s.run(feeds, fetches));
  const ms = median(await timeIt(15, () => s.run(feeds, fetches)));
  await s.release();
  return ms;
}

/** Matmul FLOPs of one training step: forward ×3 (backward is two matmuls per forward one). */
function stepFlops(): number {
  const perTokenForward = L * (24 * C * C + 4 * T * C) + 2 * C * V;
  return 3 * perTokenForward * B * T;
}

async function main() {
  console.log(`GPT-2 ${L} layers × ${C} wide, ${H} heads, context ${T}, vocab ${V}; batch ${B}; ${gpt2ParamCount(arch).toLocaleString()} parameters`);
  console.log(`provider ${provider}, ${threads} intra-op threads, ${interOpThreads} inter-op, onnxruntime-node ${ort.env.versions.node}`);
  const single = await TrainStep.create({ arch, batch: B, seq: T, adamw: ADAMW_DEFAULTS, init: initGPT2(arch, 0), threads, interOpThreads, provider });
  const rng = new Rng(2);
  const ids = BigInt64Array.from({ length: B * T }, () => BigInt(Math.floor(rng.next() * V)));
  const labels = ids.slice();
  await timeIt(warmup, () => single.run(ids, labels, 1e-3));
  const singleMs = median(await timeIt(steps, () => single.run(ids, labels, 1e-3)));
  await single.release();
  const perRun = a['steps-per-run'] ? int('steps-per-run') : stepsPerRun(singleMs);

  const tc = performance.now();
  const step = await TrainStep.create({ arch, batch: B, seq: T, adamw: ADAMW_DEFAULTS, init: initGPT2(arch, 0), threads, interOpThreads, provider, loop: true });
  console.log(`compile + session (training loop): ${(performance.now() - tc).toFixed(0)} ms`);
  const batches = Array.from({ length: perRun }, () => ({ inputIds: ids, labels }));
  const lrs = new Array<number>(perRun).fill(1e-3);
  let loss = 0;
  const matmul = await matmulBench();
  await timeIt(1, async () => (loss = (await step.runMany(batches, lrs)).at(-1)!.loss));
  // Rounds: one training run, then the MatMul; each round's ratio pairs two measurements a
  // second apart.
  const times: number[] = [];
  const mms: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // Each session has its own intra-op threads, which spin for a while after a run: a pause
    // lets them settle so that neither measurement shares the cores with the other's threads.
    await pause(50);
    const [t] = await timeIt(1, async () => (loss = (await step.runMany(batches, lrs)).at(-1)!.loss));
    const stepMs = t / perRun;
    await pause(50);
    const mmRound = await matmul.measure(3);
    times.push(stepMs);
    mms.push(mmRound);
    ratios.push(stepFlops() / (stepMs / 1e3) / 1e9 / mmRound);
  }
  await pause(50);
  const mmAlone = await matmul.measure(15);
  await matmul.release();
  const ms = median(times);
  const gflops = stepFlops() / (ms / 1e3) / 1e9;
  const copy = await copyMs();
  const mm = median(mms);
  const tokensPerS = (B * T) / (ms / 1e3);
  const moving = provider === 'cpu' ? 'copying parameters + optimizer state in and out' : 'moving parameters + optimizer state from host to device and back';
  console.log(`one step per run: ${singleMs.toFixed(1)} ms/step (median of ${steps}); ${moving}: ${copy.toFixed(1)} ms = ${((100 * copy) / singleMs).toFixed(1)}% of it`);
  console.log(`loss after ${perRun * (rounds + 1)} steps: ${loss.toFixed(4)}`);
  console.log(`ms/step, ${perRun} steps per run (median of ${rounds} runs): ${ms.toFixed(1)}  [min ${Math.min(...times).toFixed(1)}, max ${Math.max(...times).toFixed(1)}]`);
  console.log(`achieved GFLOP/s: ${gflops.toFixed(1)}  (${(stepFlops() / 1e9).toFixed(2)} GFLOP per step)`);
  console.log(`ONNX Runtime MatMul 1024×1024×1024 float32: ${mm.toFixed(1)} GFLOP/s  [min ${Math.min(...mms).toFixed(1)}, max ${Math.max(...mms).toFixed(1)}] (median of ${rounds} rounds of 3, between the training runs)`);
  const rs = [...ratios].sort((p, q) => p - q);
  console.log(`training step / MatMul throughput: ${(100 * median(ratios)).toFixed(1)}%  (median of the ${rounds} rounds' ratios; middle half ${(100 * rs[Math.floor(rounds / 4)]).toFixed(1)}–${(100 * rs[Math.ceil((3 * rounds) / 4) - 1]).toFixed(1)}%)`);
  console.log(`(the MatMul timed alone after the rounds, 15 runs: ${mmAlone.toFixed(1)} GFLOP/s; the median step against it: ${((100 * gflops) / mmAlone).toFixed(1)}%)`);
  console.log(`tokens/s ${tokensPerS.toFixed(0)}`);
  await step.release();
}

await main();
