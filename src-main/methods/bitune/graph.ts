/**
 * Bitune's computation as one ONNX graph, for any model family (GPT-2,
 * Llama) through the engine's ModelFamily interface, with LoRA, DoRA or IA3
 * adapters added by the LoraGraph transform, or (full fine-tuning) with one
 * trainable copy of the whole model per adapter name, which the pass using
 * that adapter reads. See variant.ts for the passes of each variant.
 *
 * A batch row is laid out in two parts of static lengths (layout.ts):
 *   columns 0..Pm−1   the prompt without its last token, left-padded;
 *   columns Pm..Pm+S−1 the last prompt token, then the answer, right-padded.
 * Position ids run 0..L−1 over the L prompt tokens before the last, then
 * L, L+1, … from the last prompt token on, so each row's prefix length L is
 * position_ids[:, Pm]; every mask is built from it in the graph, and the
 * trainer's (input_ids, labels, position_ids) batch carries everything.
 *
 * Modes: 'forward' (loss, answer logits, mixed caches, α), 'grad' (loss and
 * the gradient of every trainable parameter), 'step' (a whole training step:
 * forward, backward, clipping, AdamW over the flat trainable vector; the base
 * stays an input and gets no gradient, or under full fine-tuning is no input
 * at all: its copies are the trainable parameters), 'score' (per-row log-likelihood of the
 * answer tokens), 'prefill' (the mixed cache of a prompt, for generation).
 */
import { gradients } from '../../engine/autodiff.ts';
import { emitNewState, flatLayout, groupInputs, optimizerStep, type FlatLayout } from '../../engine/compile.ts';
import { fullParamName, fullParamShapes } from '../../engine/full-finetune.ts';
import { adapterParamShapes, LoraGraph, peftTypeOf, type Adapter } from '../../engine/lora.ts';
import { causalLmLoss } from '../../engine/models/causal-lm.ts';
import { paramInputs, type ModelFamily, type WeightDtype } from '../../engine/models/family.ts';
import { makeArray, type Value } from '../../engine/onnx/graph.ts';
import { targetFor, type ProviderName } from '../../engine/target.ts';
import type { AdamWConfig } from '../../engine/optim.ts';
import { MIX_K, MIX_V, passesOf, type PrefillMask, type Variant } from './variant.ts';

export type BituneMode = 'forward' | 'grad' | 'step' | 'score' | 'prefill';

export interface BituneGraphOptions {
  family: ModelFamily;
  variant: Variant;
  /** The adapters the variant uses (passesOf(variant).adapters), each on its modules. */
  adapters: Adapter[];
  batch: number;
  /** Pm: prompt columns before the last prompt token (≥ 1). */
  prefix: number;
  /** S: the last prompt token and the answer (≥ 2; unused in 'prefill'). */
  rest: number;
  mode: BituneMode;
  adamw?: AdamWConfig;
  /** How the frozen base is fed: float32, or float16 widened to float32 where each weight is first read (adapters and mixing stay float32). */
  baseDtype?: WeightDtype;
  /** The provider that will run the graph (engine/target.ts). Default 'cpu'. */
  provider?: ProviderName;
  /** Let the gradient flow through DoRA's weight norm, which PEFT detaches (finite-difference checks; see engine/dora.ts). */
  doraNormGradient?: boolean;
}

export interface BituneGraph {
  model: Uint8Array;
  /** The frozen base's parameter names; fed as `p.<name>` (none under full fine-tuning). */
  baseNames: string[];
  /** The trainable parameters (adapters, then mixing), fed as `p.<name>`; in 'step' also flat as `params`, `adam_m`, `adam_v`. */
  trainable: FlatLayout;
  outputs: string[];
}

/**
 * Names and shapes of everything a variant trains: its adapters' parameters (a whole copy of
 * the model per adapter under full fine-tuning), then θ_k and θ_v when it mixes.
 */
