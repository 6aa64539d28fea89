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
    const last = s.steps.length ? s.steps[s.steps.length - 1]! : -Infinity;
    if (m.step > last) {
      // The common case, a new step at the end: no search through the whole series.
      s.steps.push(m.step);
      s.values.push(value);
      s.wallTimes.push(m.wallTime);
      continue;
    }
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

/** A run's final figures: each metric's last value (with its step), and for accuracies their best. */
export interface FinalFigure {
  key: string;
  last: number;
  step: number;
  /** The highest value and its step, for a metric whose name says accuracy (higher is better). */
  best?: { value: number; step: number };
}

/** Every metric's final figure, headline metrics first; metrics with no finite value are left out. */
export function finalFigures(series: MetricSeries[]): FinalFigure[] {
  const { headline, rest } = headlineFirst(series);
  return [...headline, ...rest].flatMap((s): FinalFigure[] => {
    let last: FinalFigure | undefined;
    let best: { value: number; step: number } | undefined;
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) return;
      last = { key: s.key, last: v, step: s.steps[i]! };
      if (!best || v > best.value) best = { value: v, step: s.steps[i]! };
    });
    if (!last) return [];
    return [/accuracy/.test(s.key) && best ? { ...(last as FinalFigure), best } : last];
  });
}

/** Splits series into the headline ones (in HEADLINE order) and the rest (by key). */
export function headlineFirst(series: MetricSeries[]): { headline: MetricSeries[]; rest: MetricSeries[] } {
  const headline = HEADLINE.flatMap((key) => series.filter((s) => s.key === key));
  const rest = series.filter((s) => !HEADLINE.includes(s.key));
  return { headline, rest };
}

/**
 * Exponential moving average with TensorBoard's debiasing: weight 0 is the
 * raw curve, 0.99 nearly flat. Gaps (null) stay gaps and do not reset it.
 */
export function smooth(values: (number | null)[], weight: number): (number | null)[] {
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return null;
    last = last * weight + (1 - weight) * v;
    n++;
    return weight === 0 ? v : last / (1 - weight ** n);
  });
}

/** What a metric's values are counted in, for its chart's axis. */
export function metricUnit(key: string): string {
  if (/accuracy/.test(key)) return 'fraction right';
  if (/(^|_)loss$/.test(key)) return 'cross-entropy (nats)';
  if (/examples_per_s$/.test(key)) return 'examples/s';
  if (/tokens_per_s$/.test(key)) return 'tokens/s';
  if (/removed|removal/.test(key)) return 'CoT tokens removed';
  if (/cot_tokens$/.test(key)) return 'CoT tokens written';
  if (key === 'lr') return 'learning rate';
  if (key === 'grad_norm') return 'gradient norm';
  return '';
}

/** The x axes Compare can draw runs against. */
export const X_AXES = {
  step: 'step',
  epoch: 'epoch',
  removed: 'CoT tokens removed',
  wall: 'wall time (s)',
} as const;
export type XAxis = keyof typeof X_AXES;

/** The value of `ref` at `step`: its point there, else the last one before it; null when it has none yet. */
function at(ref: MetricSeries, step: number): number | null {
  let value: number | null = null;
  for (let i = 0; i < ref.steps.length && ref.steps[i]! <= step; i++) value = ref.values[i] ?? null;
  return value;
}

/**
 * Each point of `s` (a metric of one run) placed on another x: its step, its
 * epoch (validations run at each epoch's end, so the first one's step is an
 * epoch's length), the CoT tokens the schedule removed by then, or the
 * seconds since the run's first record. Null when the run cannot say (an
 * epoch before its first validation; a run that removes no CoT).
 */
export function xsFor(axis: XAxis, s: MetricSeries, all: MetricSeries[]): (number | null)[] | null {
  if (axis === 'step') return s.steps;
  if (axis === 'wall') {
    const start = Math.min(...all.flatMap((m) => m.wallTimes.slice(0, 1)));
    return s.wallTimes.map((t) => (t - start) / 1000);
  }
  if (axis === 'epoch') {
    const val = all.find((m) => m.key === 'val_accuracy');
    const length = val?.steps[0];
    return length ? s.steps.map((step) => step / length) : null;
  }
  const ref = all.find((m) => m.key === 'scheduled_removal' && m.steps.length > 0) ?? all.find((m) => m.key === 'cot_removed' && m.steps.length > 0);
  return ref ? s.steps.map((step) => at(ref, step)) : null;
}

/** A run's accuracy against its speed: one point per validation (each epoch's checkpoint) and the test of its best model. */
export function accuracyAgainstSpeed(all: MetricSeries[]): { validation: { speed: number; accuracy: number; step: number; removed: number | null }[]; test: { speed: number; accuracy: number; step: number } | null } {
  const pairs = (accKey: string, speedKey: string) => {
    const acc = all.find((m) => m.key === accKey);
    const speed = all.find((m) => m.key === speedKey);
    if (!acc || !speed) return [];
    return acc.steps.flatMap((step, i) => {
      const a = acc.values[i];
      const j = speed.steps.indexOf(step);
      const v = j >= 0 ? speed.values[j] : null;
      return a != null && v != null ? [{ step, accuracy: a, speed: v }] : [];
    });
  };
  const removed = all.find((m) => m.key === 'cot_removed');
  const validation = pairs('val_accuracy', 'val_examples_per_s').map((p) => ({ ...p, removed: removed ? at(removed, p.step) : null }));
  return { validation, test: pairs('test_accuracy', 'test_examples_per_s').at(-1) ?? null };
}
