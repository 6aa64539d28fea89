/**
 * LoRA (Hu et al. 2021) as a graph transform: a linear layer y = x·W gains
 * scale · (x Aᵀ) Bᵀ, with A [r, in], B [out, r] and scale = alpha / r, while W
 * stays frozen. `LoraGraph` is a GraphBuilder whose `matmul` recognises a base
 * weight by its parameter name (`p.<module>.weight`, read directly as GPT-2's
 * Conv1D [in, out] does, or through a Transpose as nn.Linear [out, in] does,
 * and through a Cast for half-precision bases) and adds the active adapter's
 * term, so any model builder (GPT-2, Llama) gets adapters without knowing of
 * them. Several named adapters live on one model; `withAdapter` chooses the
 * one a pass uses (Bitune's two passes use two).
 *
 * An adapter is of one of PEFT's types: LoRA; DoRA (LoRA with a learned
 * magnitude per output feature, dora.ts); IA3 (learned scaling vectors,
 * ia3.ts). Full fine-tuning (`PeftType` 'full') has no adapter tensors: the
 * method trains copies of the base's weights and names an adapter with no
 * modules, so `withAdapter` still tells which copy a pass reads.
 *
 * Also here: adapters alone on disk in PEFT's layout (adapter_config.json,
 * adapter_model.safetensors with `base_model.model.<module>.lora_A.weight`,
 * `.lora_magnitude_vector` for DoRA, `.ia3_l` for IA3), and merging an
 * adapter into its base for export.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { doraMagnitudeName, doraOutput, doraWeightNorm } from './dora.ts';
import { ia3ParamName, ia3Shape, mergeIa3Module } from './ia3.ts';
import { Rng } from './init.ts';
import { GraphBuilder, type Value } from './onnx/graph.ts';
import { readSafetensors, writeSafetensors, type TensorMap } from './safetensors.ts';
import type { Target } from './target.ts';

export interface LoraConfig {
  /** Rank r. */
  r: number;
  /** The update is scaled by alpha / r. */
  alpha: number;
  /** Dropout on the adapter's input while training (PEFT's lora_dropout). */
  dropout: number;
  /**
   * Modules that get adapters, by name: a module matches a pattern that equals its
   * name or a dot-separated suffix of it ('attn.c_attn' matches 'h.3.attn.c_attn');
   * '*' matches any run of characters within the name ('h.*.mlp.c_fc').
   */
  targets: string[];
  /** IA3: the targets whose input is scaled (PEFT's feedforward_modules); the others scale their output. */
  feedforward?: string[];
}

/** PEFT's fine-tuning types (full fine-tuning trains the base's own weights; see the header). */
export const PEFT_TYPES = ['lora', 'dora', 'ia3', 'full'] as const;
export type PeftType = (typeof PEFT_TYPES)[number];

/** How a model stores a linear layer's weight: GPT-2's Conv1D [in, out], or nn.Linear's [out, in]. */
export type WeightLayout = 'in_out' | 'out_in';

/** One adapted module (its base weight is `<module>.weight`). */
export interface LoraModule {
  module: string;
  in: number;
  out: number;
  /** IA3: a feed-forward module (its input is scaled). */
  feedforward?: boolean;
}

export interface Adapter {
  name: string;
  /** Default 'lora'. IA3 uses only config.targets and config.feedforward. */
  type?: PeftType;
  config: LoraConfig;
  modules: LoraModule[];
}

export const peftTypeOf = (a: Adapter): PeftType => a.type ?? 'lora';

export class LoraError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LoraError';
  }
}

export function loraScale(cfg: LoraConfig): number {
  return cfg.alpha / cfg.r;
}

/** Whether `module` matches a target pattern (see LoraConfig.targets). */
export function matchesTarget(module: string, target: string): boolean {
  if (target.includes('*')) {
    const re = new RegExp(`(^|\\.)${target.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^]*')}$`);
    return re.test(module);
  }
  return module === target || module.endsWith(`.${target}`);
}

