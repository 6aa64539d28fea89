/**
 * An auxiliary regression objective trained inside the compiled step: a
 * linear probe reads the model's hidden states at chosen tokens and predicts
 * a number there (Bai et al. 2025, "Why Can't Transformers Learn
 * Multiplication?": the running sum ĉ_k at each answer digit). The probe is
 * per target slot k (one weight vector per slot) and, reading attention
 * heads, per head: every head's probe predicts the target on its own, as the
 * paper's released probe does.
 *
 *   x        [B, T, H, D]   the heads of one layer before their output projection (H = nHead, D = headDim),
 *                           or the residual stream after a block (H = 1, D = C)
 *   P        = x·W_k + b_k  for every slot k: [H, B·T, K]
 *   pred     = Σ_k select[b, t, k]·P   [H, B·T]   (select: a one-hot row per supervised token, zeros elsewhere)
 *   aux_loss = Σ_{b,t,h} weight[b, t]·(pred − target)² / H   (weight: 1/tokens where supervised, 0 elsewhere: a mean)
 *   loss     = lm_loss + λ·aux_loss + l2·‖W‖²
 *
 * The step's inputs gain `aux_select` [B, T, K], `aux_target` [B, T] and
 * `aux_weight` [B, T]; its parameters gain `aux_probe.weight` [K, H, D] and
 * `aux_probe.bias` [K, H], which AdamW updates with the model's (exempt from
 * its weight decay: the probe's L2 is its own). What the targets mean is the
 * method's business; this file knows a regression.
 */
import { causalLmLoss, causalMask } from './models/causal-lm.ts';
import { modelFamily, type ModelArch } from './models/family.ts';
import { emitNewState, groupInputs, optimizerStep, trainLayout } from './compile.ts';
import { gradients } from './autodiff.ts';
import { BoundStep, FlatState, type StepResult } from './flat-state.ts';
import { Rng } from './init.ts';
import { GraphBuilder, type Value } from './onnx/graph.ts';
import type { AdamWConfig } from './optim.ts';
import { createSession, ort, type SessionOptions } from './runtime.ts';
import type { TensorMap } from './safetensors.ts';
import { targetFor } from './target.ts';
import type { StepBatch } from './train-step.ts';

export interface AuxProbeSpec {
  /** 'heads': layer `layer`'s attention heads before their output projection; 'residual': the residual stream after block `layer`. */
  source: 'heads' | 'residual';
  /** 1-based block. */
  layer: number;
  /** Target slots K (the probe has one weight vector per slot and head). */
  slots: number;
  /** λ, the auxiliary loss's weight in the training loss. */
  weight: number;
  /** The probe weights' own L2 penalty (on W, not b). */
  l2: number;
}

export const AUX_WEIGHT = 'aux_probe.weight';
export const AUX_BIAS = 'aux_probe.bias';
const isAuxParam = (name: string) => name === AUX_WEIGHT || name === AUX_BIAS;

/** The regression targets of one [B, T] batch (see the file comment). */
export interface AuxTargets {
  select: Float32Array; // [B, T, K]
  target: Float32Array; // [B, T]
  weight: Float32Array; // [B, T]
}

/** A step batch with its regression targets. */
export type AuxBatch = StepBatch & { aux?: AuxTargets };

/** Heads H and width D the probe reads. */
export function auxProbeReads(arch: ModelArch, spec: AuxProbeSpec): { H: number; D: number } {
  const f = modelFamily(arch);
  if (!(Number.isInteger(spec.layer) && spec.layer >= 1 && spec.layer <= f.nLayer)) {
    throw new Error(`the probe's layer must be between 1 and ${f.nLayer} (the model's blocks), got ${spec.layer}`);
  }
  return spec.source === 'heads' ? { H: f.nHead, D: f.headDim } : { H: 1, D: f.hiddenSize };
}

export function auxProbeShapes(arch: ModelArch, spec: AuxProbeSpec): Map<string, number[]> {
  const { H, D } = auxProbeReads(arch, spec);
  return new Map([[AUX_WEIGHT, [spec.slots, H, D]], [AUX_BIAS, [spec.slots, H]]]);
}

