/** The New run form's running-sum option (No CoT): what it writes into the config, and reading a config back. */
import { describe, expect, test } from 'vitest';
import { parseIcotConfig } from '../../src-main/methods/icot/recipe.ts';
import { readRunningSum, RUNNING_SUM_DEFAULTS, runningSumConfig } from '../../src-renderer/run-methods/running-sum.ts';

describe('the running-sum option of the New run form', () => {
  test('off by default: the config has no runningSum; on: every field, the layer only when one is chosen', () => {
    expect(runningSumConfig(RUNNING_SUM_DEFAULTS)).toBeNull();
    expect(runningSumConfig({ ...RUNNING_SUM_DEFAULTS, enabled: true })).toEqual({ read: 'heads', at: 'digit', weight: 1, l2: 0 });
    expect(runningSumConfig({ enabled: true, read: 'residual', layer: 1, at: 'before-digit', weight: 0.5, l2: 1e-4 })).toEqual({ read: 'residual', layer: 1, at: 'before-digit', weight: 0.5, l2: 1e-4 });
  });

  test('what the form writes is a valid No-CoT config, and reads back to the same settings', () => {
    const settings = { enabled: true, read: 'heads' as const, layer: 2, at: 'digit' as const, weight: 2, l2: 0.01 };
    const runningSum = runningSumConfig(settings)!;
    const parsed = parseIcotConfig({ recipe: 'nocot', model: { kind: 'fresh', layers: 2, dim: 32, heads: 2 }, data: { train: 't.txt', valid: 'v.txt' }, train: { epochs: 1 }, runningSum });
    expect(parsed.runningSum).toEqual({ read: 'heads', layer: 2, at: 'digit', weight: 2, l2: 0.01 });
    expect(readRunningSum(runningSum)).toEqual(settings);
    expect(readRunningSum(undefined)).toEqual(RUNNING_SUM_DEFAULTS);
  });
});