/** The modules a config adapts, from the base's parameter shapes; every target must match at least one 2-D weight. */
export function loraModules(paramShapes: Map<string, number[]>, cfg: LoraConfig, layout: WeightLayout): LoraModule[] {
  if (!(Number.isInteger(cfg.r) && cfg.r >= 1)) throw new LoraError(`LoRA rank r must be a positive integer, got ${cfg.r}`);
  if (!(cfg.dropout >= 0 && cfg.dropout < 1)) throw new LoraError(`LoRA dropout must be in [0, 1), got ${cfg.dropout}`);
  if (cfg.targets.length === 0) throw new LoraError('LoRA needs at least one target module');
  const modules: LoraModule[] = [];
  const used = new Set<string>();
  for (const [name, shape] of paramShapes) {
    if (!name.endsWith('.weight') || shape.length !== 2) continue;
    const module = name.slice(0, -'.weight'.length);
    const hit = cfg.targets.filter((t) => matchesTarget(module, t));
    if (hit.length === 0) continue;
    hit.forEach((t) => used.add(t));
    const [a, b] = shape;
    const m: LoraModule = layout === 'in_out' ? { module, in: a, out: b } : { module, in: b, out: a };
    if (cfg.feedforward) m.feedforward = cfg.feedforward.some((t) => matchesTarget(module, t));
    modules.push(m);
  }
  const unused = cfg.targets.filter((t) => !used.has(t));
  if (unused.length) throw new LoraError(`LoRA target${unused.length > 1 ? 's' : ''} ${unused.map((t) => `'${t}'`).join(', ')} match${unused.length > 1 ? '' : 'es'} no 2-D weight of the model`);
  return modules;
}

export function loraParamName(module: string, adapter: string, which: 'A' | 'B'): string {
  return `${module}.lora_${which}.${adapter}.weight`;
}

/** Names and shapes of an adapter's parameters: lora_A [r, in], lora_B [out, r] per module. */
export function loraParamShapes(adapter: Adapter): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  for (const m of adapter.modules) {
    shapes.set(loraParamName(m.module, adapter.name, 'A'), [adapter.config.r, m.in]);
    shapes.set(loraParamName(m.module, adapter.name, 'B'), [m.out, adapter.config.r]);
  }
  return shapes;
}

/**
 * Names and shapes of an adapter's parameters by its type: LoRA's A and B; DoRA's A, B and
 * magnitude [out]; IA3's ℓ ([1, in] or [out, 1]); none for full fine-tuning.
 */
export function adapterParamShapes(adapter: Adapter): Map<string, number[]> {
  const type = peftTypeOf(adapter);
  if (type === 'full') return new Map();
  if (type === 'ia3') return new Map(adapter.modules.map((m) => [ia3ParamName(m.module, adapter.name), ia3Shape(m)]));
  const shapes = loraParamShapes(adapter);
  if (type === 'dora') for (const m of adapter.modules) shapes.set(doraMagnitudeName(m.module, adapter.name), [m.out]);
  return shapes;
}

/**
 * PEFT's initialisation of an adapter over `base`: LoRA's (below); DoRA's, with the magnitude
 * ‖W‖ per output feature; IA3's vectors of ones. Each starts the adapted model as the base.
 */
export function initAdapter(adapter: Adapter, seed: number, base: TensorMap, layout: WeightLayout): TensorMap {
  const type = peftTypeOf(adapter);
  if (type === 'full') return new Map();
  if (type === 'ia3') return new Map([...adapterParamShapes(adapter)].map(([n, shape]) => [n, { shape, data: new Float32Array(shape[0] * shape[1]).fill(1) }]));
  const out = initLora(adapter, seed);
  if (type === 'dora') {
    for (const m of adapter.modules) {
      const w = base.get(`${m.module}.weight`);
      if (!w) throw new LoraError(`DoRA: the base has no '${m.module}.weight'`);
      out.set(doraMagnitudeName(m.module, adapter.name), { shape: [m.out], data: doraWeightNorm(w.data, null, null, { in: m.in, out: m.out, r: 0, scale: 0, layout }) });
    }
  }
  return out;
}

/** PEFT's initialisation: A ~ kaiming_uniform(a=√5) = U(−1/√in, 1/√in), B = 0 (the adapted model starts as the base). */
export function initLora(adapter: Adapter, seed: number): TensorMap {
  const rng = new Rng(seed);
  const out: TensorMap = new Map();
  for (const [name, shape] of loraParamShapes(adapter)) {
    const data = new Float32Array(shape[0] * shape[1]);
    if (name.includes('.lora_A.')) {
      const bound = 1 / Math.sqrt(shape[1]);
      for (let i = 0; i < data.length; i++) data[i] = (2 * rng.next() - 1) * bound;
    }
    out.set(name, { shape, data });
  }
  return out;
}

