/**
 * A compiled Bitune (or LoRA) training step bound to its state, shaped like
 * the engine's TrainStep so the trainer drives it unchanged. The frozen base
 * is fed as session inputs (ort.Tensors made once over its arrays, never
 * copied, never in the optimizer); only the adapters and the mixing
 * parameters live in the flat parameter / AdamW-moment buffers, which ONNX
 * Runtime writes into a spare set each step (ping-pong, as in train-step.ts).
 */
import type { FlatLayout } from '../../engine/compile.ts';
import type { Adapter } from '../../engine/lora.ts';
import { float16Tensor, toHalf } from '../../engine/half.ts';
import type { ModelFamily, WeightDtype } from '../../engine/models/family.ts';
import type { AdamWConfig } from '../../engine/optim.ts';
import { createSession, ort, type SessionOptions } from '../../engine/runtime.ts';
import type { TensorMap } from '../../engine/safetensors.ts';
import type { StepResult } from '../../engine/train-step.ts';
import { compileBitune } from './graph.ts';
import type { Variant } from './variant.ts';

interface StateBuffers {
  p: Float32Array;
  m: Float32Array;
  v: Float32Array;
}

export interface AdapterStepOptions extends SessionOptions {
  family: ModelFamily;
  variant: Variant;
  adapters: Adapter[];
  /** The frozen base's parameters. */
  base: TensorMap;
  /** Initial trainable parameters (adapters, mixing). */
  init: TensorMap;
  batch: number;
  /** Prompt columns before the last prompt token (Pm); a batch of T columns has S = T − Pm answer columns. */
  prefix: number;
  /** Longest batch, Pm + S. */
  seq: number;
  adamw: AdamWConfig;
  /** float16: the base is held and fed as float16 (half its memory), widened to float32 in the graph. */
  baseDtype?: WeightDtype;
}

export class AdapterStep {
  readonly batch: number;
  readonly seq: number;
  readonly prefix: number;
  readonly layout: FlatLayout;
  optimizerStep = 0;
  private state: StateBuffers;
  private spare: StateBuffers;
  private readonly baseFeeds: Record<string, ort.Tensor> = {};
  private readonly sessions = new Map<number, Promise<ort.InferenceSession>>();
  private readonly opts: AdapterStepOptions;

  private constructor(opts: AdapterStepOptions, layout: FlatLayout) {
    this.opts = opts;
    this.batch = opts.batch;
    this.seq = opts.seq;
    this.prefix = opts.prefix;
    this.layout = layout;
    const fresh = (): StateBuffers => ({ p: new Float32Array(layout.total), m: new Float32Array(layout.total), v: new Float32Array(layout.total) });
    this.state = fresh();
    this.spare = fresh();
    for (const [name, shape] of opts.family.paramShapes()) {
      const t = opts.base.get(name);
      if (!t) throw new Error(`the base model lacks '${name}' (expected [${shape.join(', ')}])`);
      if (t.shape.join(',') !== shape.join(',')) throw new Error(`the base model's '${name}' has shape [${t.shape.join(', ')}], the model needs [${shape.join(', ')}]`);
      this.baseFeeds[`p.${name}`] = opts.baseDtype === 'float16' ? float16Tensor(toHalf(t.data), shape) : new ort.Tensor('float32', t.data, shape);
    }
  }

  static async create(opts: AdapterStepOptions): Promise<AdapterStep> {
    const first = compileBitune({ family: opts.family, variant: opts.variant, adapters: opts.adapters, batch: opts.batch, prefix: opts.prefix, rest: opts.seq - opts.prefix, mode: 'step', adamw: opts.adamw, baseDtype: opts.baseDtype });
    const step = new AdapterStep(opts, first.trainable);
    step.write(step.state.p, opts.init, 'parameter');
    step.sessions.set(opts.seq, createSession(first.model, { provider: opts.provider, threads: opts.threads }));
    await step.sessions.get(opts.seq);
    return step;
  }

  private sessionFor(T: number): Promise<ort.InferenceSession> {
    let s = this.sessions.get(T);
    if (!s) {
      const o = this.opts;
      const c = compileBitune({ family: o.family, variant: o.variant, adapters: o.adapters, batch: o.batch, prefix: o.prefix, rest: T - o.prefix, mode: 'step', adamw: o.adamw, baseDtype: o.baseDtype });
      s = createSession(c.model, { provider: o.provider, threads: o.threads });
      this.sessions.set(T, s);
    }
    return s;
  }

  private write(into: Float32Array, tensors: TensorMap, what: string): void {
    for (const e of this.layout.entries) {
      const t = tensors.get(e.name);
      if (!t) throw new Error(`${what} '${e.name}' is missing`);
      if (t.shape.join(',') !== e.shape.join(',')) throw new Error(`${what} '${e.name}' has shape [${t.shape.join(', ')}], the run needs [${e.shape.join(', ')}]`);
      into.set(t.data, e.offset);
    }
  }

  private read(from: Float32Array): TensorMap {
    const out: TensorMap = new Map();
    for (const e of this.layout.entries) out.set(e.name, { shape: e.shape, data: from.slice(e.offset, e.offset + e.size) });
    return out;
  }

  resetOptimizer(): void {
    this.state.m.fill(0);
    this.state.v.fill(0);
    this.optimizerStep = 0;
  }

  loadState(params: TensorMap, m: TensorMap, v: TensorMap, t: number): void {
    this.write(this.state.p, params, 'parameter');
    this.write(this.state.m, m, 'optimizer m');
    this.write(this.state.v, v, 'optimizer v');
    this.optimizerStep = t;
  }

  /** The trainable parameters (adapters, mixing) as a TensorMap of copies. */
  snapshot(): TensorMap {
    return this.read(this.state.p);
  }

  optimizerSnapshot(): { m: TensorMap; v: TensorMap } {
    return { m: this.read(this.state.m), v: this.read(this.state.v) };
  }

  /** One optimizer step on a [batch, T] laid-out batch (layout.ts); position ids are required (they carry each row's prompt length). */
  async run(inputIds: BigInt64Array, labels: BigInt64Array, lr: number, T = this.seq, positionIds?: BigInt64Array): Promise<StepResult> {
    const B = this.batch;
    if (!(Number.isInteger(T) && T >= this.prefix + 2 && T <= this.seq)) throw new Error(`sequence length ${T} must be between ${this.prefix + 2} and ${this.seq}`);
    if (inputIds.length !== B * T || labels.length !== B * T) throw new Error(`batch must be ${B}×${T} tokens, got ${inputIds.length} ids and ${labels.length} labels`);
    if (!positionIds || positionIds.length !== B * T) throw new Error(`a Bitune batch needs position ids ${B}×${T}`);
    const session = await this.sessionFor(T);
    const t = this.optimizerStep + 1;
    const N = this.layout.total;
    const { state: cur, spare: next } = this;
    const feeds: Record<string, ort.Tensor> = {
      ...this.baseFeeds,
      input_ids: new ort.Tensor('int64', inputIds, [B, T]),
      labels: new ort.Tensor('int64', labels, [B, T]),
      position_ids: new ort.Tensor('int64', positionIds, [B, T]),
      step: new ort.Tensor('float32', Float32Array.of(t), []),
      lr: new ort.Tensor('float32', Float32Array.of(lr), []),
      params: new ort.Tensor('float32', cur.p, [N]),
      adam_m: new ort.Tensor('float32', cur.m, [N]),
      adam_v: new ort.Tensor('float32', cur.v, [N]),
    };
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
