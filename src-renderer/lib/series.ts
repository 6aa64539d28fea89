// Metric series as charts hold them, kept current from run.metric events.
import type { EventPayloads, MetricSeries } from '../../src-main/contract/index.ts';

/**
 * Adds one step's values to `series` in place, keeping keys sorted and steps
 * ascending. A step recorded again (a resumed run) replaces its value; values
 * that are not finite become null, as runs.metrics gives them.
 */
export function addMetricStep(series: MetricSeries[], m: EventPayloads['run.metric']): void {
  for (const [key, raw] of Object.entries(m.values)) {
    let s = series.find((x) => x.key === key);
    if (!s) {
      s = { key, steps: [], values: [], wallTimes: [] };
      const at = series.findIndex((x) => x.key.localeCompare(key) > 0);
      series.splice(at < 0 ? series.length : at, 0, s);
      s = series.find((x) => x.key === key)!; // the stored (possibly proxied) object
    }
    const value = Number.isFinite(raw) ? raw : null;
    const existing = s.steps.indexOf(m.step);
    if (existing >= 0) {
      s.values[existing] = value;
      s.wallTimes[existing] = m.wallTime;
      continue;
    }
    let at = s.steps.length;
    while (at > 0 && s.steps[at - 1]! > m.step) at--;
    s.steps.splice(at, 0, m.step);
    s.values.splice(at, 0, value);
    s.wallTimes.splice(at, 0, m.wallTime);
  }
}

/**
 * The metrics a reader looks at first, in this order: how training goes, how
 * well it answers, and (ICoT-SI) how much of the chain-of-thought is gone.
 * Keys as the trainer records them; any others follow, by name.
 */
const HEADLINE = ['loss', 'val_accuracy', 'test_accuracy', 'scheduled_removal', 'val_cot_tokens'];

/** Splits series into the headline ones (in HEADLINE order) and the rest (by key). */
export function headlineFirst(series: MetricSeries[]): { headline: MetricSeries[]; rest: MetricSeries[] } {
  const headline = HEADLINE.flatMap((key) => series.filter((s) => s.key === key));
  const rest = series.filter((s) => !HEADLINE.includes(s.key));
  return { headline, rest };
}