// ------------------------------------------------------------------ the graph transform

export interface LoraGraphOptions {
  adapters: Adapter[];
  /** The graph value of an adapter parameter (by its name, e.g. `h.0.attn.c_attn.lora_A.default.weight`). */
  param: (name: string) => Value;
  /** The module whose base weight a graph value is, or null; default: values named `p.<module>.weight`. */
  weightModule?: (value: Value) => string | null;
  /**
   * Apply the adapters' dropout (training graphs). Its masks are a hash of the
   * optimizer step (a float32 scalar of the graph), the dropout site and the
   * element, so a run resumed from a checkpoint draws the masks it would have.
   */
  training?: { step: () => Value };
  /** The provider the graph is written for (target.ts). */
  target?: Target;
  /**
   * Let the gradient flow through DoRA's weight norm, which PEFT (and training here) detach;
   * for finite-difference checks of the whole computation.
   */
  doraNormGradient?: boolean;
}

const defaultWeightModule = (v: Value): string | null => (v.name.startsWith('p.') && v.name.endsWith('.weight') ? v.name.slice(2, -'.weight'.length) : null);

/** A GraphBuilder that adds the active LoRA adapter to every matmul by an adapted base weight. */
export class LoraGraph extends GraphBuilder {
  private readonly byName = new Map<string, { adapter: Adapter; modules: Map<string, LoraModule> }>();
  private readonly opts: LoraGraphOptions;
  private activeAdapter: string | null = null;
  private dropoutSite = 0;
  /** IA3 outputs scaled before the model adds the module's bias: scaled value → (unscaled, ℓ, module). */
  private readonly ia3Scaled = new Map<string, { unscaled: Value; l: Value; module: string }>();

  constructor(opts: LoraGraphOptions) {
    super({ target: opts.target });
    this.opts = opts;
    for (const a of opts.adapters) this.byName.set(a.name, { adapter: a, modules: new Map(a.modules.map((m) => [m.module, m])) });
  }

  get active(): string | null {
    return this.activeAdapter;
  }

  /** Build `fn` with adapter `name` active (null: the bare base). */
  withAdapter<T>(name: string | null, fn: () => T): T {
    if (name !== null && !this.byName.has(name)) throw new LoraError(`no adapter named '${name}' (have ${[...this.byName.keys()].join(', ') || 'none'})`);
    const before = this.activeAdapter;
    this.activeAdapter = name;
    try {
      return fn();
    } finally {
      this.activeAdapter = before;
    }
  }

  /** The base weight behind a matmul operand, seen through Cast and Transpose: its module and whether it was transposed. */
  private baseWeight(b: Value): { module: string; transposed: boolean } | null {
    let v = b;
    let transposed = false;
    for (;;) {
      const p = v.producer;
      if (!p) break;
      if (p.op === 'Cast') v = p.inputs[0]!;
      else if (p.op === 'Transpose' && !transposed && 'ints' in p.attrs.perm && p.attrs.perm.ints.join(',') === '1,0') {
        transposed = true;
        v = p.inputs[0]!;
      } else return null;
    }
    const module = (this.opts.weightModule ?? defaultWeightModule)(v);
    return module === null ? null : { module, transposed };
  }

