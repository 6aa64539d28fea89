/**
 * Which computation a Bitune or LoRA run trains (Kopiczko, Blankevoort &
 * Asano, "Bitune: Bidirectional Instruction-Tuning", 2024), and the paper's
 * ablations as options:
 *
 * - `full`: the prompt (without its last token) runs twice, with the
 *   `prefill` adapter under `prefillMask` (bidirectional) and with the
 *   `default` adapter causally; per layer, keys and values are mixed as
 *   (1 − α)·causal + α·prefill with α = |θ| / (|θ| + s_init), θ learned;
 * - `naive-bidirectional`: one pass over the prompt, bidirectional, with the
 *   `default` adapter; its cache is used as it is (one adapter, no mixing);
 * - `no-mixing`: both adapters, but the answer attends to the prefill pass's
 *   cache alone (α fixed at 1; the causal prompt pass is skipped);
 * - `only-causal`: both passes and the mixing, with both passes causal (the
 *   gain then cannot come from bidirectional attention; the same computation
 *   as `prefillMask: 'causal'`);
 * - `shared-adapter`: both passes use the `default` adapter, mixing learned.
 *
 * LoRA (the baseline) is one causal pass with the `default` adapter: the
 * prompt's cache is the causal one, so the answer sees exactly what a causal
 * model over the whole sequence sees.
 */
export const ABLATIONS = ['full', 'naive-bidirectional', 'no-mixing', 'only-causal', 'shared-adapter'] as const;
export type Ablation = (typeof ABLATIONS)[number];

/** The attention mask of the prompt pass with the prefill adapter: bidirectional, anti-causal (key ≥ query) or causal. */
export const PREFILL_MASKS = ['bidirectional', 'anti-causal', 'causal'] as const;
export type PrefillMask = (typeof PREFILL_MASKS)[number];

export interface Variant {
  method: 'bitune' | 'lora';
  ablation: Ablation;
  /** s_init of the mixing coefficients (the paper: 0.01; ablations 0.1, 0.001). */
  sInit: number;
  prefillMask: PrefillMask;
}

export const DEFAULT_VARIANT: Variant = { method: 'bitune', ablation: 'full', sInit: 0.01, prefillMask: 'bidirectional' };

/** The prompt passes a variant runs, and how their caches become the one the answer reads. */
export interface Passes {
  /** The pass over the prompt with the prefill mask (null: none), and its adapter. */
  prefill: { adapter: string; mask: PrefillMask } | null;
  /** The causal pass over the prompt (null: none), with the `default` adapter. */
  causal: boolean;
  /** Whether learned mixing combines the two (else the one pass's cache is used). */
  mixing: boolean;
  /** Adapters the variant trains. */
  adapters: string[];
}

export function passesOf(v: Variant): Passes {
  if (v.method === 'lora') return { prefill: null, causal: true, mixing: false, adapters: ['default'] };
  switch (v.ablation) {
    case 'full':
      return { prefill: { adapter: 'prefill', mask: v.prefillMask }, causal: true, mixing: true, adapters: ['default', 'prefill'] };
    case 'naive-bidirectional':
      return { prefill: { adapter: 'default', mask: v.prefillMask }, causal: false, mixing: false, adapters: ['default'] };
    case 'no-mixing':
      return { prefill: { adapter: 'prefill', mask: v.prefillMask }, causal: false, mixing: false, adapters: ['default', 'prefill'] };
    case 'only-causal':
      return { prefill: { adapter: 'prefill', mask: 'causal' }, causal: true, mixing: true, adapters: ['default', 'prefill'] };
    case 'shared-adapter':
      return { prefill: { adapter: 'default', mask: v.prefillMask }, causal: true, mixing: true, adapters: ['default'] };
  }
}

/** The mixing parameters: one θ per layer for keys and one for values. */
export const MIX_K = 'bitune.pass_scale_k';
export const MIX_V = 'bitune.pass_scale_v';

/** α = |θ| / (|θ| + s_init), computed as the graph does. */
export function mixingAlpha(theta: number, sInit: number): number {
  const a = Math.abs(theta);
  return a / (a + sInit);
}
