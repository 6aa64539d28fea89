/**
 * A compiled training step of any model family (models/family.ts) bound to
 * its state. Parameters and AdamW's moments live in three flat float32
 * buffers (the layout of compile.ts); the forward pass is fed per-parameter
 * views of the parameter buffer, AdamW reads the flat vectors, and ONNX
 * Runtime writes the new state into a second set of buffers, which then
 * becomes current (ping-pong): a step allocates nothing and copies no state.
 * The trainer drives this; nothing here knows about data, schedules or events.
 */
import { compileModel, compileTrainLoop, trainLayout } from './compile.ts';
import { modelFamily, type ModelArch } from './models/family.ts';
import type { AdamWConfig } from './optim.ts';
import { BoundStep, FlatState, type StepResult } from './flat-state.ts';
import { createSession, ort, type SessionOptions } from './runtime.ts';
import type { TensorMap } from './safetensors.ts';

export type { StepResult } from './flat-state.ts';

/** One [batch, T] token batch of a step (labels −100 = ignored; position ids default to 0..T−1). */
export interface StepBatch {
  inputIds: BigInt64Array;
  labels: BigInt64Array;
  positionIds?: BigInt64Array;
}

export class TrainStep extends BoundStep {
  readonly arch: ModelArch;
  readonly batch: number;
  /** Longest sequence; shorter batches run on their own compiled graph sharing this state. */
  readonly seq: number;
  readonly paramNames: string[];
  readonly shapes: Map<string, number[]>;
  private readonly sessions = new Map<number, Promise<ort.InferenceSession>>();
  /** The compiled K-step loops per T (runMany). */
  private readonly loops = new Map<number, Promise<ort.InferenceSession>>();
  private readonly compileOptions: { adamw: AdamWConfig } & SessionOptions;

  private constructor(arch: ModelArch, batch: number, seq: number, init: TensorMap, compileOptions: { adamw: AdamWConfig } & SessionOptions) {
    const shapes = modelFamily(arch).paramShapes();
    super(new FlatState(trainLayout(shapes), init, 'the model'));
    this.arch = arch;
    this.batch = batch;
    this.seq = seq;
    this.shapes = shapes;
    this.paramNames = [...shapes.keys()];
    this.compileOptions = compileOptions;
  }

  /**
   * `loop`: the caller trains through runMany (the trainer), so the full-length training loop is
   * compiled now instead of the single step (each is otherwise compiled on first use).
   */
  static async create(opts: { arch: ModelArch; batch: number; seq: number; adamw: AdamWConfig; init: TensorMap; loop?: boolean } & SessionOptions): Promise<TrainStep> {
    const { arch, batch, seq, init, loop, ...compileOptions } = opts;
    const step = new TrainStep(arch, batch, seq, init, compileOptions);
    // Compile the full-length graph now: errors surface at creation.
    await (loop ? step.loopFor(seq) : step.sessionFor(seq));
    return step;
  }

  /** The compiled step for sequences of length T (compiled once, then cached). */
  private sessionFor(T: number): Promise<ort.InferenceSession> {
    let s = this.sessions.get(T);
    if (!s) {
      const { adamw, ...session } = this.compileOptions;
      const compiled = compileModel({ arch: this.arch, batch: this.batch, seq: T, mode: 'step', adamw, provider: session.provider });
      s = createSession(compiled.model, session);
      this.sessions.set(T, s);
    }
    return s;
  }

  /** The compiled training loop for sequences of length T (compiled on first use, then cached). */
  private loopFor(T: number): Promise<ort.InferenceSession> {
    let s = this.loops.get(T);
    if (!s) {
      const { adamw, ...session } = this.compileOptions;
      s = createSession(compileTrainLoop({ arch: this.arch, batch: this.batch, seq: T, adamw, provider: session.provider }).model, session);
      this.loops.set(T, s);
    }
    return s;
  }

  /** Position ids 0..T−1 on every row, per T. */
  private readonly defaultPositions = new Map<number, BigInt64Array>();

  /**
   * One optimizer step on a [batch, T] token batch (labels −100 = ignored), T ≤ seq (default seq).
   * Position ids [batch, T] default to 0..T−1 on every row.
   */
  async run(inputIds: BigInt64Array, labels: BigInt64Array, lr: number, T = this.seq, positionIds?: BigInt64Array): Promise<StepResult> {
    const B = this.batch;
    const positions = this.checkBatch({ inputIds, labels, positionIds }, T);
    const session = await this.sessionFor(T);
    return this.state.step(session, {
      input_ids: new ort.Tensor('int64', inputIds, [B, T]),
      labels: new ort.Tensor('int64', labels, [B, T]),
      position_ids: new ort.Tensor('int64', positions, [B, T]),
    }, lr);
  }

  /**
   * K optimizer steps in one session run (a compiled ONNX Loop): the same numbers as K calls of
   * run(), bit for bit, without handing the state to JavaScript and back between the steps.
   * Every batch is [batch, T]; `lrs` holds each step's learning rate.
   */
  async runMany(batches: readonly StepBatch[], lrs: readonly number[], T = this.seq): Promise<StepResult[]> {
    const K = batches.length;
    if (K === 0 || lrs.length !== K) throw new Error(`runMany: ${K} batches and ${lrs.length} learning rates`);
    const n = this.batch * T;
    const ids = new BigInt64Array(K * n);
    const labels = new BigInt64Array(K * n);
    const positions = new BigInt64Array(K * n);
    batches.forEach((b, k) => {
      positions.set(this.checkBatch(b, T), k * n);
      ids.set(b.inputIds, k * n);
      labels.set(b.labels, k * n);
    });
    const dims = [K, this.batch, T];
    return this.state.steps(await this.loopFor(T), {
      input_ids: new ort.Tensor('int64', ids, dims),
      labels: new ort.Tensor('int64', labels, dims),
      position_ids: new ort.Tensor('int64', positions, dims),
    }, lrs);
  }

  /** Checks a batch's sizes; answers its position ids (0..T−1 on every row by default). */
  private checkBatch(b: StepBatch, T: number): BigInt64Array {
    const B = this.batch;
    if (!(Number.isInteger(T) && T >= 2 && T <= this.seq)) throw new Error(`sequence length ${T} must be between 2 and ${this.seq}`);
    if (b.inputIds.length !== B * T || b.labels.length !== B * T) throw new Error(`batch must be ${B}×${T} tokens, got ${b.inputIds.length} ids and ${b.labels.length} labels`);
    let positions = b.positionIds;
    if (!positions) {
      positions = this.defaultPositions.get(T);
      if (!positions) {
        positions = new BigInt64Array(B * T);
        for (let i = 0; i < B * T; i++) positions[i] = BigInt(i % T);
        this.defaultPositions.set(T, positions);
      }
    }
    if (positions.length !== B * T) throw new Error(`position ids must be ${B}×${T}, got ${positions.length}`);
    return positions;
  }

  async release(): Promise<void> {
    for (const s of [...this.sessions.values(), ...this.loops.values()]) await (await s).release();
    this.sessions.clear();
    this.loops.clear();
  }
}