  override matmul(a: Value, b: Value, hint?: string): Value {
    const y = super.matmul(a, b, hint);
    if (this.activeAdapter === null || b.shape.length !== 2) return y;
    const base = this.baseWeight(b);
    if (!base) return y;
    const entry = this.byName.get(this.activeAdapter)!;
    const m = entry.modules.get(base.module);
    if (!m) return y;
    const [k, n] = b.shape;
    if (k !== m.in || n !== m.out) throw new LoraError(`LoRA on '${m.module}': the model multiplies by a [${k}, ${n}] weight, the adapter expects in ${m.in}, out ${m.out}`);
    const { config, name } = entry.adapter;
    const type = peftTypeOf(entry.adapter);
    if (type === 'ia3') {
      return this.scope(`ia3_${name}`, () => {
        const l = this.opts.param(ia3ParamName(m.module, name)); // [1, in] or [out, 1]
        if (m.feedforward) return super.matmul(this.mul(a, this.reshape(l, [m.in]), 'ia3_in'), b, hint); // (x ⊙ ℓ)·W
        const lOut = this.reshape(l, [m.out]);
        const scaled = this.mul(y, lOut, 'ia3_out'); // (x·W) ⊙ ℓ; the bias, if the model adds one, is scaled too (add)
        this.ia3Scaled.set(scaled.name, { unscaled: y, l: lOut, module: m.module });
        return scaled;
      });
    }
    return this.scope(`${type}_${name}`, () => {
      const A = this.opts.param(loraParamName(m.module, name, 'A')); // [r, in]
      const B = this.opts.param(loraParamName(m.module, name, 'B')); // [out, r]
      const x = this.opts.training && config.dropout > 0 ? this.dropout(a, config.dropout) : a; // [..., in]
      const At = this.transpose(A, [1, 0]); // [in, r]
      const Bt = this.transpose(B, [1, 0]); // [r, out]
      const delta = super.matmul(super.matmul(x, At, 'x_At'), Bt, 'x_At_Bt'); // [..., out]
      if (type === 'dora') {
        return doraOutput(this, {
          y, yDropped: x === a ? y : super.matmul(x, b, 'dora_x_dropped_W'), w: b,
          magnitude: this.opts.param(doraMagnitudeName(m.module, name)), deltaW: super.matmul(At, Bt, 'At_Bt'),
          lora: delta, scale: loraScale(config), detachNorm: !this.opts.doraNormGradient,
        });
      }
      return this.add(y, this.mul(delta, this.scalar(loraScale(config), delta.dtype)), 'lora_out');
    });
  }

  /** Adds as GraphBuilder does, except that an IA3-scaled output plus its module's bias becomes (x·W + b) ⊙ ℓ, as PEFT scales it. */
  override add(a: Value, b: Value, hint?: string): Value {
    const [scaled, other] = this.ia3Scaled.has(a.name) ? [a, b] : this.ia3Scaled.has(b.name) ? [b, a] : [null, null];
    if (!scaled || !other) return super.add(a, b, hint);
    const s = this.ia3Scaled.get(scaled.name)!;
    let v = other;
    while (v.producer?.op === 'Cast') v = v.producer.inputs[0]!;
    if (v.name !== `p.${s.module}.bias`) return super.add(a, b, hint);
    return super.mul(super.add(s.unscaled, other, hint), s.l, 'ia3_out_with_bias');
  }

  /**
   * Inverted dropout: x · keep / (1 − p), keep = [u < 1 − p] with u uniform in
   * [0, 1) from a counter-based hash (three xorshift-multiply rounds over 32
   * bits, in int64 arithmetic so no product overflows) of the element's index,
   * this site and the step: a function of the step, not of a generator's state.
   */
  private dropout(x: Value, p: number): Value {
    const site = this.dropoutSite++;
    const n = (x.shape as number[]).reduce((a, b) => a * b, 1);
    if (!Number.isInteger(n)) throw new LoraError('LoRA dropout needs a graph of static shapes');
    const int = (v: number) => this.scalar(v, 'int64');
    const M32 = int(2 ** 32);
    const mod32 = (v: Value) => this.node('Mod', [v, M32], [{ dtype: 'int64', shape: v.shape }])[0];
    const xorShift = (v: Value, k: number) => this.node('BitwiseXor', [v, this.div(v, int(2 ** k))], [{ dtype: 'int64', shape: v.shape }])[0];
    const index = this.reshape(this.range(int(0), int(n), int(1), n, 'dropout_index'), x.shape as number[]); // [...x]
    const step = this.cast(this.opts.training!.step(), 'int64'); // []
    // Keys of different steps and sites start 2^32-apart streams' worth of odd strides away.
    let h = mod32(this.add(index, this.add(this.mul(step, int(0x9e3779b1)), int((site * 0x85ebca77) % 2 ** 32)))); // [...x], < 2^32
    h = mod32(this.mul(xorShift(h, 16), int(0x7feb352d)));
    h = mod32(this.mul(xorShift(h, 15), int(0x5bd1e995)));
    h = xorShift(h, 16);
    const u = this.mul(this.cast(this.div(h, int(256)), x.dtype), this.scalar(2 ** -24, x.dtype), 'dropout_u'); // [...x] in [0, 1)
    const keep = this.node('Less', [u, this.scalar(1 - p, x.dtype)], [{ dtype: 'bool', shape: x.shape, hint: 'dropout_keep' }])[0];
    return this.mul(x, this.mul(this.cast(keep, x.dtype), this.scalar(1 / (1 - p), x.dtype)), 'dropout');
  }
}

