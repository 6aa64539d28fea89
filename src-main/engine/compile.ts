/**
 * Compiles model graphs (any family of models/family.ts) for ONNX Runtime:
 * - 'forward': logits, loss and hidden states (evaluation, exactness tests);
 * - 'grad': loss and every parameter's gradient (exactness tests);
 * - 'step': one whole training step — forward, backward, clipping, AdamW —
 *   whose inputs are the parameters, optimizer state, step, learning rate and
 *   a token batch, and whose outputs are the loss, gradient norm, new
 *   parameters and new optimizer state.
 * Batch and sequence length are static: ORT plans memory once per shape.
 */
import { gradients } from './autodiff.ts';
import { modelFamily, type ModelArch } from './models/family.ts';
import { causalLmLoss, causalMask } from './models/gpt2.ts';
import { GraphBuilder, type Value } from './onnx/graph.ts';
import { clipAndAdamW, type AdamWConfig } from './optim.ts';

export type CompileMode = 'forward' | 'grad' | 'step';

export interface CompileOptions {
  /** Any model family's architecture (a GPT2Config, a LlamaConfig). */
  arch: ModelArch;
  batch: number;
  seq: number;
  mode: CompileMode;
  adamw?: AdamWConfig;
}

export interface CompiledGraph {
  model: Uint8Array;
  /** Parameter names in feed order; feeds are `p.<name>`. */
  paramNames: string[];
  paramShapes: Map<string, number[]>;
  /** The flat state layout ('step': inputs `params`, `adam_m`, `adam_v` and outputs `new_params`, `new_adam_m`, `new_adam_v`). */
  layout: FlatLayout;
  /** Output names: 'loss', 'logits', 'hidden.<i>', 'grad.<name>', 'grad_norm', 'new_params', 'new_adam_m', 'new_adam_v'. */
  outputs: string[];
}

export function compileGPT2(opts: CompileOptions): CompiledGraph {
  const { arch, batch: B, seq: T, mode } = opts;
  const family = modelFamily(arch);
  if (T > family.maxPositions) throw new Error(`sequence length ${T} exceeds the model's context of ${family.maxPositions} positions`);
  const g = new GraphBuilder();
  const shapes = family.paramShapes();
  const paramNames = [...shapes.keys()];
  const params: Record<string, Value> = {};
  for (const name of paramNames) params[name] = g.input(`p.${name}`, 'float32', shapes.get(name)!);
  // The training step also takes the whole state flat: `params` (the same memory as the
  // per-parameter inputs, fed as views of one buffer), `adam_m` and `adam_v`, each [N].
  const layout = flatLayout(shapes);
  const N = layout.total;
  const flat = mode === 'step'
    ? { params: g.input('params', 'float32', [N]), m: g.input('adam_m', 'float32', [N]), v: g.input('adam_v', 'float32', [N]) }
    : null;
  const step = mode === 'step' ? g.input('step', 'float32', []) : null;
  const lr = mode === 'step' ? g.input('lr', 'float32', []) : null;
  const inputIds = g.input('input_ids', 'int64', [B, T]);
  const labels = g.input('labels', 'int64', [B, T]);

  // Training steps take position ids per row (ICoT-SI may keep the positions of removed tokens);
  // the other graphs use 0..T−1.
  const positions = mode === 'step'
    ? g.input('position_ids', 'int64', [B, T]) // [B, T]
    : g.constant(BigInt64Array.from({ length: T }, (_, i) => BigInt(i)), 'int64', [T], 'positions'); // [T]
  const fwd = family.forward(g, params, { inputIds, positions, mask: causalMask(g, T) });
  const loss = causalLmLoss(g, fwd.logits, labels, family.vocabSize);

  const outs: Value[] = [];
  const outNames: string[] = [];
  const emit = (name: string, val: Value) => {
    outs.push(g.named(val, name));
    outNames.push(name);
  };
  if (mode === 'forward') {
    emit('loss', loss);
    emit('logits', fwd.logits);
    fwd.hidden.forEach((h, i) => emit(`hidden.${i}`, h));
  } else {
    const grads = gradients(g, loss, paramNames.map((n) => params[n]));
    if (mode === 'grad') {
      emit('loss', loss);
      paramNames.forEach((n, i) => emit(`grad.${n}`, grads[i]));
    } else {
      if (!opts.adamw) throw new Error("compileGPT2: mode 'step' needs adamw settings");
      const opt = flatOptimizerStep(g, opts.adamw, grads, layout, flat!, lr!, step!);
      emit('loss', loss);
      emit('grad_norm', opt.gradNorm);
      emit('new_params', opt.param);
      emit('new_adam_m', opt.m);
      emit('new_adam_v', opt.v);
    }
  }
  return { model: g.toModel(outs, { name: `${family.name}_${mode}` }), paramNames, paramShapes: shapes, layout, outputs: outNames };
}

