/**
 * `stepwise results`: the LoRA-vs-Bitune table from the store (adapters.results),
 * one table per group of runs with the same base, data and budget, as the
 * Bitune page shows it: test accuracy, files evaluated later with
 * `stepwise eval`, multiple-choice acc / acc_norm, and the final α per layer.
 */
import type { AdapterResultRow } from '../../contract/areas/adapters.ts';
import { openLab } from '../../services/lab.ts';
import { resolveDataDir } from '../../services/paths.ts';
import { defineCommand, UsageError } from '../command.ts';

export const results = defineCommand({
  name: 'results',
  summary: 'Print the LoRA-vs-Bitune results table from the stored results of Bitune and LoRA runs (grouped by base, data and budget).',
  options: {
    run: { type: 'string', value: 'ID', multiple: true, description: 'Only these runs (repeat for several)' },
    json: { type: 'boolean', description: 'Print the table as JSON (adapters.results) instead' },
  },
  async run(values) {
    const runIds = (values.run ?? []).map((text) => {
      const id = Number(text);
      if (!/^\d+$/.test(text) || id < 1 || !Number.isSafeInteger(id)) throw new UsageError(`--run expects a run id, a positive whole number (got "${text}")`);
      return id;
    });
    const lab = openLab(resolveDataDir(values['data-dir']));
    try {
      const answer = await lab.dispatch('adapters.results', runIds.length ? { runIds } : {});
      if (!answer.ok) throw new UsageError(answer.error.message);
      const table = answer.result as { rows: AdapterResultRow[]; choiceFiles: string[]; evalFiles: string[] };
      if (values.json) {
        process.stdout.write(`${JSON.stringify(table, null, 2)}\n`);
        return 0;
      }
      if (table.rows.length === 0) {
        process.stdout.write(`No Bitune or LoRA runs in ${lab.dataDir}.\n`);
        return 0;
      }
      process.stdout.write(formatResults(table));
      return 0;
    } finally {
      lab.close();
    }
  },
});

const pct = (x: number | null | undefined) => (x === null || x === undefined || Number.isNaN(x) ? '—' : `${(100 * x).toFixed(1)}%`);

/** The table as plain text: a caption per group, columns padded to their widest cell. */
export function formatResults({ rows, choiceFiles, evalFiles }: { rows: AdapterResultRow[]; choiceFiles: string[]; evalFiles: string[] }): string {
  const head = ['run', 'name', 'method', 'variant', 'steps', 'test acc', ...evalFiles.map((f) => `${f} acc`), ...choiceFiles.flatMap((f) => [`${f} acc`, `${f} acc_norm`]), 'final α (keys)'];
  const out: string[] = [];
  for (const group of [...new Set(rows.map((r) => r.group))]) {
    const cells = rows.filter((r) => r.group === group).map((r) => [
      String(r.runId),
      r.name,
      r.method === 'lora' ? 'LoRA' : 'Bitune',
      r.method === 'lora' ? '—' : `${r.ablation}, s_init ${r.sInit}, ${r.prefillMask}`,
      r.steps === null ? '—' : String(r.steps),
      pct(r.testAccuracy),
      ...evalFiles.map((f) => pct(r.evals[f])),
      ...choiceFiles.flatMap((f) => [pct(r.choices[f]?.acc), pct(r.choices[f]?.accNorm)]),
      r.alphaK.length ? r.alphaK.map((a) => a.toFixed(3)).join(' ') : '—',
    ]);
    const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
    const line = (c: string[]) => c.map((x, i) => (i === 1 || i === 3 || i === c.length - 1 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join('  ').trimEnd();
    out.push(group, line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line), '');
  }
  return `${out.join('\n')}`;
}