// ------------------------------------------------------------------ merging

/** The base with `adapter` folded in, by its type (see mergeLora, mergeDora; IA3: ia3.ts). */
export function mergeAdapter(base: TensorMap, adapter: Adapter, weights: TensorMap, layout: WeightLayout): TensorMap {
  const type = peftTypeOf(adapter);
  if (type === 'lora') return mergeLora(base, adapter, weights, layout);
  if (type === 'dora') return mergeDora(base, adapter, weights, layout);
  if (type === 'full') throw new LoraError(`merge: adapter '${adapter.name}' is a full fine-tuning copy, not an adapter; its weights are the model`);
  const out: TensorMap = new Map(base);
  for (const m of adapter.modules) {
    if (!base.get(`${m.module}.weight`)) throw new LoraError(`merge: the base has no '${m.module}.weight'`);
    const l = weights.get(ia3ParamName(m.module, adapter.name));
    if (!l) throw new LoraError(`merge: IA3 adapter '${adapter.name}' lacks ia3_l of '${m.module}'`);
    mergeIa3Module(base, out, m, l.data, layout);
  }
  return out;
}

/** The base with a DoRA adapter folded in: per output feature, m · (W + s·BA) / ‖W + s·BA‖ (dora.ts). */
export function mergeDora(base: TensorMap, adapter: Adapter, weights: TensorMap, layout: WeightLayout): TensorMap {
  const withLora = mergeLora(base, adapter, weights, layout);
  const out: TensorMap = new Map(withLora);
  for (const m of adapter.modules) {
    const mag = weights.get(doraMagnitudeName(m.module, adapter.name));
    if (!mag) throw new LoraError(`merge: DoRA adapter '${adapter.name}' lacks lora_magnitude_vector of '${m.module}'`);
    const w = withLora.get(`${m.module}.weight`)!; // W + s·BA
    const norm = doraWeightNorm(w.data, null, null, { in: m.in, out: m.out, r: 0, scale: 0, layout });
    const merged = Float32Array.from(w.data);
    for (let o = 0; o < m.out; o++) {
      const f = mag.data[o] / norm[o];
      for (let i = 0; i < m.in; i++) merged[layout === 'in_out' ? i * m.out + o : o * m.in + i] *= f;
    }
    out.set(`${m.module}.weight`, { shape: w.shape, data: merged });
  }
  return out;
}

/** The base with `adapter` folded in: W + scale·(B A)ᵀ for [in, out] weights, W + scale·B A for [out, in]. */
export function mergeLora(base: TensorMap, adapter: Adapter, weights: TensorMap, layout: WeightLayout): TensorMap {
  const out: TensorMap = new Map(base);
  const s = loraScale(adapter.config);
  const r = adapter.config.r;
  for (const m of adapter.modules) {
    const w = base.get(`${m.module}.weight`);
    if (!w) throw new LoraError(`merge: the base has no '${m.module}.weight'`);
    const A = weights.get(loraParamName(m.module, adapter.name, 'A'));
    const B = weights.get(loraParamName(m.module, adapter.name, 'B'));
    if (!A || !B) throw new LoraError(`merge: adapter '${adapter.name}' lacks lora_A or lora_B of '${m.module}'`);
    const merged = Float32Array.from(w.data);
    for (let o = 0; o < m.out; o++) {
      for (let i = 0; i < m.in; i++) {
        let d = 0;
        for (let j = 0; j < r; j++) d += B.data[o * r + j] * A.data[j * m.in + i];
        merged[layout === 'in_out' ? i * m.out + o : o * m.in + i] += s * d;
      }
    }
    out.set(`${m.module}.weight`, { shape: w.shape, data: merged });
  }
  return out;
}

// ------------------------------------------------------------------ PEFT files

export const PEFT_CONFIG_FILE = 'adapter_config.json';
export const PEFT_WEIGHTS_FILE = 'adapter_model.safetensors';

export interface PeftSaveOptions {
  /** Prepended to module names in the file (GPT-2: 'transformer.', as GPT2LMHeadModel names them). */
  modulePrefix: string;
  layout: WeightLayout;
  /** base_model_name_or_path. */
  baseModel?: string;
}

