/**
 * `stepwise results`: the LoRA-vs-Bitune table from the store (adapters.results),
 * one table per group of runs that differ only in method or seed, as the
 * Bitune page shows it: test accuracy, files evaluated later with
 * `stepwise eval`, multiple-choice acc / acc_norm, and the final α per layer;
 * under it, per method its mean over seeds, spread and 95% bootstrap
 * interval, and the paired difference from its baseline over the same seeds.
 */
import type { AdapterArmSummary, AdapterComparison, AdapterOutputs } from '../../contract/areas/adapters.ts';
import { openLab } from '../../services/lab.ts';
import { resolveDataDir } from '../../services/paths.ts';
import { defineCommand, UsageError } from '../command.ts';

export const results = defineCommand({
  name: 'results',
  summary:
    'Print the LoRA-vs-Bitune results table from the stored results of Bitune and LoRA runs: runs that differ only in method or seed grouped, ' +
    'each method\'s mean, spread and 95% bootstrap interval over seeds, and its paired difference from its baseline.',
  options: {
    run: { type: 'string', value: 'ID', multiple: true, description: 'Only these runs (repeat for several)' },
    metric: { type: 'string', value: 'KEY', description: 'The metric summarised over seeds (default test_accuracy; or eval_acc.FILE, mc_acc.FILE, mc_acc_norm.FILE)' },
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
      const table = answer.result as AdapterOutputs['adapters.results'];
      const metric = values.metric ?? 'test_accuracy';
      if (values.metric !== undefined && !table.metrics.includes(metric)) {
        throw new UsageError(`--metric ${metric}: no run here has it (these do: ${table.metrics.join(', ') || 'none'})`);
      }
      if (values.json) {
        process.stdout.write(`${JSON.stringify(table, null, 2)}\n`);
        return 0;
      }
      if (table.rows.length === 0) {
        process.stdout.write(`No Bitune or LoRA runs in ${lab.dataDir}.\n`);
        return 0;
      }
      process.stdout.write(formatResults(table, metric));
      return 0;
    } finally {
      lab.close();
    }
  },
});

const pct = (x: number | null | undefined) => (x === null || x === undefined || Number.isNaN(x) ? '—' : `${(100 * x).toFixed(1)}%`);
/** A difference of accuracies in percentage points, signed. */
const pts = (x: number) => `${x > 0 ? '+' : x < 0 ? '−' : '±'}${Math.abs(100 * x).toFixed(1)}`;

/** A metric key as a column names it: 'test acc', 'gsm acc', 'piqa acc_norm'. */
export function metricLabel(key: string): string {
  if (key === 'test_accuracy') return 'test acc';
  const m = /^(eval_acc|mc_acc|mc_acc_norm)\.(.+)$/.exec(key);
  return m ? `${m[2]} ${m[1] === 'mc_acc_norm' ? 'acc_norm' : 'acc'}` : key;
}

/** Columns padded to their widest cell; `left` columns flush left, the rest right. */
function columns(head: string[], cells: string[][], left: Set<number>): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((x, i) => (left.has(i) ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)];
}

const range = (s: { min: number; max: number }, f: (x: number) => string) => (s.min === s.max ? f(s.min) : `${f(s.min)} … ${f(s.max)}`);
const interval = (ci: [number, number] | null, f: (x: number) => string) => (ci ? `[${f(ci[0])}, ${f(ci[1])}]` : '—');

/**
 * The table as plain text: per group a caption, one line per run, then (for `metric`) each
 * method over its seeds and each paired difference; columns padded to their widest cell.
 */
export function formatResults({ rows, choiceFiles, evalFiles, groups }: AdapterOutputs['adapters.results'], metric = 'test_accuracy'): string {
  const head = ['run', 'name', 'method', 'peft', 'variant', 'seed', 'steps', 'test acc', ...evalFiles.map((f) => `${f} acc`), ...choiceFiles.flatMap((f) => [`${f} acc`, `${f} acc_norm`]), 'final α (keys)'];
  const out: string[] = [];
  for (const group of [...new Set(rows.map((r) => r.group))]) {
    const cells = rows.filter((r) => r.group === group).map((r) => [
      String(r.runId),
      r.name,
      r.method === 'lora' ? 'LoRA' : 'Bitune',
      r.peft,
      r.method === 'lora' ? '—' : `${r.ablation}, s_init ${r.sInit}, ${r.prefillMask}`,
      r.seed,
      r.steps === null ? '—' : String(r.steps),
      pct(r.testAccuracy),
      ...evalFiles.map((f) => pct(r.evals[f])),
      ...choiceFiles.flatMap((f) => [pct(r.choices[f]?.acc), pct(r.choices[f]?.accNorm)]),
      r.alphaK.length ? r.alphaK.map((a) => a.toFixed(3)).join(' ') : '—',
    ]);
    out.push(group, ...columns(head, cells, new Set([1, 3, 4, head.length - 1])), '');
    const stats = groups.find((g) => g.group === group)?.metrics[metric];
    if (stats) out.push(...formatStats(metricLabel(metric), stats.arms, stats.comparisons), '');
  }
  return `${out.join('\n')}`;
}

/** Each method over its seeds, and each paired difference from its baseline (in percentage points). */
export function formatStats(label: string, arms: AdapterArmSummary[], comparisons: AdapterComparison[]): string[] {
  const armLines = columns(
    [`${label} over seeds`, 'seeds', 'mean', 'sd', 'min … max', '95% bootstrap CI'],
    arms.map((a) => [a.arm, String(a.n), pct(a.mean), a.sd === null ? '—' : (100 * a.sd).toFixed(1), range(a, pct), interval(a.ci, pct)]),
    new Set([0]),
  );
  if (comparisons.length === 0) return armLines;
  const diffLines = columns(
    ['paired difference (points)', 'seeds', 'mean', 'sd', 'min … max', '95% bootstrap CI', 'higher / lower', 'verdict'],
    comparisons.map((c) => [
      `${c.arm} − ${c.baseline}`, String(c.n), pts(c.mean), c.sd === null ? '—' : (100 * c.sd).toFixed(1), range(c, pts), interval(c.ci, pts),
      `${c.higher} / ${c.lower}`, c.ci === null ? 'one seed' : c.separated ? (c.mean > 0 ? 'higher beyond the interval' : 'lower beyond the interval') : 'interval includes 0',
    ]),
    new Set([0, 7]),
  );
  return [...armLines, '', ...diffLines];
}
