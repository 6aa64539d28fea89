// A chart's data as CSV (RFC 4180): one row per x, one column per line, empty where a line has no value.

/** A field quoted when it holds a comma, a quote or a line break. */
function field(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function chartCsv(xLabel: string, lines: readonly { label: string; xs: readonly number[]; ys: readonly (number | null)[] }[]): string {
  const xs = [...new Set(lines.flatMap((l) => l.xs))].sort((a, b) => a - b);
  const columns = lines.map((l) => {
    const at = new Map<number, number | null>();
    l.xs.forEach((x, i) => at.set(x, l.ys[i] ?? null));
    return at;
  });
  const rows = [[xLabel, ...lines.map((l) => l.label)].map(field).join(',')];
  for (const x of xs) {
    rows.push([String(x), ...columns.map((c) => {
      const v = c.get(x);
      return v == null ? '' : String(v);
    })].join(','));
  }
  return `${rows.join('\r\n')}\r\n`;
}

