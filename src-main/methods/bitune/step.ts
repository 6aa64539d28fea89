/**
 * A compiled Bitune (or LoRA) training step bound to its state, shaped like
 * the engine's TrainStep so the trainer drives it unchanged. The frozen base
 * is fed as session inputs (ort.Tensors made once over its arrays, never
 * copied, never in the optimizer); only the adapters (under full fine-tuning,
 * the model's copies) and the mixing parameters live in the flat parameter /
 * AdamW-moment buffers, which ONNX
 * Runtime writes into a spare set each step (engine/flat-state.ts, as TrainStep).
 */
import type { FlatLayout } from '../../engine/compile.ts';
import type { Adapter } from '../../engine/lora.ts';
import { float16Tensor, toHalf } from '../../engine/half.ts';
import type { ModelFamily, WeightDtype } from '../../engine/models/family.ts';
import type { AdamWConfig } from '../../engine/optim.ts';
import { createSession, ort, type SessionOptions } from '../../engine/runtime.ts';
import type { TensorMap } from '../../engine/safetensors.ts';
import { BoundStep, FlatState, type StepResult } from '../../engine/flat-state.ts';
import { compileBitune, isFullFinetune } from './graph.ts';
import type { Variant } from './variant.ts';

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

export class AdapterStep extends BoundStep {
  readonly batch: number;
  readonly seq: number;
  readonly prefix: number;
  private readonly baseFeeds: Record<string, ort.Tensor> = {};
  private readonly sessions = new Map<number, Promise<ort.InferenceSession>>();
  private readonly opts: AdapterStepOptions;

  private constructor(opts: AdapterStepOptions, layout: FlatLayout) {
    // The trained parameters are the adapters (and the mixing); the base stays outside the state.
    super(new FlatState(layout, opts.init, 'the run'));
    this.opts = opts;
    this.batch = opts.batch;
    this.seq = opts.seq;
    this.prefix = opts.prefix;
    if (isFullFinetune(opts.adapters)) return; // the copies of the model are the trained state
    for (const [name, shape] of opts.family.paramShapes()) {
      const t = opts.base.get(name);
      if (!t) throw new Error(`the base model lacks '${name}' (expected [${shape.join(', ')}])`);
      if (t.shape.join(',') !== shape.join(',')) throw new Error(`the base model's '${name}' has shape [${t.shape.join(', ')}], the model needs [${shape.join(', ')}]`);
      this.baseFeeds[`p.${name}`] = opts.baseDtype === 'float16' ? float16Tensor(toHalf(t.data), shape) : new ort.Tensor('float32', t.data, shape);
    }
  }

  static async create(opts: AdapterStepOptions): Promise<AdapterStep> {
    const first = compileBitune({ family: opts.family, variant: opts.variant, adapters: opts.adapters, batch: opts.batch, prefix: opts.prefix, rest: opts.seq - opts.prefix, mode: 'step', adamw: opts.adamw, baseDtype: opts.baseDtype, provider: opts.provider });
    const step = new AdapterStep(opts, first.trainable);
    step.sessions.set(opts.seq, createSession(first.model, { provider: opts.provider, threads: opts.threads }));
    await step.sessions.get(opts.seq);
    return step;
  }

  private sessionFor(T: number): Promise<ort.InferenceSession> {
    let s = this.sessions.get(T);
    if (!s) {
      const o = this.opts;
      const c = compileBitune({ family: o.family, variant: o.variant, adapters: o.adapters, batch: o.batch, prefix: o.prefix, rest: T - o.prefix, mode: 'step', adamw: o.adamw, baseDtype: o.baseDtype, provider: o.provider });
      s = createSession(c.model, { provider: o.provider, threads: o.threads });
      this.sessions.set(T, s);
    }
    return s;
  }

  /** One optimizer step on a [batch, T] laid-out batch (layout.ts); position ids are required (they carry each row's prompt length). */
  async run(inputIds: BigInt64Array, labels: BigInt64Array, lr: number, T = this.seq, positionIds?: BigInt64Array): Promise<StepResult> {
    const B = this.batch;
    if (!(Number.isInteger(T) && T >= this.prefix + 2 && T <= this.seq)) throw new Error(`sequence length ${T} must be between ${this.prefix + 2} and ${this.seq}`);
    if (inputIds.length !== B * T || labels.length !== B * T) throw new Error(`batch must be ${B}×${T} tokens, got ${inputIds.length} ids and ${labels.length} labels`);
    if (!positionIds || positionIds.length !== B * T) throw new Error(`a Bitune batch needs position ids ${B}×${T}`);
    const session = await this.sessionFor(T);
    return this.state.step(session, {
      ...this.baseFeeds,
      input_ids: new ort.Tensor('int64', inputIds, [B, T]),
      labels: new ort.Tensor('int64', labels, [B, T]),
      position_ids: new ort.Tensor('int64', positionIds, [B, T]),
    }, lr);
  }

  async release(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
  }
}