/**
 * Clipping and AdamW over the flat state, from the per-parameter gradients (concatenated in the
 * layout's order); parameters that `adamw.noDecay` names are exempt from weight decay.
 */
export function flatOptimizerStep(
  g: GraphBuilder,
  adamw: AdamWConfig,
  grads: Value[],
  layout: FlatLayout,
  flat: { params: Value; m: Value; v: Value },
  lr: Value,
  step: Value,
) {
  const N = layout.total;
  const gradFlat = g.concat(grads.map((gr) => g.reshape(gr, [-1])), 0, 'grad_flat'); // [N]
  let decayMask: Value | undefined;
  if (layout.entries.some((e) => adamw.noDecay?.(e.name))) {
    const mask = new Float32Array(N).fill(1);
    for (const e of layout.entries) if (adamw.noDecay!(e.name)) mask.fill(0, e.offset, e.offset + e.size);
    decayMask = g.constant(mask, 'float32', [N], 'decay_mask');
  }
  return clipAndAdamW(g, adamw, { param: flat.params, grad: gradFlat, m: flat.m, v: flat.v, decayMask }, lr, step);
}

export interface CompiledLoop {
  model: Uint8Array;
  layout: FlatLayout;
}

/**
 * Several training steps in one run: an ONNX Loop whose body is the training step of
 * compileGPT2's 'step' mode, carrying the flat parameters and AdamW state from one step to the
 * next inside ONNX Runtime. A run then hands the state back once for all its steps instead of
 * once per step (for GPT-2 4×256 that hand-back is about a tenth of a step).
 *
 * Inputs: `params`, `adam_m`, `adam_v` [N]; `step` (AdamW's t before the first step, float32 []);
 * `input_ids`, `labels`, `position_ids` [K, B, T]; `lr` [K]. K, the number of steps, is the
 * length of `lr` (any K ≥ 1, the same graph). Outputs: `new_params`, `new_adam_m`, `new_adam_v`
 * [N] after the K steps; `loss` and `grad_norm` [K], one per step. A step computes exactly what
 * the 'step' graph computes; every chunking of a run into K-step runs gives the same numbers.
 */