export function trainableShapes(variant: Variant, adapters: Adapter[], family: ModelFamily): Map<string, number[]> {
  const passes = passesOf(variant);
  const shapes = new Map<string, number[]>();
  for (const name of passes.adapters) {
    const a = adapters.find((x) => x.name === name);
    if (!a) throw new Error(`Bitune: the variant needs adapter '${name}'`);
    const own = peftTypeOf(a) === 'full' ? fullParamShapes(name, family.paramShapes()) : adapterParamShapes(a);
    for (const [n, s] of own) shapes.set(n, s);
  }
  if (passes.mixing) {
    shapes.set(MIX_K, [family.nLayer]);
    shapes.set(MIX_V, [family.nLayer]);
  }
  return shapes;
}

/** Whether the adapters are full fine-tuning's copies of the model (all of them or none). */
export function isFullFinetune(adapters: Adapter[]): boolean {
  const full = adapters.filter((a) => peftTypeOf(a) === 'full').length;
  if (full && full !== adapters.length) throw new Error('Bitune: full fine-tuning copies and adapters cannot be mixed in one model');
  return full > 0;
}

/** Bool [n, n] mask constant: query t may see key s. */
function squareMask(g: LoraGraph, n: number, allow: (t: number, s: number) => boolean): Value {
  const data = new Uint8Array(n * n);
  for (let t = 0; t < n; t++) for (let s = 0; s < n; s++) data[t * n + s] = allow(t, s) ? 1 : 0;
  return g.constant(data, 'bool', [n, n], 'mask');
}

const ALLOW: Record<PrefillMask, (t: number, s: number) => boolean> = {
  bidirectional: () => true,
  'anti-causal': (t, s) => s >= t,
  causal: (t, s) => s <= t,
};

export interface PromptCache {
  /** Per layer, [B, kvHeads, Pm, headDim]. */
  mixed: { key: Value; value: Value }[];
  /** α per layer [L] for keys and values (when the variant mixes). */
  alpha?: { key: Value; value: Value };
}

/**
 * The prompt passes and the mixing. `keyReal` [B, Pm] says which prompt columns hold tokens
 * (left padding is false); `p` holds base and trainable parameters by name.
 */
export function promptCache(g: LoraGraph, family: ModelFamily, variant: Variant, p: Record<string, Value>, inp: { ids: Value; positions: Value; keyReal: Value }): PromptCache {
  const passes = passesOf(variant);
  const [B, Pm] = inp.ids.shape as number[];
  const keyRows = g.unsqueeze(inp.keyReal, [1, 2]); // [B, 1, 1, Pm]
  const maskOf = (kind: PrefillMask) => g.node('And', [keyRows, squareMask(g, Pm, ALLOW[kind])], [{ dtype: 'bool', shape: [B, 1, Pm, Pm], hint: `${kind}_mask` }])[0]; // [B, 1, Pm, Pm]
  const run = (adapter: string, kind: PrefillMask, scope: string) =>
    g.scope(scope, () => g.withAdapter(adapter, () => family.forward(g, p, { inputIds: inp.ids, positions: inp.positions, mask: maskOf(kind) }).present));
  const prefill = passes.prefill ? run(passes.prefill.adapter, passes.prefill.mask, 'prefill_pass') : null;
  const causal = passes.causal ? run('default', 'causal', 'causal_pass') : null;
  if (!passes.mixing) return { mixed: (prefill ?? causal)! };
  // α = |θ| / (|θ| + s_init) per layer; |θ| as θ·sign(θ), whose gradient is sign(θ).
  const alphaOf = (theta: Value, hint: string) =>
    g.scope(hint, () => {
      const sign = g.where(g.node('Less', [theta, g.scalar(0)], [{ dtype: 'bool', shape: theta.shape }])[0], g.scalar(-1), g.scalar(1));
      const abs = g.mul(theta, sign, 'abs_theta'); // [L]
      return g.div(abs, g.add(abs, g.scalar(variant.sInit)), 'alpha'); // [L]
    });
  const alphaK = alphaOf(p[MIX_K], 'alpha_k');
  const alphaV = alphaOf(p[MIX_V], 'alpha_v');
  const mix = (c: Value, b: Value, alpha: Value, l: number, hint: string) => {
    const a = g.reshape(g.slice(alpha, [l], [l + 1], [0]), [1, 1, 1, 1]); // [1, 1, 1, 1]
    return g.add(g.mul(c, g.sub(g.scalar(1), a)), g.mul(b, a), hint); // (1 − α)·causal + α·prefill, [B, H, Pm, D]
  };
  const mixed = causal!.map((c, l) => ({ key: mix(c.key, prefill![l].key, alphaK, l, `mixed_k_${l}`), value: mix(c.value, prefill![l].value, alphaV, l, `mixed_v_${l}`) }));
  return { mixed, alpha: { key: alphaK, value: alphaV } };
}

