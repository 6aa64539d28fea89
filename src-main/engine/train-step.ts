/**
 * A compiled GPT-2 training step bound to its state. Parameters and AdamW's
 * moments live in three flat float32 buffers (the layout of compile.ts); the
 * forward pass is fed per-parameter views of the parameter buffer, AdamW
 * reads the flat vectors, and ONNX Runtime writes the new state into a second
 * set of buffers, which then becomes current (ping-pong): a step allocates
 * nothing and copies no state. The trainer drives this; nothing here knows
 * about data, schedules or events.
 */
import { compileGPT2, flatLayout, type FlatLayout } from './compile.ts';
import { modelFamily, type ModelArch } from './models/family.ts';
import type { AdamWConfig } from './optim.ts';
import { createSession, ort, type SessionOptions } from './runtime.ts';
import type { TensorMap } from './safetensors.ts';

/** The whole training state, flat: parameters, then AdamW's first and second moments. */
interface StateBuffers {
  p: Float32Array;
  m: Float32Array;
  v: Float32Array;
}

export interface StepResult {
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
}

export class TrainStep {
  readonly arch: ModelArch;
  readonly batch: number;
  /** Longest sequence; shorter batches run on their own compiled graph sharing this state. */
  readonly seq: number;
  readonly paramNames: string[];
  readonly shapes: Map<string, number[]>;
  readonly layout: FlatLayout;
  /** AdamW's step count t since the last reset (0 = fresh). */
  optimizerStep = 0;
  private state: StateBuffers;
  private spare: StateBuffers;
  private readonly sessions = new Map<number, Promise<ort.InferenceSession>>();
  private readonly compileOptions: { adamw: AdamWConfig } & SessionOptions;

  private constructor(arch: ModelArch, batch: number, seq: number, compileOptions: { adamw: AdamWConfig } & SessionOptions) {
    this.arch = arch;
    this.batch = batch;
    this.seq = seq;
    this.shapes = modelFamily(arch).paramShapes();
    this.paramNames = [...this.shapes.keys()];
    this.layout = flatLayout(this.shapes);
    this.compileOptions = compileOptions;
    const fresh = (): StateBuffers => ({ p: new Float32Array(this.layout.total), m: new Float32Array(this.layout.total), v: new Float32Array(this.layout.total) });
    this.state = fresh();
    this.spare = fresh();
  }

  static async create(opts: { arch: ModelArch; batch: number; seq: number; adamw: AdamWConfig; init: TensorMap } & SessionOptions): Promise<TrainStep> {
    const { arch, batch, seq, init, ...compileOptions } = opts;
    const step = new TrainStep(arch, batch, seq, compileOptions);
    step.write(step.state.p, init, 'parameter');
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

  /** Copy named tensors into a flat buffer, checking every name and shape. */
  private write(into: Float32Array, tensors: TensorMap, what: string): void {
    for (const e of this.layout.entries) {
      const t = tensors.get(e.name);
      if (!t) throw new Error(`${what} '${e.name}' is missing`);
      if (t.shape.join(',') !== e.shape.join(',')) throw new Error(`${what} '${e.name}' has shape [${t.shape.join(', ')}], the model needs [${e.shape.join(', ')}]`);
      into.set(t.data, e.offset);
    }
  }

  /** Copies of the named tensors of a flat buffer. */
  private read(from: Float32Array): TensorMap {
    const out: TensorMap = new Map();
    for (const e of this.layout.entries) out.set(e.name, { shape: e.shape, data: from.slice(e.offset, e.offset + e.size) });
    return out;
  }

  /** Zero the AdamW moments and restart its step count (Stepwise Internalization does this at each removal). */
  resetOptimizer(): void {
    this.state.m.fill(0);
    this.state.v.fill(0);
    this.optimizerStep = 0;
  }

  /** Restore parameters and optimizer state (from a checkpoint); names and shapes are checked. */
  loadState(params: TensorMap, m: TensorMap, v: TensorMap, t: number): void {
    this.write(this.state.p, params, 'parameter');
    this.write(this.state.m, m, 'optimizer m');
    this.write(this.state.v, v, 'optimizer v');
    this.optimizerStep = t;
  }

  /** Parameters as a TensorMap (copies), for checkpoints, evaluation and export. */
  snapshot(): TensorMap {
    return this.read(this.state.p);
  }

  /** Optimizer moments as TensorMaps (copies), for checkpoints. */
  optimizerSnapshot(): { m: TensorMap; v: TensorMap } {
    return { m: this.read(this.state.m), v: this.read(this.state.v) };
  }

  /** Position ids 0..T−1 on every row, per T. */
  private readonly defaultPositions = new Map<number, BigInt64Array>();

  /**
   * One optimizer step on a [batch, T] token batch (labels −100 = ignored), T ≤ seq (default seq).
   * Position ids [batch, T] default to 0..T−1 on every row.
   */
  async run(inputIds: BigInt64Array, labels: BigInt64Array, lr: number, T = this.seq, positionIds?: BigInt64Array): Promise<StepResult> {
    const B = this.batch;
    if (!(Number.isInteger(T) && T >= 2 && T <= this.seq)) throw new Error(`sequence length ${T} must be between 2 and ${this.seq}`);
    if (inputIds.length !== B * T || labels.length !== B * T) throw new Error(`batch must be ${B}×${T} tokens, got ${inputIds.length} ids and ${labels.length} labels`);
    let positions = positionIds;
    if (!positions) {
      positions = this.defaultPositions.get(T);
      if (!positions) {
        positions = new BigInt64Array(B * T);
        for (let i = 0; i < B * T; i++) positions[i] = BigInt(i % T);
        this.defaultPositions.set(T, positions);
      }
    }
    if (positions.length !== B * T) throw new Error(`position ids must be ${B}×${T}, got ${positions.length}`);
    const session = await this.sessionFor(T);
    const t = this.optimizerStep + 1;
    const N = this.layout.total;
    const { state: cur, spare: next } = this;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', inputIds, [B, T]),
      labels: new ort.Tensor('int64', labels, [B, T]),
      position_ids: new ort.Tensor('int64', positions, [B, T]),
      step: new ort.Tensor('float32', Float32Array.of(t), []),
      lr: new ort.Tensor('float32', Float32Array.of(lr), []),
      params: new ort.Tensor('float32', cur.p, [N]),
      adam_m: new ort.Tensor('float32', cur.m, [N]),
      adam_v: new ort.Tensor('float32', cur.v, [N]),
    };
    // The forward pass reads each parameter as a view of the flat buffer: no copy.
    for (const e of this.layout.entries) feeds[`p.${e.name}`] = new ort.Tensor('float32', cur.p.subarray(e.offset, e.offset + e.size), e.shape);
    const loss = new Float32Array(1);
    const gradNorm = new Float32Array(1);
    await session.run(feeds, {
      loss: new ort.Tensor('float32', loss, []),
      grad_norm: new ort.Tensor('float32', gradNorm, []),
      new_params: new ort.Tensor('float32', next.p, [N]),
      new_adam_m: new ort.Tensor('float32', next.m, [N]),
      new_adam_v: new ort.Tensor('float32', next.v, [N]),
    });
    this.state = next;
    this.spare = cur;
    this.optimizerStep = t;
    return { loss: loss[0], gradNorm: gradNorm[0] };
  }

  async release(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
  }
}