/**
 * Save one adapter alone as PEFT does (`save_pretrained`). LoRA: its A and B matrices,
 * `peft_type: "LORA"`. DoRA is PEFT's LoRA with `use_dora: true` and one more tensor per
 * module, `<module>.lora_magnitude_vector` [out] (PEFT's own naming, so PEFT loads it).
 * IA3: `<module>.ia3_l` in PEFT's shapes, `peft_type: "IA3"` with its feedforward_modules.
 */
export function saveAdapterPeft(dir: string, adapter: Adapter, weights: TensorMap, opts: PeftSaveOptions): void {
  const type = peftTypeOf(adapter);
  if (type === 'full') throw new LoraError(`save adapter '${adapter.name}': full fine-tuning has no adapter to save; save the model folder`);
  mkdirSync(dir, { recursive: true });
  const tensors: TensorMap = new Map();
  const get = (name: string, what: string, m: LoraModule) => {
    const t = weights.get(name);
    if (!t) throw new LoraError(`save adapter '${adapter.name}': ${what} of '${m.module}' is missing`);
    return t;
  };
  const key = (m: LoraModule, suffix: string) => `base_model.model.${opts.modulePrefix}${m.module}.${suffix}`;
  for (const m of adapter.modules) {
    if (type === 'ia3') {
      tensors.set(key(m, 'ia3_l'), get(ia3ParamName(m.module, adapter.name), 'ia3_l', m));
      continue;
    }
    for (const which of ['A', 'B'] as const) tensors.set(key(m, `lora_${which}.weight`), get(loraParamName(m.module, adapter.name, which), `lora_${which}`, m));
    if (type === 'dora') tensors.set(key(m, 'lora_magnitude_vector'), get(doraMagnitudeName(m.module, adapter.name), 'lora_magnitude_vector', m));
  }
  writeSafetensors(path.join(dir, PEFT_WEIGHTS_FILE), tensors, { format: 'pt' });
  const c = adapter.config;
  const common = { task_type: 'CAUSAL_LM', base_model_name_or_path: opts.baseModel ?? null, target_modules: c.targets, fan_in_fan_out: opts.layout === 'in_out', inference_mode: true, modules_to_save: null };
  const config = type === 'ia3'
    ? {
      peft_type: 'IA3', ...common,
      // PEFT requires feedforward_modules ⊆ target_modules: the feed-forward patterns some target module matched.
      feedforward_modules: (c.feedforward ?? []).filter((f) => adapter.modules.some((m) => m.feedforward && matchesTarget(m.module, f))),
      init_ia3_weights: true,
    }
    : { peft_type: 'LORA', ...common, r: c.r, lora_alpha: c.alpha, lora_dropout: c.dropout, bias: 'none', init_lora_weights: true, use_dora: type === 'dora', use_rslora: false };
  writeFileSync(path.join(dir, PEFT_CONFIG_FILE), JSON.stringify(config, null, 2));
}

/**
 * Load a PEFT adapter folder (LoRA, DoRA as LoRA with use_dora, or IA3) as adapter `name` of a
 * base with these parameter shapes. Module names may carry `base_model.model.`, the model
 * prefix, and an adapter name (`lora_A.<adapter>.weight`); every tensor is checked against the base.
 */
