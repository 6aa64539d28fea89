/**
 * A compiled GPT-2 training step bound to its state: parameters, AdamW moments
 * and the optimizer's step count live here as float32 buffers, and `run()`
 * feeds them with a token batch to one ONNX Runtime call, which returns the
 * loss and the updated state. The trainer drives this; nothing here knows about
 * data, schedules or events.
 */
import { compileGPT2 } from './compile.ts';
import { gpt2ParamShapes, type GPT2Config } from './models/gpt2.ts';
import type { AdamWConfig } from './optim.ts';
import { createSession, ort, type SessionOptions } from './runtime.ts';
import type { TensorMap } from './safetensors.ts';

export interface OptimizerState {
  /** AdamW's step count t since the last reset (0 = fresh). */
  t: number;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

export interface StepResult {
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
}

export class TrainStep {
  readonly arch: GPT2Config;
  readonly batch: number;
  /** Longest sequence; shorter batches run on their own compiled graph sharing this state. */
  readonly seq: number;
  readonly paramNames: string[];
  readonly shapes: Map<string, number[]>;
  params = new Map<string, Float32Array>();
  opt: OptimizerState;
  private readonly sessions = new Map<number, Promise<ort.InferenceSession>>();
  private readonly compileOptions: { adamw: AdamWConfig } & SessionOptions;
  /** Write outputs into preallocated buffers (see run()). */
  preallocate = true;

  private constructor(arch: GPT2Config, batch: number, seq: number, names: string[], shapes: Map<string, number[]>, compileOptions: { adamw: AdamWConfig } & SessionOptions) {
    this.arch = arch;
    this.batch = batch;
    this.seq = seq;
    this.paramNames = names;
    this.shapes = shapes;
    this.compileOptions = compileOptions;
    this.opt = { t: 0, m: new Map(), v: new Map() };
  }

  static async create(opts: { arch: GPT2Config; batch: number; seq: number; adamw: AdamWConfig; init: TensorMap } & SessionOptions): Promise<TrainStep> {
    const { arch, batch, seq, init, ...compileOptions } = opts;
    const shapes = gpt2ParamShapes(arch);
    const step = new TrainStep(arch, batch, seq, [...shapes.keys()], shapes, compileOptions);
    for (const name of step.paramNames) {
      const t = init.get(name);
      const shape = shapes.get(name)!;
      if (!t) throw new Error(`initial parameters lack '${name}'`);
      if (t.shape.join(',') !== shape.join(',')) throw new Error(`parameter '${name}' has shape [${t.shape.join(', ')}], the model needs [${shape.join(', ')}]`);
      step.params.set(name, Float32Array.from(t.data));
    }
    step.resetOptimizer();
    await step.sessionFor(seq); // compile the full-length step now: errors surface at creation
    return step;
  }

  /** The compiled step for sequences of length T (compiled once, then cached). */
  private sessionFor(T: number): Promise<ort.InferenceSession> {
    let s = this.sessions.get(T);
    if (!s) {
      const { adamw, ...session } = this.compileOptions;
      const compiled = compileGPT2({ arch: this.arch, batch: this.batch, seq: T, mode: 'step', adamw });
      s = createSession(compiled.model, session);
      this.sessions.set(T, s);
    }
    return s;
  }

  /** Zero the AdamW moments and restart its step count (Stepwise Internalization does this at each removal). */
  resetOptimizer(): void {
    this.opt = { t: 0, m: new Map(), v: new Map() };
    for (const name of this.paramNames) {
      const n = this.params.get(name)!.length;
      this.opt.m.set(name, new Float32Array(n));
      this.opt.v.set(name, new Float32Array(n));
    }
  }

  /** Restore parameters and optimizer state (from a checkpoint); shapes are checked. */
  loadState(params: TensorMap, m: TensorMap, v: TensorMap, t: number): void {
    for (const name of this.paramNames) {
      const shape = this.shapes.get(name)!.join(',');
      for (const [what, map] of [['parameter', params], ['optimizer m', m], ['optimizer v', v]] as const) {
        const x = map.get(name);
        if (!x) throw new Error(`${what} '${name}' is missing`);
        if (x.shape.join(',') !== shape) throw new Error(`${what} '${name}' has shape [${x.shape.join(', ')}], the model needs [${shape}]`);
      }
      this.params.set(name, Float32Array.from(params.get(name)!.data));
      this.opt.m.set(name, Float32Array.from(m.get(name)!.data));
      this.opt.v.set(name, Float32Array.from(v.get(name)!.data));
    }
    this.opt.t = t;
  }

