/**
 * Compiles GPT-2 graphs for ONNX Runtime:
 * - 'forward': logits, loss and hidden states (evaluation, exactness tests);
 * - 'grad': loss and every parameter's gradient (exactness tests);
 * - 'step': one whole training step — forward, backward, clipping, AdamW —
 *   whose inputs are the parameters, optimizer state, step, learning rate and
 *   a token batch, and whose outputs are the loss, gradient norm, new
 *   parameters and new optimizer state.
 * Batch and sequence length are static: ORT plans memory once per shape.
 */
import { gradients } from './autodiff.ts';
import { causalLmLoss, causalMask, gpt2Forward, gpt2ParamShapes, type GPT2Config } from './models/gpt2.ts';
import { GraphBuilder, type Value } from './onnx/graph.ts';
import { clipAndAdamW, type AdamWConfig } from './optim.ts';

export type CompileMode = 'forward' | 'grad' | 'step';

export interface CompileOptions {
  arch: GPT2Config;
  batch: number;
  seq: number;
  mode: CompileMode;
  adamw?: AdamWConfig;
}

export interface CompiledGraph {
  model: Uint8Array;
  /** Parameter names in feed order; feeds are `p.<name>` (and `m.<name>`, `v.<name>` for 'step'). */
  paramNames: string[];
  paramShapes: Map<string, number[]>;
  /** Output names: 'loss', 'logits', 'hidden.<i>', 'grad.<name>', 'grad_norm', 'new_p.<name>', 'new_m.<name>', 'new_v.<name>'. */
  outputs: string[];
}

export function compileGPT2(opts: CompileOptions): CompiledGraph {
  const { arch, batch: B, seq: T, mode } = opts;
  if (T > arch.nPositions) throw new Error(`sequence length ${T} exceeds the model's context of ${arch.nPositions} positions`);
  const g = new GraphBuilder();
  const shapes = gpt2ParamShapes(arch);
  const paramNames = [...shapes.keys()];
  const params: Record<string, Value> = {};
  for (const name of paramNames) params[name] = g.input(`p.${name}`, 'float32', shapes.get(name)!);
  const m: Record<string, Value> = {};
  const v: Record<string, Value> = {};
  if (mode === 'step') {
    for (const name of paramNames) m[name] = g.input(`m.${name}`, 'float32', shapes.get(name)!);
    for (const name of paramNames) v[name] = g.input(`v.${name}`, 'float32', shapes.get(name)!);
  }
  const step = mode === 'step' ? g.input('step', 'float32', []) : null;
  const lr = mode === 'step' ? g.input('lr', 'float32', []) : null;
  const inputIds = g.input('input_ids', 'int64', [B, T]);
  const labels = g.input('labels', 'int64', [B, T]);

  const positions = g.constant(BigInt64Array.from({ length: T }, (_, i) => BigInt(i)), 'int64', [T], 'positions');
  const fwd = gpt2Forward(g, arch, params, { inputIds, positions, mask: causalMask(g, T) });
  const loss = causalLmLoss(g, fwd.logits, labels, arch.vocabSize);

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
      const opt = clipAndAdamW(
        g,
        adamw,
        paramNames.map((n, i) => ({ name: n, param: params[n], grad: grads[i], m: m[n], v: v[n] })),
        lr!,
        step!,
      );
      emit('loss', loss);
      emit('grad_norm', opt.gradNorm);
      for (const u of opt.updated) {
        emit(`new_p.${u.name}`, u.param);
        emit(`new_m.${u.name}`, u.m);
        emit(`new_v.${u.name}`, u.v);
      }
    }
  }
  return { model: g.toModel(outs, { name: `gpt2_${mode}` }), paramNames, paramShapes: shapes, outputs: outNames };
}