export function compileBitune(opts: BituneGraphOptions): BituneGraph {
  const { family, variant, batch: B, prefix: Pm, rest: S, mode } = opts;
  if (!(Pm >= 1)) throw new Error('Bitune: the prompt part needs at least one column');
  if (mode !== 'prefill' && !(S >= 2)) throw new Error('Bitune: the answer part needs at least two columns (the last prompt token and one answer token)');
  if (mode !== 'prefill' && Pm + S > family.maxPositions) throw new Error(`Bitune: ${Pm + S} positions exceed the model's context of ${family.maxPositions}`);
  const tShapes = trainableShapes(variant, opts.adapters, family);
  const trainable = flatLayout(tShapes);
  const full = isFullFinetune(opts.adapters);
  if (full && opts.baseDtype === 'float16') throw new Error('Bitune: full fine-tuning trains the base\'s own weights in float32; a float16 base needs adapters (runtime.baseDtype "float32")');
  const baseShapes = family.paramShapes();
  const tp: Record<string, Value> = {};
  // The base's inputs (float16 ones are widened on first read), then the trainable parameters.
  // Under full fine-tuning a base weight is read from the copy of the pass's adapter.
  let base: Record<string, Value> = {};
  const p = new Proxy(tp, {
    get: (target, name) => {
      if (typeof name !== 'string') return undefined;
      if (full && baseShapes.has(name)) return target[fullParamName(g.active ?? 'default', name)];
      return target[name] ?? base[name];
    },
  });
  const g = new LoraGraph({ adapters: opts.adapters, param: (name) => p[name], training: mode === 'step' ? { step: (): Value => step! } : undefined, target: targetFor(opts.provider), doraNormGradient: opts.doraNormGradient });
  if (!full) base = paramInputs(g, baseShapes, opts.baseDtype);
  for (const [name, shape] of tShapes) tp[name] = g.input(`p.${name}`, 'float32', shape);
  // One flat optimizer group: `params`, `adam_m`, `adam_v` [N].
  const states = mode === 'step' ? groupInputs(g, trainable, '') : null;
  const step = mode === 'step' ? g.input('step', 'float32', []) : null;
  const lr = mode === 'step' ? g.input('lr', 'float32', []) : null;

  const outs: Value[] = [];
  const outNames: string[] = [];
  const emit = (name: string, v: Value) => {
    outs.push(g.named(v, name));
    outNames.push(name);
  };
  const emitCache = (c: PromptCache, key: (l: number) => string, value: (l: number) => string) =>
    c.mixed.forEach((kv, l) => {
      emit(key(l), kv.key);
      emit(value(l), kv.value);
    });

  if (mode === 'prefill') {
    const ids = g.tokenInput('input_ids', [B, Pm]);
    const positions = g.tokenInput('position_ids', [B, Pm]);
    const keyReal = g.input('key_mask', 'bool', [B, Pm]);
    const cache = promptCache(g, family, variant, p, { ids, positions, keyReal });
    emitCache(cache, (l) => `mixed.${l}.key`, (l) => `mixed.${l}.value`);
    return { model: g.toModel(outs, { name: 'bitune_prefill' }), baseNames: full ? [] : [...baseShapes.keys()], trainable, outputs: outNames };
  }

  const inputIds = g.tokenInput('input_ids', [B, Pm + S]);
  const positionIds = g.tokenInput('position_ids', [B, Pm + S]);
  const labels = g.tokenInput('labels', [B, Pm + S]);
  const tok = g.target.tokenDtype;
  const [prefixIds, restIds] = g.split(inputIds, 1, [Pm, S], 'ids'); // [B, Pm], [B, S]
  const [prefixPos, restPos] = g.split(positionIds, 1, [Pm, S], 'positions');
  const restLabels = g.slice(labels, [Pm], [Pm + S], [1], 'rest_labels'); // [B, S]
  // Row b's prompt before its last token fills columns Pm − L_b … Pm − 1, L_b = position_ids[b, Pm].
  const prefixLen = g.slice(positionIds, [Pm], [Pm + 1], [1], 'prefix_len'); // [B, 1]
  const firstReal = g.sub(g.constant(makeArray(tok, [Pm]), tok, [1], 'Pm'), prefixLen); // [B, 1]
  const columns = g.constant(makeArray(tok, [...Array(Pm).keys()]), tok, [Pm], 'columns'); // [Pm]
  const keyReal = g.node('GreaterOrEqual', [columns, firstReal], [{ dtype: 'bool', shape: [B, Pm], hint: 'key_real' }])[0]; // [B, Pm]
  const cache = promptCache(g, family, variant, p, { ids: prefixIds, positions: prefixPos, keyReal });

  // The answer part: causal among itself, and every real prompt column.
  const toPrompt = g.expand(g.unsqueeze(keyReal, [1, 2]), g.ints([B, 1, S, Pm]), [B, 1, S, Pm]); // [B, 1, S, Pm]
  const causalRest = g.expand(squareMask(g, S, ALLOW.causal), g.ints([B, 1, S, S]), [B, 1, S, S]); // [B, 1, S, S]
  const restMask = g.concat([toPrompt, causalRest], 3, 'rest_mask'); // [B, 1, S, Pm+S]
  const out = g.withAdapter('default', () => family.forward(g, p, { inputIds: restIds, positions: restPos, mask: restMask, past: cache.mixed }));
  const loss = causalLmLoss(g, out.logits, restLabels, family.vocabSize);

  if (mode === 'forward') {
    emit('loss', loss);
    emit('logits', out.logits); // [B, S, V]
    emitCache(cache, (l) => `mixed_k.${l}`, (l) => `mixed_v.${l}`);
    if (cache.alpha) {
      emit('alpha_k', cache.alpha.key);
      emit('alpha_v', cache.alpha.value);
    }
  } else if (mode === 'score') {
    // Σ log p(answer token) per row, over labels ≠ −100 (position t predicts label t+1).
    const next = g.concat([g.slice(restLabels, [1], [S], [1]), g.constant(makeArray(tok, new Array<number>(B).fill(-100)), tok, [B, 1], 'ignore_col')], 1, 'next'); // [B, S]
    const kept = g.not(g.equal(next, g.scalar(-100, tok)), 'kept'); // [B, S]
    const safe = g.where(kept, next, g.scalar(0, tok)); // [B, S]
    const logp = g.logSoftmax(out.logits, -1, 'logp'); // [B, S, V]
    const picked = g.squeeze(g.node('GatherElements', [logp, g.unsqueeze(safe, [2])], [{ dtype: 'float32', shape: [B, S, 1] }], { axis: { i: 2 } })[0], [2]); // [B, S]
    const keptF = g.cast(kept, 'float32');
    emit('logprob_sum', g.reduceSum(g.mul(picked, keptF), [1], false)); // [B]
    emit('tokens', g.reduceSum(keptF, [1], false)); // [B]
  } else {
    const names = [...tShapes.keys()];
    const grads = gradients(g, loss, names.map((n) => p[n]));
    if (mode === 'grad') {
      emit('loss', loss);
      names.forEach((n, i) => emit(`grad.${n}`, grads[i]));
    } else {
      const adamw = opts.adamw;
      if (!adamw) throw new Error("compileBitune: mode 'step' needs adamw settings");
      const opt = optimizerStep(g, adamw, trainable, new Map(names.map((n, i) => [n, grads[i]])), states!, lr!, step!);
      emit('loss', loss);
      emit('grad_norm', opt.gradNorm);
      emitNewState(trainable, opt.groups, emit);
    }
  }
  return { model: g.toModel(outs, { name: `bitune_${mode}` }), baseNames: full ? [] : [...baseShapes.keys()], trainable, outputs: outNames };
}
