/**
 * Continuous thoughts (Coconut, Hao et al. 2024) as one unrolled graph: a
 * sequence holding n latent positions is run n+1 times through the same
 * model (shared weights). After pass k the last hidden state (after the final
 * norm, Hugging Face's `hidden_states[-1]`) at the position just before the
 * k-th latent becomes that latent's input embedding; the last pass gives the
 * logits the loss reads. Gradients flow through every pass, as in the paper.
 *
 * Each pass recomputes the whole prefix instead of reusing the previous
 * pass's key/value cache (facebookresearch/coconut slices a cache). Under a
 * causal mask the two are the same function of the weights: position t of
 * pass k only sees positions ≤ t, whose inputs are final once the latents
 * before t are filled, so the last pass's logits, the loss and its gradient
 * equal the cached computation's. Recomputing costs n+1 full passes instead
 * of about one, and buys static shapes, one graph per (T, n), and nothing for
 * the gradient to route through but the model itself. Exactness first: it is
 * checked against n+1 separate forward passes with the thoughts fed back by
 * hand (test/coconut/latent-passes.test.ts).
 *
 * Latent positions come per row (`latent_index` [B, n]): rows may differ in
 * where their thoughts sit, not in how many they have.
 */
import { gradients } from './autodiff.ts';
import { emitNewState, flatLayout, groupInputs, optimizerStep, trainLayout, type FlatLayout } from './compile.ts';
import { causalLmLoss, causalMask } from './models/causal-lm.ts';
import { modelFamily, type ModelArch, type ModelFamily } from './models/family.ts';
import { GraphBuilder, makeArray, type Value } from './onnx/graph.ts';
import type { AdamWConfig } from './optim.ts';
import { targetFor, type ProviderName } from './target.ts';

export interface LatentInputs {
  /** Token ids [B, T] (a latent position holds any id: its lookup is replaced). */
  inputIds: Value;
  /** Position ids [B, T] or [T]. */
  positions: Value;
  /** Attention allowed [T, T] or [B, 1, T, T]. */
  mask: Value;
  /** Where each row's latent thoughts sit, in order [B, n]; every index ≥ 1. */
  latentIndex: Value;
  /** n, the latent thoughts per row (static). */
  latents: number;
}

export interface LatentOutputs {
  /** The last pass's logits [B, T, V]. */
  logits: Value;
  /** The last pass's residual stream per layer (as ModelOutputs.hidden), each [B, T, C]. */
  hidden: Value[];
  /** The continuous thoughts fed back, in order, each [B, C]. */
  thoughts: Value[];
  /** The last pass's input embeddings [B, T, C] (token embeddings, thoughts at latent positions). */
  embeds: Value;
}

/** The n+1 passes; `p` maps parameter names to graph values. */
export function latentForward(g: GraphBuilder, family: ModelFamily, p: Record<string, Value>, inp: LatentInputs): LatentOutputs {
  const [B, T] = inp.inputIds.shape;
  if (typeof B !== 'number' || typeof T !== 'number') throw new Error('latentForward: the batch and length must be static');
  const dt = inp.latentIndex.dtype;
  const columns = g.constant(makeArray(dt, [...Array(T).keys()]), dt, [1, T], 'columns'); // [1, T]
  let embeds = g.gather(p[family.embedParam], inp.inputIds, 0, 'tok_emb'); // [B, T, C]
  const thoughts: Value[] = [];
  for (let k = 0; k < inp.latents; k++) {
    g.scope(`pass${k}`, () => {
      const fwd = family.forward(g, p, { inputIds: inp.inputIds, positions: inp.positions, mask: inp.mask, inputEmbeds: embeds });
      const last = family.finalNorm(g, p, fwd.hidden[fwd.hidden.length - 1]); // [B, T, C]
      const at = g.slice(inp.latentIndex, [k], [k + 1], [1], 'latent_at'); // [B, 1]
      const before = g.sub(at, g.constant(makeArray(dt, [1]), dt, [1, 1], 'one'), 'latent_before'); // [B, 1]
      // The thought: row b's last hidden state at latent_index[b, k] − 1, read by a one-hot product (exact: one term is 1, the rest 0).
      const pick = g.unsqueeze(g.cast(g.equal(before, columns), 'float32', 'pick'), [1]); // [B, 1, T]
      const thought = g.matmul(pick, last, 'thought'); // [B, 1, C]
      thoughts.push(g.squeeze(thought, [1], 'thought_flat')); // [B, C]
      const place = g.unsqueeze(g.equal(at, columns, 'place'), [2]); // [B, T, 1]
      embeds = g.where(place, thought, embeds, 'embeds'); // [B, T, C]
    });
  }
  const fwd = family.forward(g, p, { inputIds: inp.inputIds, positions: inp.positions, mask: inp.mask, inputEmbeds: embeds });
  return { logits: fwd.logits, hidden: fwd.hidden, thoughts, embeds };
}

