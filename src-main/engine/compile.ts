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
import { causalLmLoss, causalMask } from './models/causal-lm.ts';
import { GraphBuilder, makeArray, type Value } from './onnx/graph.ts';
import { targetFor, type ProviderName } from './target.ts';
import { clipAndAdamWGroups, type AdamWConfig, type OptimizerOutputs } from './optim.ts';

export type CompileMode = 'forward' | 'grad' | 'step';

export interface CompileOptions {
  /** Any model family's architecture (a GPT2Config, a LlamaConfig). */
  arch: ModelArch;
  batch: number;
  seq: number;
  mode: CompileMode;
  adamw?: AdamWConfig;
  /** The provider that will run the graph (target.ts): token dtype and lowered ops. Default 'cpu'. */
  provider?: ProviderName;
  /** Elements at most per flat optimizer group (default FLAT_GROUP_ELEMENTS; tests make it small). */
  flatLimit?: number;
}

export interface CompiledGraph {
  model: Uint8Array;
  /** Parameter names in feed order; feeds are `p.<name>`. */
  paramNames: string[];
  paramShapes: Map<string, number[]>;
  /** The flat state layout; 'step': trainLayout, its optimizer groups the inputs `params.<key>` (small parameters only; a large one is its `p.<name>`), `adam_m.<key>`, `adam_v.<key>` and outputs `new_params.<key>`, `new_adam_m.<key>`, `new_adam_v.<key>`. */
  layout: FlatLayout;
  /** Output names: 'loss', 'logits', 'hidden.<i>', 'grad.<name>', 'grad_norm', 'new_params.<key>', 'new_adam_m.<key>', 'new_adam_v.<key>'. */
  outputs: string[];
}

export function compileModel(opts: CompileOptions): CompiledGraph {
  const { arch, batch: B, seq: T, mode } = opts;
  const family = modelFamily(arch);
  if (T > family.maxPositions) throw new Error(`sequence length ${T} exceeds the model's context of ${family.maxPositions} positions`);
  const g = new GraphBuilder({ target: targetFor(opts.provider) });
  const shapes = family.paramShapes();
  const paramNames = [...shapes.keys()];
  const params: Record<string, Value> = {};
  for (const name of paramNames) params[name] = g.input(`p.${name}`, 'float32', shapes.get(name)!);
  // The training step also takes AdamW's state by groups (trainLayout): a large parameter's
  // group is its `p.<name>` input, the small ones' group `params.rest` (the same memory as their
  // `p.<name>` inputs, fed as views of one buffer); moments `adam_m.<key>`, `adam_v.<key>`.
  const layout = mode === 'step' ? trainLayout(shapes, opts.flatLimit) : flatLayout(shapes);
  const states = mode === 'step' ? groupInputs(g, layout, '', params) : null;
  const step = mode === 'step' ? g.input('step', 'float32', []) : null;
  const lr = mode === 'step' ? g.input('lr', 'float32', []) : null;
  const inputIds = g.tokenInput('input_ids', [B, T]);
  const labels = g.tokenInput('labels', [B, T]);

  // Training steps take position ids per row (ICoT-SI may keep the positions of removed tokens);
  // the other graphs use 0..T−1.
  const positions = mode === 'step'
    ? g.tokenInput('position_ids', [B, T]) // [B, T]
    : g.constant(makeArray(g.target.tokenDtype, [...Array(T).keys()]), g.target.tokenDtype, [T], 'positions'); // [T]
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
      if (!opts.adamw) throw new Error("compileModel: mode 'step' needs adamw settings");
      const opt = optimizerStep(g, opts.adamw, layout, new Map(paramNames.map((n, i) => [n, grads[i]])), states!, lr!, step!);
      emit('loss', loss);
      emit('grad_norm', opt.gradNorm);
      emitNewState(layout, opt.groups, emit);
    }
  }
  return { model: g.toModel(outs, { name: `${family.name}_${mode}` }), paramNames, paramShapes: shapes, layout, outputs: outNames };
}

/** An optimizer group's state as graph values. */
export interface GroupState {
  param: Value;
  m: Value;
  v: Value;
}

/**
 * Clipping and AdamW over the layout's optimizer groups (optimizerGroups), from the
 * per-parameter gradients: a one-parameter group takes its gradient as it is, a flat group its
 * parameters' gradients concatenated. Parameters that `adamw.noDecay` names are exempt from
 * weight decay. The training step (compileModel), the training loop (compileTrainLoop) and
 * Bitune's step all update their state through this.
 */
