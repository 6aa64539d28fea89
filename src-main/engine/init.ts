/**
 * Fresh parameters as Hugging Face initialises them. GPT-2
 * (GPT2PreTrainedModel._init_weights): weights ~ N(0, 0.02), biases 0, layer
 * norms 1/0, and the residual projections (attn.c_proj, mlp.c_proj)
 * ~ N(0, 0.02/√(2·n_layer)). Llama (LlamaPreTrainedModel._init_weights):
 * linear and embedding weights ~ N(0, initializer_range = 0.02), biases 0,
 * RMSNorm weights 1. Seeded, so a run's initial model is reproducible.
 */
import { isLlama, modelFamily, type ModelArch } from './models/family.ts';
import { gpt2ParamShapes, type GPT2Config } from './models/gpt2.ts';
import type { TensorMap } from './safetensors.ts';

/** A small, fast, seedable PRNG (mulberry32) with a normal sampler. */
export class Rng {
  private s: number;
  private spare: number | null = null;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    const th = 2 * Math.PI * this.next();
    this.spare = r * Math.sin(th);
    return r * Math.cos(th);
  }
  /** The generator's position, to save in a checkpoint. */
  get state(): number {
    return this.s;
  }
  set state(s: number) {
    this.s = s >>> 0;
    this.spare = null;
  }
}

export function initGPT2(cfg: GPT2Config, seed: number, std = 0.02): TensorMap {
  const rng = new Rng(seed);
  const out: TensorMap = new Map();
  const residualStd = std / Math.sqrt(2 * cfg.nLayer);
  for (const [name, shape] of gpt2ParamShapes(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (/ln_\w+\.weight$/.test(name)) data.fill(1);
    else if (name.endsWith('.weight')) {
      const s = /(attn|mlp)\.c_proj\.weight$/.test(name) ? residualStd : std;
      for (let i = 0; i < n; i++) data[i] = rng.normal() * s;
    }
    out.set(name, { shape, data });
  }
  return out;
}

export function initLlama(cfg: ModelArch, seed: number, std = 0.02): TensorMap {
  const rng = new Rng(seed);
  const out: TensorMap = new Map();
  for (const [name, shape] of modelFamily(cfg).paramShapes()) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (name.endsWith('norm.weight')) data.fill(1);
    else if (name.endsWith('.weight')) for (let i = 0; i < n; i++) data[i] = rng.normal() * std;
    out.set(name, { shape, data });
  }
  return out;
}

/** Fresh parameters for any family's architecture. */
export function initModel(arch: ModelArch, seed: number): TensorMap {
  return isLlama(arch) ? initLlama(arch, seed) : initGPT2(arch, seed);
}
