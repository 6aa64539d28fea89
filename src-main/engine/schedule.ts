/**
 * Learning-rate schedules as pure functions of the global step, so that a
 * resumed run continues the same curve. The rate is a graph input: changing
 * it never recompiles anything.
 */
export interface LrSchedule {
  kind: 'constant' | 'linear' | 'cosine';
  /** Peak learning rate. */
  lr: number;
  /** Linear warm-up from 0 over this many steps. */
  warmupSteps: number;
  /** Total steps (for linear and cosine decay to `minLr`). */
  totalSteps: number;
  minLr?: number;
  /**
   * A cool-down over the last this many steps: the rate falls linearly from what the schedule
   * gives at their start to 0 at the last step ("warmup, stable, decay" with kind 'constant');
   * linear and cosine decay then span the steps before it. Default 0: none.
   */
  cooldownSteps?: number;
}

/** Learning rate at 1-based `step`. */
export function learningRate(s: LrSchedule, step: number): number {
  const cool = Math.min(s.cooldownSteps ?? 0, s.totalSteps);
  if (cool > 0) {
    const main = { ...s, cooldownSteps: 0, totalSteps: s.totalSteps - cool };
    if (step <= main.totalSteps) return learningRate(main, step);
    const from = main.totalSteps > 0 ? learningRate(main, main.totalSteps) : s.lr;
    return (from * Math.max(0, s.totalSteps - step)) / cool;
  }
  if (s.warmupSteps > 0 && step <= s.warmupSteps) return (s.lr * step) / s.warmupSteps;
  if (s.kind === 'constant') return s.lr;
  const min = s.minLr ?? 0;
  const span = Math.max(1, s.totalSteps - s.warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - s.warmupSteps) / span));
  if (s.kind === 'linear') return s.lr + (min - s.lr) * progress;
  return min + 0.5 * (s.lr - min) * (1 + Math.cos(Math.PI * progress));
}