export function compileTrainLoop(opts: { arch: ModelArch; batch: number; seq: number; adamw: AdamWConfig }): CompiledLoop {
  const { arch, batch: B, seq: T } = opts;
  const family = modelFamily(arch);
  if (T > family.maxPositions) throw new Error(`sequence length ${T} exceeds the model's context of ${family.maxPositions} positions`);
  const shapes = family.paramShapes();
  const paramNames = [...shapes.keys()];
  const layout = flatLayout(shapes);
  const N = layout.total;

  // The body: one step. Loop passes (iteration, condition, carried values...) and expects
  // (condition, carried values..., per-step outputs...).
  const b = new GraphBuilder({ prefix: 'body/' });
  const iter = b.input('body/iter', 'int64', []);
  const condIn = b.input('body/cond', 'bool', []);
  const flat = { params: b.input('body/params', 'float32', [N]), m: b.input('body/adam_m', 'float32', [N]), v: b.input('body/adam_v', 'float32', [N]) };
  const t0 = b.input('body/step', 'float32', []);
  const idsAll = b.input('body/input_ids', 'int64', ['K', B, T]);
  const labelsAll = b.input('body/labels', 'int64', ['K', B, T]);
  const positionsAll = b.input('body/position_ids', 'int64', ['K', B, T]);
  const lrAll = b.input('body/lr', 'float32', ['K']);
  const step = b.add(t0, b.scalar(1), 'step'); // []
  const lr = b.gather(lrAll, iter, 0, 'lr'); // []
  // The parameters as views of the flat vector: one Split, then free reshapes.
  const pieces = b.split(flat.params, 0, layout.entries.map((e) => e.size), 'param_views');
  const params: Record<string, Value> = {};
  layout.entries.forEach((e, i) => (params[e.name] = b.reshape(pieces[i], e.shape, e.name)));
  const fwd = family.forward(b, params, { inputIds: b.gather(idsAll, iter, 0, 'input_ids'), positions: b.gather(positionsAll, iter, 0, 'position_ids'), mask: causalMask(b, T) });
  const loss = causalLmLoss(b, fwd.logits, b.gather(labelsAll, iter, 0, 'labels'), family.vocabSize);
  const grads = gradients(b, loss, paramNames.map((n) => params[n]));
  const opt = flatOptimizerStep(b, opts.adamw, grads, layout, flat, lr, step);
  const bodyOuts = [
    b.named(b.node('Identity', [condIn], [{ dtype: 'bool', shape: [] }])[0], 'body/cond_out'),
    b.named(opt.param, 'body/params_out'),
    b.named(opt.m, 'body/adam_m_out'),
    b.named(opt.v, 'body/adam_v_out'),
    b.named(step, 'body/step_out'),
    ...[idsAll, labelsAll, positionsAll, lrAll].map((x, i) => b.named(b.node('Identity', [x], [{ dtype: x.dtype, shape: x.shape }])[0], `body/pass_${i}`)),
    b.named(loss, 'body/loss'),
    b.named(opt.gradNorm, 'body/grad_norm'),
  ];
  const body = b.toGraph(bodyOuts, 'train_step');

  const g = new GraphBuilder();
  const carried = [
    g.input('params', 'float32', [N]), g.input('adam_m', 'float32', [N]), g.input('adam_v', 'float32', [N]), g.input('step', 'float32', []),
    g.input('input_ids', 'int64', ['K', B, T]), g.input('labels', 'int64', ['K', B, T]), g.input('position_ids', 'int64', ['K', B, T]),
  ];
  const lrs = g.input('lr', 'float32', ['K']);
  carried.push(lrs);
  const K = g.reshape(g.node('Shape', [lrs], [{ dtype: 'int64', shape: [1] }])[0], [], 'trip_count'); // []
  const cond = g.constant(Uint8Array.of(1), 'bool', [], 'cond');
  const outs = g.node(
    'Loop',
    [K, cond, ...carried],
    [...carried.map((c) => ({ dtype: c.dtype, shape: c.shape })), { dtype: 'float32', shape: ['K'] }, { dtype: 'float32', shape: ['K'] }],
    { body: { g: body } },
  );
  const [newParams, newM, newV] = outs;
  const [lossAll, gradNormAll] = outs.slice(carried.length);
  const model = g.toModel([
    g.named(newParams, 'new_params'), g.named(newM, 'new_adam_m'), g.named(newV, 'new_adam_v'),
    g.named(lossAll, 'loss'), g.named(gradNormAll, 'grad_norm'),
  ], { name: `${family.name}_train_loop` });
  return { model, layout };
}

export interface FlatLayout {
  /** Where each parameter lives in the flat state vector. */
  entries: { name: string; shape: number[]; offset: number; size: number }[];
  total: number;
}

/** Parameters laid end to end in their model order. */
export function flatLayout(shapes: Map<string, number[]>): FlatLayout {
  let offset = 0;
  const entries = [...shapes].map(([name, shape]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const e = { name, shape, offset, size };
    offset += size;
    return e;
  });
  return { entries, total: offset };
}