/** A fresh probe: weights N(0, 0.02²) as the paper's RegressionProbe, biases 0. */
export function initAuxProbe(arch: ModelArch, spec: AuxProbeSpec, seed: number): TensorMap {
  const [w, b] = [...auxProbeShapes(arch, spec).values()];
  const rng = new Rng((seed * 2_654_435_761 + 17) >>> 0);
  const data = new Float32Array(w[0] * w[1] * w[2]);
  for (let i = 0; i < data.length; i++) data[i] = 0.02 * rng.normal();
  return new Map([[AUX_WEIGHT, { shape: w, data }], [AUX_BIAS, { shape: b, data: new Float32Array(b[0] * b[1]) }]]);
}

/**
 * The probe's predictions at every token for every slot, [H, B·T, K], from what it reads:
 * `x` [B, H, T, D] (heads) or [B, T, D] (a residual stream), W [K, H, D], b [K, H].
 */
export function probeScores(g: GraphBuilder, x: Value, w: Value, b: Value): Value {
  const [K, H, D] = w.shape as number[];
  const rows = x.shape.length === 4
    ? g.reshape(g.transpose(x, [1, 0, 2, 3], 'probe_in_heads'), [H, -1, D], 'probe_in') // [H, B·T, D]
    : g.reshape(x, [1, -1, D], 'probe_in'); // [1, B·T, D]
  const scores = g.matmul(rows, g.transpose(w, [1, 2, 0], 'probe_w'), 'probe_scores'); // [H, B·T, K]
  return g.add(scores, g.reshape(g.transpose(b, [1, 0]), [H, 1, K], 'probe_b'), 'probe_pred'); // [H, B·T, K]
}

/** Each supervised token's prediction for its own slot: [H, B·T] (0 where `select` is all zeros). */
export function selectSlot(g: GraphBuilder, scores: Value, select: Value): Value {
  const K = scores.shape[2] as number;
  return g.reduceSum(g.mul(scores, g.reshape(select, [1, -1, K], 'select_rows')), [2], false, 'probe_selected'); // [H, B·T]
}

/** Σ weight·(pred − target)² / H over every token and head: the auxiliary loss ([]). `pred` [H, B·T]; `target`, `weight` [B, T]. */
export function auxRegressionLoss(g: GraphBuilder, pred: Value, target: Value, weight: Value): Value {
  const H = pred.shape[0] as number;
  const r = g.sub(pred, g.reshape(target, [1, -1]), 'probe_residual'); // [H, B·T]
  const sum = g.reduceSum(g.mul(g.mul(r, r), g.reshape(weight, [1, -1])), [0, 1], false, 'aux_sse'); // []
  return g.mul(sum, g.scalar(1 / H, pred.dtype), 'aux_loss'); // []
}

function readsOf(fwd: { hidden: Value[]; heads?: Value[] }, spec: AuxProbeSpec): Value {
  if (spec.source === 'residual') return fwd.hidden[spec.layer]; // [B, T, C]
  const heads = fwd.heads?.[spec.layer - 1];
  if (!heads) throw new Error("the probe reads attention heads of GPT-2 models only; read the residual stream ('residual') instead");
  return heads; // [B, H, T, D]
}

/**
 * The training step with the probe: inputs of compile.ts's 'step' graph plus the targets and
 * the probe's parameters among the trained ones; outputs `loss` (the language-model loss alone,
 * as every other run reports it), `aux_loss`, `grad_norm` and the new state.
 * 'predict': the parameters, `input_ids`, `position_ids`, `aux_select` → `aux_pred` [H, B·T].
 */
