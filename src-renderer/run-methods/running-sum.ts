// The No-CoT recipe's own setting in the New run form: the running-sum
// auxiliary loss (Bai et al. 2025), off by default. The fields are the
// config's `runningSum` (src-main/methods/icot/recipe.ts).
import type { JsonObject, JsonValue } from '../../src-main/contract/index.ts';

export interface RunningSumSettings {
  /** Off: a plain No-CoT run (no `runningSum` in the config). */
  enabled: boolean;
  read: 'heads' | 'residual';
  /** 1-based block; null: the model's last. */
  layer: number | null;
  at: 'digit' | 'before-digit';
  weight: number;
  l2: number;
}

export const RUNNING_SUM_DEFAULTS: RunningSumSettings = { enabled: false, read: 'heads', layer: null, at: 'digit', weight: 1, l2: 0 };

/** The config's `runningSum`, or nothing when the option is off. */
export function runningSumConfig(s: RunningSumSettings): JsonObject | null {
  if (!s.enabled) return null;
  return { read: s.read, ...(s.layer !== null ? { layer: s.layer } : {}), at: s.at, weight: s.weight, l2: s.l2 };
}

/** A stored config's `runningSum` back into the form (absent: off). */
export function readRunningSum(from: JsonValue | undefined): RunningSumSettings {
  if (typeof from !== 'object' || from === null || Array.isArray(from)) return { ...RUNNING_SUM_DEFAULTS };
  const o = from as JsonObject;
  return {
    enabled: true,
    read: o.read === 'residual' ? 'residual' : 'heads',
    layer: typeof o.layer === 'number' ? o.layer : null,
    at: o.at === 'before-digit' ? 'before-digit' : 'digit',
    weight: typeof o.weight === 'number' ? o.weight : RUNNING_SUM_DEFAULTS.weight,
    l2: typeof o.l2 === 'number' ? o.l2 : RUNNING_SUM_DEFAULTS.l2,
  };
}
