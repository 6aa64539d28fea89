// Run configurations as rows a person can read and compare.
import type { JsonObject, JsonValue } from '../../src-main/contract/index.ts';

/** Nested sections flattened to dotted paths: { curriculum: { side: 'left' } } → [['curriculum.side', 'left']]. */
export function flattenConfig(value: JsonObject, prefix = ''): [string, JsonValue][] {
  return Object.entries(value).flatMap(([key, v]): [string, JsonValue][] =>
    v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0
      ? flattenConfig(v, `${prefix}${key}.`)
      : [[`${prefix}${key}`, v]],
  );
}

/** A config value as text: strings as they are, everything else as JSON. */
export function showConfigValue(v: JsonValue | undefined): string {
  if (v === undefined) return '—';
  return typeof v === 'string' ? v : JSON.stringify(v);
}