export function compileAuxGraph(opts: { arch: ModelArch; spec: AuxProbeSpec; batch: number; seq: number; mode: 'step' | 'predict'; adamw?: AdamWConfig; provider?: SessionOptions['provider'] }): Uint8Array {
  const { arch, spec, batch: B, seq: T, mode } = opts;
  const family = modelFamily(arch);
  const shapes = new Map([...family.paramShapes(), ...auxProbeShapes(arch, spec)]);
  const g = new GraphBuilder({ target: targetFor(opts.provider) });
  const params: Record<string, Value> = {};
  for (const [name, shape] of shapes) params[name] = g.input(`p.${name}`, 'float32', shape);
  const layout = trainLayout(shapes);
  const states = mode === 'step' ? groupInputs(g, layout, '', params) : null;
  const step = mode === 'step' ? g.input('step', 'float32', []) : null;
  const lr = mode === 'step' ? g.input('lr', 'float32', []) : null;
  const inputIds = g.tokenInput('input_ids', [B, T]);
  const labels = mode === 'step' ? g.tokenInput('labels', [B, T]) : null;
  const positions = g.tokenInput('position_ids', [B, T]);
  const select = g.input('aux_select', 'float32', [B, T, spec.slots]);
  const fwd = family.forward(g, params, { inputIds, positions, mask: causalMask(g, T) });
  const pred = selectSlot(g, probeScores(g, readsOf(fwd, spec), params[AUX_WEIGHT], params[AUX_BIAS]), select); // [H, B·T]
  if (mode === 'predict') return g.toModel([g.named(pred, 'aux_pred')], { name: `${family.name}_aux_predict` });

  const target = g.input('aux_target', 'float32', [B, T]);
  const weight = g.input('aux_weight', 'float32', [B, T]);
  const lm = causalLmLoss(g, fwd.logits, labels!, family.vocabSize);
  const aux = auxRegressionLoss(g, pred, target, weight);
  let total = g.add(lm, g.mul(aux, g.scalar(spec.weight)), 'total_loss');
  if (spec.l2 > 0) total = g.add(total, g.mul(g.reduceSumSquare(params[AUX_WEIGHT], [0, 1, 2], false, 'probe_l2'), g.scalar(spec.l2)), 'total_loss_l2');
  const names = [...shapes.keys()];
  const grads = gradients(g, total, names.map((n) => params[n]));
  const adamw = opts.adamw!;
  const own = { ...adamw, noDecay: (n: string) => isAuxParam(n) || (adamw.noDecay?.(n) ?? false) };
  const opt = optimizerStep(g, own, layout, new Map(names.map((n, i) => [n, grads[i]])), states!, lr!, step!);
  const outs: Value[] = [g.named(lm, 'loss'), g.named(aux, 'aux_loss'), g.named(opt.gradNorm, 'grad_norm')];
  emitNewState(layout, opt.groups, (name, v) => outs.push(g.named(v, name)));
  return g.toModel(outs, { name: `${family.name}_aux_step` });
}

/**
 * The compiled step with the probe, bound to its state (the model's parameters and the probe's):
 * the trainer drives it like TrainStep (its batches carry `aux`), one session run per step. It
 * sums the auxiliary loss over the steps since `takeAuxLoss` last asked.
 */
export class AuxProbeStep extends BoundStep {
  readonly arch: ModelArch;
  readonly spec: AuxProbeSpec;
  readonly batch: number;
  readonly seq: number;
  private readonly options: { adamw: AdamWConfig } & SessionOptions;
  private readonly steps = new Map<number, Promise<ort.InferenceSession>>();
  private readonly predicts = new Map<number, Promise<ort.InferenceSession>>();
  private auxSum = 0;
  private auxCount = 0;

  private constructor(arch: ModelArch, spec: AuxProbeSpec, batch: number, seq: number, init: TensorMap, options: { adamw: AdamWConfig } & SessionOptions) {
    const shapes = new Map([...modelFamily(arch).paramShapes(), ...auxProbeShapes(arch, spec)]);
    super(new FlatState(trainLayout(shapes), init, 'the model and its probe'));
    this.arch = arch;
    this.spec = spec;
    this.batch = batch;
    this.seq = seq;
    this.options = options;
  }

  /** `init`: the model's parameters, with the probe's (a checkpoint) or without (a fresh probe from `seed`). */
  static async create(opts: { arch: ModelArch; spec: AuxProbeSpec; batch: number; seq: number; adamw: AdamWConfig; init: TensorMap; seed: number } & SessionOptions): Promise<AuxProbeStep> {
    const { arch, spec, batch, seq, init, seed, ...options } = opts;
    const all = init.has(AUX_WEIGHT) ? init : new Map([...init, ...initAuxProbe(arch, spec, seed)]);
    const step = new AuxProbeStep(arch, spec, batch, seq, all, options);
    await step.sessionFor(seq, 'step');
    return step;
  }

