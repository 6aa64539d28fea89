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
      const adamw = opts.adamw;
      if (!adamw) throw new Error("compileGPT2: mode 'step' needs adamw settings");
      const gradFlat = g.concat(grads.map((gr) => g.reshape(gr, [-1])), 0, 'grad_flat'); // [N]
      const exempt = paramNames.filter((n) => adamw.noDecay?.(n));
      let decayMask: Value | undefined;
      if (exempt.length) {
        const mask = new Float32Array(N).fill(1);
        for (const e of layout.entries) if (exempt.includes(e.name)) mask.fill(0, e.offset, e.offset + e.size);
        decayMask = g.constant(mask, 'float32', [N], 'decay_mask');
      }
      const opt = clipAndAdamW(g, adamw, { param: flat!.params, grad: gradFlat, m: flat!.m, v: flat!.v, decayMask }, lr!, step!);
      emit('loss', loss);
      emit('grad_norm', opt.gradNorm);
      emit('new_params', opt.param);
      emit('new_adam_m', opt.m);
      emit('new_adam_v', opt.v);
    }
  }
  return { model: g.toModel(outs, { name: `${family.name}_${mode}` }), paramNames, paramShapes: shapes, layout, outputs: outNames };
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
