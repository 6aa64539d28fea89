// Run configurations as the Run and Compare pages list them.
import { describe, expect, test } from 'vitest';
import { flattenConfig, showConfigValue } from '../../src-renderer/lib/config.ts';

describe('flattenConfig', () => {
  test('nested sections become dotted paths, in the order stored', () => {
    const config = {
      model: { kind: 'fresh', layers: 2 },
      curriculum: { removePerEpoch: 8, smoothingLambda: null },
      epochs: 30,
    };
    expect(flattenConfig(config)).toEqual([
      ['model.kind', 'fresh'],
      ['model.layers', 2],
      ['curriculum.removePerEpoch', 8],
      ['curriculum.smoothingLambda', null],
      ['epochs', 30],
    ]);
  });

  test('arrays and empty objects stay whole, so no setting disappears', () => {
    expect(flattenConfig({ stops: [1, 2], extra: {} })).toEqual([
      ['stops', [1, 2]],
      ['extra', {}],
    ]);
  });
});

describe('showConfigValue', () => {
  test('strings as they are, the rest as JSON, a missing setting as —', () => {
    expect([showConfigValue('left'), showConfigValue(null), showConfigValue(true), showConfigValue([1, 2]), showConfigValue(undefined)]).toEqual([
      'left',
      'null',
      'true',
      '[1,2]',
      '—',
    ]);
  });
});
