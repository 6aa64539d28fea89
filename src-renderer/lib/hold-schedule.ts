/**
 * The curriculum's hold threshold as a person types it: a percentage ("50"), or a schedule of
 * "tokens removed: percentage" pairs from 0 tokens on ("0: 50, 37: 25": 50% until 37 tokens are
 * removed, then 25%). The config holds fractions: 0.5, or [[0, 0.5], [37, 0.25]].
 */
export type HoldBelow = number | [number, number][];

/** The text for a config's holdBelow (0 → ''). */
export function formatHold(hold: HoldBelow): string {
  const pct = (f: number) => String(Math.round(f * 1000) / 10);
  if (typeof hold === 'number') return hold > 0 ? pct(hold) : '';
  return hold.map(([tokens, f]) => `${tokens}: ${pct(f)}`).join(', ');
}

/** holdBelow from the text, or an error in words; '' is 0 (never hold). */
export function parseHold(text: string): { value: HoldBelow } | { error: string } {
  const t = text.trim();
  if (t === '') return { value: 0 };
  const percent = (s: string): number | null => {
    const n = Number(s.trim());
    return s.trim() !== '' && Number.isFinite(n) && n > 0 && n <= 100 ? n / 100 : null;
  };
  if (!t.includes(':')) {
    const f = percent(t);
    return f === null ? { error: 'give a percentage from 0 to 100, or pairs such as "0: 50, 37: 25"' } : { value: f };
  }
  const pairs: [number, number][] = [];
  for (const part of t.split(',')) {
    const [tokens, pct] = part.split(':');
    const n = Number(tokens?.trim());
    const f = pct === undefined ? null : percent(pct);
    if (!Number.isInteger(n) || n < 0 || f === null) return { error: `"${part.trim()}" is not "tokens: percentage", e.g. "37: 25"` };
    if (pairs.length && n <= pairs.at(-1)![0]) return { error: 'the token counts must increase, e.g. "0: 50, 37: 25"' };
    pairs.push([n, f]);
  }
  if (pairs[0]![0] !== 0) return { error: 'the schedule starts at 0 tokens, e.g. "0: 50, 37: 25"' };
  return { value: pairs.length === 1 ? pairs[0]![1] : pairs };
}

/** The highest threshold (for bounding the advance threshold). */
export function highestHold(hold: HoldBelow): number {
  return typeof hold === 'number' ? hold : Math.max(0, ...hold.map(([, f]) => f));
}