export function optimizerStep(
  g: GraphBuilder,
  adamw: AdamWConfig,
  layout: FlatLayout,
  gradOf: Map<string, Value>,
  states: GroupState[],
  lr: Value,
  step: Value,
) {
  const size = new Map(layout.entries.map((e) => [e.name, e.size]));
  const groups = optimizerGroups(layout).map((grp, i) => {
    const own = grp.names.length === 1 && grp.shape.length === gradOf.get(grp.names[0])!.shape.length;
    const grad = own ? gradOf.get(grp.names[0])! : g.concat(grp.names.map((n) => g.reshape(gradOf.get(n)!, [-1])), 0, grp.key ? `grad_${grp.key}` : 'grad_flat'); // [size]
    const exempt = grp.names.map((n) => adamw.noDecay?.(n) ?? false);
    let decayMask: Value | undefined;
    if (exempt.every(Boolean)) decayMask = g.scalar(0);
    else if (exempt.some(Boolean)) {
      const mask = new Float32Array(grp.size).fill(1);
      let at = 0;
      grp.names.forEach((n, j) => {
        if (exempt[j]) mask.fill(0, at, at + size.get(n)!);
        at += size.get(n)!;
      });
      decayMask = g.constant(mask, 'float32', grp.shape, grp.key ? `decay_mask_${grp.key}` : 'decay_mask');
    }
    return { ...states[i], grad, decayMask };
  });
  return clipAndAdamWGroups(g, adamw, groups, lr, step);
}

/**
 * The layout's group states as graph inputs, `<prefix>params<suffix>`, `<prefix>adam_m<suffix>`,
 * `<prefix>adam_v<suffix>` (stateName); a large parameter's params are its own `p.<name>` input
 * when `ownParams` gives them.
 */
export function groupInputs(g: GraphBuilder, layout: FlatLayout, prefix: string, ownParams?: Record<string, Value>): GroupState[] {
  return optimizerGroups(layout).map((grp) => ({
    param: !isFlatGroup(grp.key) && ownParams ? ownParams[grp.key] : g.input(`${prefix}${stateName('params', grp.key)}`, 'float32', grp.shape),
    m: g.input(`${prefix}${stateName('adam_m', grp.key)}`, 'float32', grp.shape),
    v: g.input(`${prefix}${stateName('adam_v', grp.key)}`, 'float32', grp.shape),
  }));
}

export interface CompiledLoop {
  model: Uint8Array;
  layout: FlatLayout;
}

/**
 * Several training steps in one run: an ONNX Loop whose body is the training step of
 * compileModel's 'step' mode, carrying the flat parameters and AdamW state from one step to the
 * next inside ONNX Runtime. A run then hands the state back once for all its steps instead of
 * once per step (for GPT-2 4×256 that hand-back is about a tenth of a step).
 *
 * Inputs: the optimizer groups of trainLayout, `params.<key>`, `adam_m.<key>`, `adam_v.<key>`;
 * `step` (AdamW's t before the first step, float32 []); `input_ids`, `labels`, `position_ids`
 * [K, B, T]; `lr` [K]. K, the number of steps, is the length of `lr` (any K ≥ 1, the same
 * graph). Outputs: `new_params.<key>`, `new_adam_m.<key>`, `new_adam_v.<key>` after the K steps;
 * `loss` and `grad_norm` [K], one per step. A step computes exactly what
 * the 'step' graph computes; every chunking of a run into K-step runs gives the same numbers.
 */