  private sessionFor(T: number, mode: 'step' | 'predict'): Promise<ort.InferenceSession> {
    const cache = mode === 'step' ? this.steps : this.predicts;
    let s = cache.get(T);
    if (!s) {
      const { adamw, ...session } = this.options;
      s = createSession(compileAuxGraph({ arch: this.arch, spec: this.spec, batch: this.batch, seq: T, mode, adamw, provider: session.provider }), session);
      cache.set(T, s);
    }
    return s;
  }

  private feeds(b: AuxBatch, T: number): Record<string, ort.Tensor> {
    const B = this.batch;
    if (!(Number.isInteger(T) && T >= 2 && T <= this.seq)) throw new Error(`sequence length ${T} must be between 2 and ${this.seq}`);
    if (b.inputIds.length !== B * T) throw new Error(`batch must be ${B}×${T} tokens, got ${b.inputIds.length}`);
    if (!b.aux) throw new Error('a batch for the running-sum probe has no probe targets (aux)');
    if (b.aux.select.length !== B * T * this.spec.slots) throw new Error(`probe targets must be ${B}×${T}×${this.spec.slots}, got ${b.aux.select.length}`);
    const positions = b.positionIds ?? BigInt64Array.from({ length: B * T }, (_, i) => BigInt(i % T));
    return {
      input_ids: new ort.Tensor('int64', b.inputIds, [B, T]),
      position_ids: new ort.Tensor('int64', positions, [B, T]),
      aux_select: new ort.Tensor('float32', b.aux.select, [B, T, this.spec.slots]),
    };
  }

  /** One optimizer step on a [batch, T] batch with its probe targets. */
  async run(inputIds: BigInt64Array, labels: BigInt64Array, lr: number, T = this.seq, positionIds?: BigInt64Array, aux?: AuxTargets): Promise<StepResult> {
    const B = this.batch;
    const feeds = this.feeds({ inputIds, labels, positionIds, aux }, T);
    if (labels.length !== B * T) throw new Error(`labels must be ${B}×${T}, got ${labels.length}`);
    const r = await this.state.step(await this.sessionFor(T, 'step'), {
      ...feeds,
      labels: new ort.Tensor('int64', labels, [B, T]),
      aux_target: new ort.Tensor('float32', aux!.target, [B, T]),
      aux_weight: new ort.Tensor('float32', aux!.weight, [B, T]),
    }, lr, ['aux_loss']);
    this.auxSum += r.outputs!.aux_loss;
    this.auxCount++;
    return { loss: r.loss, gradNorm: r.gradNorm };
  }

  /** The trainer's chunk of steps, one session run each. */
  async runMany(batches: readonly AuxBatch[], lrs: readonly number[], T = this.seq): Promise<StepResult[]> {
    const out: StepResult[] = [];
    for (let k = 0; k < batches.length; k++) {
      const b = batches[k];
      out.push(await this.run(b.inputIds, b.labels, lrs[k], T, b.positionIds, b.aux));
    }
    return out;
  }

  /** Mean auxiliary loss over the steps since the last call (NaN if none). */
  takeAuxLoss(): number {
    const mean = this.auxSum / this.auxCount;
    this.auxSum = 0;
    this.auxCount = 0;
    return mean;
  }

  /** The probe's predictions on a batch with the current parameters: [H, B·T], each token's own slot. */
  async predict(b: AuxBatch, T = this.seq): Promise<Float32Array> {
    const feeds = this.feeds(b, T);
    for (const e of this.state.layout.entries) feeds[`p.${e.name}`] = new ort.Tensor('float32', this.state.view(e.name), e.shape);
    const out = await (await this.sessionFor(T, 'predict')).run(feeds);
    return out.aux_pred.data as Float32Array;
  }

  /** The probe's heads H (1 reading a residual stream). */
  get heads(): number {
    return auxProbeReads(this.arch, this.spec).H;
  }

  async release(): Promise<void> {
    for (const s of [...this.steps.values(), ...this.predicts.values()]) await (await s).release();
    this.steps.clear();
    this.predicts.clear();
  }
}
