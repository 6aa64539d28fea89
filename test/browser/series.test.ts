// The renderer's live metric merging, without a browser: what a chart shows
// after run.metric events must equal what runs.metrics would give.
import { describe, expect, test } from 'vitest';
import type { MetricSeries } from '../../src-main/contract/index.ts';
import { addMetricStep } from '../../src-renderer/lib/series.ts';

const event = (step: number, values: Record<string, number>) => ({ runId: 1, step, values, wallTime: 1000 + step });

describe('addMetricStep', () => {
  test('a new key gets its own series, placed in key order', () => {
    const series: MetricSeries[] = [{ key: 'valid/accuracy', steps: [0], values: [0.1], wallTimes: [1000] }];
    addMetricStep(series, event(4, { 'train/loss': 2.5 }));
    expect(series.map((s) => s.key)).toEqual(['train/loss', 'valid/accuracy']);
    expect(series[0]).toEqual({ key: 'train/loss', steps: [4], values: [2.5], wallTimes: [1004] });
  });

  test('later steps append, and a step recorded again replaces its value', () => {
    const series: MetricSeries[] = [];
    addMetricStep(series, event(0, { loss: 3 }));
    addMetricStep(series, event(8, { loss: 2 }));
    addMetricStep(series, event(8, { loss: 1.5 }));
    expect(series).toEqual([{ key: 'loss', steps: [0, 8], values: [3, 1.5], wallTimes: [1000, 1008] }]);
  });

  test('a step that arrives out of order lands in step order', () => {
    const series: MetricSeries[] = [];
    for (const step of [0, 12, 4]) addMetricStep(series, event(step, { loss: step }));
    expect(series[0]!.steps).toEqual([0, 4, 12]);
    expect(series[0]!.values).toEqual([0, 4, 12]);
  });

  test('NaN and ±Infinity become null, as runs.metrics answers them', () => {
    const series: MetricSeries[] = [];
    addMetricStep(series, event(0, { a: NaN, b: Infinity, c: -Infinity, d: 0.5 }));
    expect(series.map((s) => s.values[0])).toEqual([null, null, null, 0.5]);
  });
});
