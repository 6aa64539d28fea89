// The renderer's live metric merging, without a browser: what a chart shows
// after run.metric events must equal what runs.metrics would give.
import { describe, expect, test } from 'vitest';
import type { MetricSeries } from '../../src-main/contract/index.ts';
import { chartCsv } from '../../src-renderer/lib/chart-csv.ts';
import { accuracyAgainstSpeed, addMetricStep, finalFigures, smooth, xsFor } from '../../src-renderer/lib/series.ts';

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

describe('smoothing, x axes and the accuracy–speed points', () => {
  const m = (key: string, steps: number[], values: (number | null)[], wallTimes = steps.map((s) => 1000 + 500 * s)) => ({ key, steps, values, wallTimes });

  test('smoothing at weight 0 is the raw curve; at 0.5 it is the debiased moving average; gaps stay gaps', () => {
    expect(smooth([3, 1, null, 2], 0)).toEqual([3, 1, null, 2]);
    const s = smooth([4, 2, null, 1], 0.5);
    expect(s[0]).toBeCloseTo(4, 12); // debiased: the first value is itself
    expect(s[1]).toBeCloseTo((0.25 * 4 + 0.5 * 2) / 0.75, 12); // (0.5·(0.5·4) + 0.5·2) / (1 − 0.5²)
    expect(s[2]).toBeNull();
    expect(s[3]).toBeCloseTo((0.125 * 4 + 0.25 * 2 + 0.5 * 1) / 0.875, 12);
  });

  test('a run drawn against epochs, CoT tokens removed and wall time', () => {
    const loss = m('loss', [1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]);
    const all = [loss, m('val_accuracy', [3, 6], [0.5, 0.9]), m('scheduled_removal', [1, 2, 3, 4, 5, 6], [0, 0, 1, 1, 2, 2])];
    expect(xsFor('step', loss, all)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(xsFor('epoch', loss, all)).toEqual([1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 2]);
    expect(xsFor('removed', loss, all)).toEqual([0, 0, 1, 1, 2, 2]);
    expect(xsFor('wall', loss, all)).toEqual([0, 0.5, 1, 1.5, 2, 2.5]);
    // A run that has not validated yet has no epoch length; one without a schedule removes nothing to plot against.
    expect(xsFor('epoch', loss, [loss])).toBeNull();
    expect(xsFor('removed', loss, [loss])).toBeNull();
  });

  test('each validation (an epoch\'s checkpoint) and the test give a point of accuracy against examples/s', () => {
    const all = [
      m('val_accuracy', [10, 20], [0.4, 0.8]),
      m('val_examples_per_s', [10, 20], [50, 90]),
      m('cot_removed', [10, 20], [4, 8]),
      m('test_accuracy', [20], [0.75]),
      m('test_examples_per_s', [20], [95]),
    ];
    expect(accuracyAgainstSpeed(all)).toEqual({
      validation: [
        { step: 10, accuracy: 0.4, speed: 50, removed: 4 },
        { step: 20, accuracy: 0.8, speed: 90, removed: 8 },
      ],
      test: { step: 20, accuracy: 0.75, speed: 95 },
    });
    expect(accuracyAgainstSpeed([m('loss', [1], [2])])).toEqual({ validation: [], test: null });
  });
});

describe('a chart as CSV', () => {
  test('one row per x in order, one column per line, empty where a line has no value, labels quoted when they hold a comma or quote', () => {
    const csv = chartCsv('step', [
      { label: 'loss', xs: [2, 1, 3], ys: [0.5, 1, null] },
      { label: 'val "accuracy", smoothed', xs: [2, 4], ys: [0.75, 0.8] },
    ]);
    expect(csv).toBe('step,loss,"val ""accuracy"", smoothed"\r\n1,1,\r\n2,0.5,0.75\r\n3,,\r\n4,,0.8\r\n');
  });
});

describe('a run\'s final figures', () => {
  test('each metric\'s last finite value and its step, headline metrics first; accuracies also say their best', () => {
    const m = (key: string, steps: number[], values: (number | null)[]) => ({ key, steps, values, wallTimes: steps });
    expect(finalFigures([m('wall_minutes', [9], [1.5]), m('val_accuracy', [3, 6, 9], [0.5, 0.9, 0.8]), m('loss', [1, 2, 3], [2, 1, null]), m('empty', [1], [null])])).toEqual([
      { key: 'loss', last: 1, step: 2 },
      { key: 'val_accuracy', last: 0.8, step: 9, best: { value: 0.9, step: 6 } },
      { key: 'wall_minutes', last: 1.5, step: 9 },
    ]);
  });
});