export function compileTrainLoop(opts: { arch: ModelArch; batch: number; seq: number; adamw: AdamWConfig; provider?: ProviderName; flatLimit?: number }): CompiledLoop {
  const { arch, batch: B, seq: T } = opts;
  const family = modelFamily(arch);
  if (T > family.maxPositions) throw new Error(`sequence length ${T} exceeds the model's context of ${family.maxPositions} positions`);
  const shapes = family.paramShapes();
  const paramNames = [...shapes.keys()];
  const layout = trainLayout(shapes, opts.flatLimit);
  const groups = optimizerGroups(layout);

  // The body: one step. Loop passes (iteration, condition, carried values...) and expects
  // (condition, carried values..., per-step outputs...).
  const target = targetFor(opts.provider);
  const b = new GraphBuilder({ prefix: 'body/', target });
  const iter = b.input('body/iter', 'int64', []);
  const condIn = b.input('body/cond', 'bool', []);
  const states = groupInputs(b, layout, 'body/');
  const t0 = b.input('body/step', 'float32', []);
  const idsAll = b.tokenInput('body/input_ids', ['K', B, T]);
  const labelsAll = b.tokenInput('body/labels', ['K', B, T]);
  const positionsAll = b.tokenInput('body/position_ids', ['K', B, T]);
  const lrAll = b.input('body/lr', 'float32', ['K']);
  const step = b.add(t0, b.scalar(1), 'step'); // []
  const lr = b.gather(lrAll, iter, 0, 'lr'); // []
  // The parameters: a large one is its group's state; the small ones are views of theirs.
  const params: Record<string, Value> = {};
  groups.forEach((grp, i) => {
    if (!isFlatGroup(grp.key)) {
      params[grp.key] = states[i].param;
      return;
    }
    const entries = grp.names.map((n) => layout.entries.find((e) => e.name === n)!);
    const pieces = entries.length === 1 ? [states[i].param] : b.split(states[i].param, 0, entries.map((e) => e.size), 'param_views');
    entries.forEach((e, j) => (params[e.name] = b.reshape(pieces[j], e.shape, e.name)));
  });
  const fwd = family.forward(b, params, { inputIds: b.gather(idsAll, iter, 0, 'input_ids'), positions: b.gather(positionsAll, iter, 0, 'position_ids'), mask: causalMask(b, T) });
  const loss = causalLmLoss(b, fwd.logits, b.gather(labelsAll, iter, 0, 'labels'), family.vocabSize);
  const grads = gradients(b, loss, paramNames.map((n) => params[n]));
  const opt = optimizerStep(b, opts.adamw, layout, new Map(paramNames.map((n, i) => [n, grads[i]])), states, lr, step);
  const bodyOuts = [
    b.named(b.node('Identity', [condIn], [{ dtype: 'bool', shape: [] }])[0], 'body/cond_out'),
    ...opt.groups.flatMap((o, i) => [
      b.named(o.param, `body/params_out.${groups[i].key}`),
      b.named(o.m, `body/adam_m_out.${groups[i].key}`),
      b.named(o.v, `body/adam_v_out.${groups[i].key}`),
    ]),
    b.named(step, 'body/step_out'),
    ...[idsAll, labelsAll, positionsAll, lrAll].map((x, i) => b.named(b.node('Identity', [x], [{ dtype: x.dtype, shape: x.shape }])[0], `body/pass_${i}`)),
    b.named(loss, 'body/loss'),
    b.named(opt.gradNorm, 'body/grad_norm'),
  ];
  const body = b.toGraph(bodyOuts, 'train_step');

  const g = new GraphBuilder({ target });
  const carried = [
    ...groupInputs(g, layout, '').flatMap((st) => [st.param, st.m, st.v]),
    g.input('step', 'float32', []),
    g.tokenInput('input_ids', ['K', B, T]), g.tokenInput('labels', ['K', B, T]), g.tokenInput('position_ids', ['K', B, T]),
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
  const [lossAll, gradNormAll] = outs.slice(carried.length);
  const model = g.toModel([
    ...groups.flatMap((grp, i) => [
      g.named(outs[3 * i], stateName('new_params', grp.key)), g.named(outs[3 * i + 1], stateName('new_adam_m', grp.key)), g.named(outs[3 * i + 2], stateName('new_adam_v', grp.key)),
    ]),
    g.named(lossAll, 'loss'), g.named(gradNormAll, 'grad_norm'),
  ], { name: `${family.name}_train_loop` });
  return { model, layout };
}

export interface FlatLayout {
  /** Where each parameter lives in the flat state vector. */
  entries: { name: string; shape: number[]; offset: number; size: number }[];
  total: number;
  /**
   * How AdamW takes the state, each group a contiguous slice of it: a large parameter alone, in
   * its own shape, or the small ones together, flat. Absent: one flat group (`params`,
   * `adam_m`, `adam_v`); present: `params.<key>`, `adam_m.<key>`, `adam_v.<key>` per group.
   */
  groups?: OptimizerGroup[];
}

export interface OptimizerGroup {
  key: string;
  offset: number;
  size: number;
  /** The parameter's shape for a one-parameter group, [size] for the flat group of small ones. */
  shape: number[];
  /** The parameters in it, in layout order. */
  names: string[];
}

/** Parameters at least this large (elements) get an AdamW group of their own in training graphs. */
const OWN_GROUP_ELEMENTS = 1 << 16;

/**
 * The training graphs' layout: large parameters first, each its own optimizer group, then the
 * small ones as one flat group (`rest`). Grouping spares the large ones (nearly all the state)
 * a concatenation of gradients and a split of parameters per step; batching the small ones
 * spares a dozen optimizer nodes per bias and norm. The layout is internal: checkpoints and
 * exports name every tensor.
 */
export function trainLayout(shapes: Map<string, number[]>, flatLimit = FLAT_GROUP_ELEMENTS): FlatLayout {
  const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
  const big = [...shapes].filter(([, shape]) => size(shape) >= OWN_GROUP_ELEMENTS);
  const small = [...shapes].filter(([, shape]) => size(shape) < OWN_GROUP_ELEMENTS);
  const layout = flatLayout(new Map([...big, ...small]));
  const groups: OptimizerGroup[] = layout.entries.slice(0, big.length).map((e) => ({ key: e.name, offset: e.offset, size: e.size, shape: e.shape, names: [e.name] }));
  groups.push(...flatGroups(layout.entries.slice(big.length), 'rest', flatLimit));
  return { ...layout, groups };
}

/**
 * Elements at most in one flat optimizer group: 2^24 float32 are 64 MiB, half of WebGPU's default
 * maxStorageBufferBindingSize (128 MiB), so that a group's state, gradient and update each bind
 * on any adapter. Flat groups are chunked at this size; under it (every model so far) a layout
 * has the one flat group it always had, and the same numbers.
 */
export const FLAT_GROUP_ELEMENTS = 1 << 24;

/**
 * Consecutive `entries` as flat groups of at most `limit` elements each (a larger parameter
 * alone): `<key>`, then `<key>.1`, `<key>.2` … past the first.
 */
function flatGroups(entries: FlatLayout['entries'], key: string, limit: number): OptimizerGroup[] {
  const groups: OptimizerGroup[] = [];
  for (const e of entries) {
    const last = groups.at(-1);
    if (last && last.size + e.size <= limit) {
      last.size += e.size;
      last.shape = [last.size];
      last.names.push(e.name);
    } else {
      const k = groups.length === 0 ? key : `${key || 'flat'}.${groups.length}`;
      groups.push({ key: k, offset: e.offset, size: e.size, shape: [e.size], names: [e.name] });
    }
  }
  return groups;
}

/** The layout's optimizer groups: its groups, or the whole state as one flat group (key ''), chunked at FLAT_GROUP_ELEMENTS. */
export function optimizerGroups(layout: FlatLayout, flatLimit = FLAT_GROUP_ELEMENTS): OptimizerGroup[] {
  if (layout.groups) return layout.groups;
  if (layout.total <= flatLimit) return [{ key: '', offset: 0, size: layout.total, shape: [layout.total], names: layout.entries.map((e) => e.name) }];
  return flatGroups(layout.entries, '', flatLimit);
}

/**
 * Whether a group lays several parameters (or all of them) flat: its parameters are their own
 * `params.<key>` input even in a single step, where a one-parameter group's are its `p.<name>`.
 */
export function isFlatGroup(key: string): boolean {
  return key === '' || key === 'rest' || /^(rest|flat)\.\d+$/.test(key);
}

/** A group's state input or output: `params.<key>` (`new_params.<key>` …), or `params` for the single flat group. */
export function stateName(kind: 'params' | 'adam_m' | 'adam_v' | 'new_params' | 'new_adam_m' | 'new_adam_v', key: string): string {
  return key ? `${kind}.${key}` : kind;
}

/** Emits each group's new parameters and moments under their stateName. */
export function emitNewState(layout: FlatLayout, groups: OptimizerOutputs[], emit: (name: string, v: Value) => void): void {
  optimizerGroups(layout).forEach((grp, i) => {
    emit(stateName('new_params', grp.key), groups[i].param);
    emit(stateName('new_adam_m', grp.key), groups[i].m);
    emit(stateName('new_adam_v', grp.key), groups[i].v);
  });
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