  /** Optimizer moments as TensorMaps (copies), for checkpoints. */
  optimizerSnapshot(): { m: TensorMap; v: TensorMap } {
    const m: TensorMap = new Map();
    const v: TensorMap = new Map();
    for (const name of this.paramNames) {
      const shape = this.shapes.get(name)!;
      m.set(name, { shape, data: Float32Array.from(this.opt.m.get(name)!) });
      v.set(name, { shape, data: Float32Array.from(this.opt.v.get(name)!) });
    }
    return { m, v };
  }

  /** One optimizer step on a [batch, T] token batch (labels −100 = ignored), T ≤ seq (default seq). */
  async run(inputIds: BigInt64Array, labels: BigInt64Array, lr: number, T = this.seq): Promise<StepResult> {
    const B = this.batch;
    if (!(Number.isInteger(T) && T >= 2 && T <= this.seq)) throw new Error(`sequence length ${T} must be between 2 and ${this.seq}`);
    if (inputIds.length !== B * T || labels.length !== B * T) throw new Error(`batch must be ${B}×${T} tokens, got ${inputIds.length} ids and ${labels.length} labels`);
    const session = await this.sessionFor(T);
    const t = this.opt.t + 1;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', inputIds, [B, T]),
      labels: new ort.Tensor('int64', labels, [B, T]),
      step: new ort.Tensor('float32', Float32Array.of(t), []),
      lr: new ort.Tensor('float32', Float32Array.of(lr), []),
    };
    for (const name of this.paramNames) {
      const shape = this.shapes.get(name)!;
      feeds[`p.${name}`] = new ort.Tensor('float32', this.params.get(name)!, shape);
      feeds[`m.${name}`] = new ort.Tensor('float32', this.opt.m.get(name)!, shape);
      feeds[`v.${name}`] = new ort.Tensor('float32', this.opt.v.get(name)!, shape);
    }
    if (!this.preallocate) {
      const out = await session.run(feeds);
      for (const name of this.paramNames) {
        this.params.set(name, out[`new_p.${name}`].data as Float32Array);
        this.opt.m.set(name, out[`new_m.${name}`].data as Float32Array);
        this.opt.v.set(name, out[`new_v.${name}`].data as Float32Array);
      }
      this.opt.t = t;
      return { loss: (out.loss.data as Float32Array)[0], gradNorm: (out.grad_norm.data as Float32Array)[0] };
    }
    // Ping-pong: ORT writes the new state into the spare buffers, which then become current,
    // so a step allocates nothing and the state crosses into JS without a copy.
    const loss = new Float32Array(1);
    const gradNorm = new Float32Array(1);
    const fetches: Record<string, ort.Tensor> = {
      loss: new ort.Tensor('float32', loss, []),
      grad_norm: new ort.Tensor('float32', gradNorm, []),
    };
    const spare = this.spareBuffers();
    for (const name of this.paramNames) {
      const shape = this.shapes.get(name)!;
      fetches[`new_p.${name}`] = new ort.Tensor('float32', spare.p.get(name)!, shape);
      fetches[`new_m.${name}`] = new ort.Tensor('float32', spare.m.get(name)!, shape);
      fetches[`new_v.${name}`] = new ort.Tensor('float32', spare.v.get(name)!, shape);
    }
    await session.run(feeds, fetches);
    this.spare = { p: this.params, m: this.opt.m, v: this.opt.v };
    this.params = spare.p;
    this.opt.m = spare.m;
    this.opt.v = spare.v;
    this.opt.t = t;
    return { loss: loss[0], gradNorm: gradNorm[0] };
  }

  /** Buffers ORT writes the next state into (never aliased with the current state). */
  private spare: { p: Map<string, Float32Array>; m: Map<string, Float32Array>; v: Map<string, Float32Array> } | null = null;
  private spareBuffers() {
    const current = new Set<Float32Array>([...this.params.values(), ...this.opt.m.values(), ...this.opt.v.values()]);
    const s = this.spare;
    const usable = s && [...s.p.values(), ...s.m.values(), ...s.v.values()].every((b) => !current.has(b));
    if (usable) return s;
    const fresh = () => new Map(this.paramNames.map((n) => [n, new Float32Array(this.params.get(n)!.length)]));
    return (this.spare = { p: fresh(), m: fresh(), v: fresh() });
  }

  /** Parameters as a TensorMap (copies), for checkpoints and export. */
  snapshot(): TensorMap {
    const m: TensorMap = new Map();
    for (const name of this.paramNames) m.set(name, { shape: this.shapes.get(name)!, data: Float32Array.from(this.params.get(name)!) });
    return m;
  }

  async release(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
  }
}