export type LatentCompileMode = 'forward' | 'grad' | 'step';

export interface LatentCompileOptions {
  arch: ModelArch;
  batch: number;
  seq: number;
  /** Latent thoughts per row (0: one ordinary pass). */
  latents: number;
  mode: LatentCompileMode;
  adamw?: AdamWConfig;
  provider?: ProviderName;
}

export interface CompiledLatent {
  model: Uint8Array;
  paramNames: string[];
  layout: FlatLayout;
  outputs: string[];
}

/**
 * The unrolled graph, compiled. Inputs: `p.<name>`, `input_ids`, `labels`, `position_ids` [B, T],
 * `latent_index` [B, n]; 'step' adds the optimizer state of compile.ts's trainLayout, `step` and
 * `lr`. Outputs: 'forward': `loss`, `logits`, `thought.<k>` [B, C]; 'grad': `loss`, `grad.<name>`;
 * 'step': `loss`, `grad_norm` and the new state (compile.ts's names), so FlatState runs it.
 */
export function compileLatentModel(opts: LatentCompileOptions): CompiledLatent {
  const { arch, batch: B, seq: T, latents: n, mode } = opts;
  const family = modelFamily(arch);
  if (T > family.maxPositions) throw new Error(`sequence length ${T} exceeds the model's context of ${family.maxPositions} positions`);
  if (!(Number.isInteger(n) && n >= 0)) throw new Error(`latent thoughts must be a whole number ≥ 0, got ${n}`);
  const g = new GraphBuilder({ target: targetFor(opts.provider) });
  const shapes = family.paramShapes();
  const paramNames = [...shapes.keys()];
  const params: Record<string, Value> = {};
  for (const name of paramNames) params[name] = g.input(`p.${name}`, 'float32', shapes.get(name)!);
  const layout = mode === 'step' ? trainLayout(shapes) : flatLayout(shapes);
  const states = mode === 'step' ? groupInputs(g, layout, '', params) : null;
  const step = mode === 'step' ? g.input('step', 'float32', []) : null;
  const lr = mode === 'step' ? g.input('lr', 'float32', []) : null;
  const inputIds = g.tokenInput('input_ids', [B, T]);
  const labels = g.tokenInput('labels', [B, T]);
  const positions = g.tokenInput('position_ids', [B, T]);
  const latentIndex = g.tokenInput('latent_index', [B, n]);
  const fwd = latentForward(g, family, params, { inputIds, positions, mask: causalMask(g, T), latentIndex, latents: n });
  const loss = causalLmLoss(g, fwd.logits, labels, family.vocabSize);

  const outs: Value[] = [];
  const outputs: string[] = [];
  const emit = (name: string, v: Value) => {
    outs.push(g.named(v, name));
    outputs.push(name);
  };
  emit('loss', loss);
  if (mode === 'forward') {
    emit('logits', fwd.logits);
    fwd.thoughts.forEach((t, k) => emit(`thought.${k}`, t));
  } else {
    const grads = gradients(g, loss, paramNames.map((name) => params[name]));
    if (mode === 'grad') paramNames.forEach((name, i) => emit(`grad.${name}`, grads[i]));
    else {
      if (!opts.adamw) throw new Error("compileLatentModel: mode 'step' needs adamw settings");
      const opt = optimizerStep(g, opts.adamw, layout, new Map(paramNames.map((name, i) => [name, grads[i]])), states!, lr!, step!);
      emit('grad_norm', opt.gradNorm);
      emitNewState(layout, opt.groups, emit);
    }
  }
  return { model: g.toModel(outs, { name: `${family.name}_latent_${mode}` }), paramNames, layout, outputs };
}