export function loadAdapterPeft(dir: string, name: string, paramShapes: Map<string, number[]>, opts: Pick<PeftSaveOptions, 'modulePrefix' | 'layout'>): { adapter: Adapter; weights: TensorMap } {
  const cfgFile = path.join(dir, PEFT_CONFIG_FILE);
  const weightsFile = path.join(dir, PEFT_WEIGHTS_FILE);
  if (!existsSync(cfgFile)) throw new LoraError(`${dir}: no ${PEFT_CONFIG_FILE} (not a PEFT adapter folder)`);
  if (!existsSync(weightsFile)) throw new LoraError(`${dir}: no ${PEFT_WEIGHTS_FILE}`);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(cfgFile, 'utf8'));
  } catch (err) {
    throw new LoraError(`${cfgFile}: not valid JSON (${(err as Error).message})`);
  }
  if (raw.peft_type !== 'LORA' && raw.peft_type !== 'IA3') throw new LoraError(`${cfgFile}: peft_type is ${JSON.stringify(raw.peft_type)}; "LORA" (with or without use_dora) and "IA3" are supported`);
  const ia3 = raw.peft_type === 'IA3';
  const type: PeftType = ia3 ? 'ia3' : raw.use_dora ? 'dora' : 'lora';
  const r = ia3 ? 1 : raw.r;
  const alpha = ia3 ? 1 : raw.lora_alpha ?? r;
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 1) throw new LoraError(`${cfgFile}: r must be a positive integer, got ${JSON.stringify(r)}`);
  if (typeof alpha !== 'number') throw new LoraError(`${cfgFile}: lora_alpha must be a number, got ${JSON.stringify(alpha)}`);
  if (raw.use_rslora) throw new LoraError(`${cfgFile}: rsLoRA adapters are not supported`);
  const ffModules = ia3 && Array.isArray(raw.feedforward_modules) ? (raw.feedforward_modules as unknown[]).filter((f): f is string => typeof f === 'string') : null;
  const { tensors } = readSafetensors(weightsFile);
  const weights: TensorMap = new Map();
  const modules = new Map<string, LoraModule>();
  const kinds = ia3 ? 'an ia3_l vector' : `a lora_A, lora_B${type === 'dora' ? ' or lora_magnitude_vector' : ''} weight`;
  const pattern = ia3 ? /^(?:base_model\.model\.)?(.+)\.(ia3_l)(?:\.[^.]+)?$/ : /^(?:base_model\.model\.)?(.+)\.(lora_A|lora_B|lora_magnitude_vector)(?:\.[^.]+)?(?:\.weight)?$/;
  for (const [key, t] of tensors) {
    const m = pattern.exec(key);
    if (!m || (m[2] === 'lora_magnitude_vector' && type !== 'dora')) throw new LoraError(`${weightsFile}: tensor '${key}' is not ${kinds}`);
    let module = m[1];
    if (opts.modulePrefix && module.startsWith(opts.modulePrefix) && !paramShapes.has(`${module}.weight`)) module = module.slice(opts.modulePrefix.length);
    const base = paramShapes.get(`${module}.weight`);
    if (!base || base.length !== 2) throw new LoraError(`${weightsFile}: tensor '${key}' adapts '${module}', which the model has no 2-D weight for`);
    const [inDim, outDim] = opts.layout === 'in_out' ? base : [base[1], base[0]];
    const mod: LoraModule = modules.get(module) ?? { module, in: inDim, out: outDim };
    let want: number[];
    let param: string;
    if (m[2] === 'ia3_l') {
      // PEFT's rule (the module's name ends with a feedforward_modules entry), else the vector's shape.
      mod.feedforward = ffModules ? ffModules.some((f) => m[1].endsWith(f)) : t.shape.join(',') === `1,${inDim}`;
      want = ia3Shape(mod);
      param = ia3ParamName(module, name);
    } else if (m[2] === 'lora_magnitude_vector') {
      want = [outDim];
      param = doraMagnitudeName(module, name);
    } else {
      const which = m[2] === 'lora_A' ? 'A' : 'B';
      want = which === 'A' ? [r, inDim] : [outDim, r];
      param = loraParamName(module, name, which);
    }
    if (t.shape.join(',') !== want.join(',')) throw new LoraError(`${weightsFile}: '${key}' has shape [${t.shape.join(', ')}], expected [${want.join(', ')}]${ia3 ? ` ([1, ${inDim}] on a feed-forward input, [${outDim}, 1] on an output)` : ` (r = ${r})`}`);
    modules.set(module, mod);
    weights.set(param, t);
  }
  for (const mod of modules.keys()) {
    const need: [string, string][] = ia3 ? [] : [[loraParamName(mod, name, 'A'), 'lora_A'], [loraParamName(mod, name, 'B'), 'lora_B']];
    if (type === 'dora') need.push([doraMagnitudeName(mod, name), 'lora_magnitude_vector']);
    for (const [param, what] of need) if (!weights.has(param)) throw new LoraError(`${weightsFile}: '${mod}' has no ${what}`);
  }
  if (modules.size === 0) throw new LoraError(`${weightsFile}: holds no ${ia3 ? 'IA3' : 'LoRA'} weights`);
  const targets = Array.isArray(raw.target_modules) ? (raw.target_modules as string[]) : [...modules.keys()];
  const dropout = typeof raw.lora_dropout === 'number' ? raw.lora_dropout : 0;
  const config: LoraConfig = { r, alpha, dropout, targets };
  if (ia3) config.feedforward = ffModules ?? [...modules.values()].filter((x) => x.feedforward).map((x) => x.module);
  return { adapter: { name, type, config, modules: [...modules.values()] }, weights };
}
