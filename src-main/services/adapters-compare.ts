/**
 * Which Bitune / LoRA runs compare, and what they say together. Runs whose
 * configs differ only in method (Bitune or LoRA, Bitune's variant, the PEFT
 * type) or in their seeds form a group; within a group each method (an arm)
 * is summarised over its seeds (mean, spread, bootstrap interval:
 * statistics.ts), and set against its baseline over the seeds both have, as
 * the paired difference: Bitune against LoRA-method training with the same
 * PEFT type, and another PEFT type's LoRA-method training against LoRA.
 */
import type { AdapterArmSummary, AdapterComparison, AdapterGroupStats, AdapterResultRow } from '../contract/areas/adapters.ts';
import type { JsonObject, JsonValue } from '../contract/entities.ts';
import { summarize } from './statistics.ts';

const PEFT_ORDER = ['lora', 'dora', 'ia3', 'full'];
const PEFT_LABELS: Record<string, string> = { lora: 'LoRA', dora: 'DoRA', ia3: 'IA³', full: 'full fine-tuning' };

export const peftLabel = (peft: string) => PEFT_LABELS[peft] ?? peft;

/** The parts of a config that make runs differ only in method or seed: what a group's key leaves out. */
const NOT_GROUPING: readonly string[][] = [
  ['method'], ['peft'], ['lora', 'peft'], ['bitune'],
  ['model', 'seed'], ['lora', 'seed'], ['train', 'seed'],
  // How a run was computed or reported, not what it learned.
  ['runtime', 'provider'], ['runtime', 'threads'], ['runtime', 'checkpointEveryEpochs'],
  ['eval', 'everyEpoch'], ['eval', 'batchSize'], ['eval', 'choices'],
];

/** The config of a run as its group sees it (the method's schema's defaults filled in, seeds and method left out), as canonical JSON. */
export function groupKey(config: JsonObject): string {
  const copy = structuredClone(config);
  for (const at of NOT_GROUPING) {
    let node: JsonValue | undefined = copy;
    for (const part of at.slice(0, -1)) node = node && typeof node === 'object' && !Array.isArray(node) ? node[part] : undefined;
    if (node && typeof node === 'object' && !Array.isArray(node)) delete node[at[at.length - 1]];
  }
  return canonical(copy);
}

function canonical(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  return JSON.stringify(value);
}

/** The seeds of a (defaults-filled) config: one number when model, adapters and data order share it. */
export function seedLabel(config: JsonObject): string {
  const at = (section: string) => {
    const s = config[section];
    return s && typeof s === 'object' && !Array.isArray(s) && typeof s.seed === 'number' ? s.seed : undefined;
  };
  const model = config.model as JsonObject | undefined;
  const seeds: [string, number | undefined][] = [['model', model?.kind === 'fresh' ? at('model') : undefined], ['lora', at('lora')], ['train', at('train')]];
  const present = seeds.filter((s): s is [string, number] => s[1] !== undefined);
  if (present.length === 0) return '—';
  if (present.every(([, v]) => v === present[0][1])) return String(present[0][1]);
  return present.map(([k, v]) => `${k} ${v}`).join(' · ');
}

/** An arm's name: the PEFT type alone for LoRA-method runs, 'Bitune' with its variant where not the paper's default and its PEFT type where not LoRA. */
export function armLabel(row: Pick<AdapterResultRow, 'method' | 'peft' | 'ablation' | 'sInit' | 'prefillMask'>): string {
  if (row.method === 'lora') return peftLabel(row.peft);
  const variant = [row.ablation !== 'full' ? row.ablation : null, row.sInit !== 0.01 ? `s_init ${row.sInit}` : null, row.prefillMask !== 'bidirectional' ? row.prefillMask : null].filter(Boolean);
  return `Bitune${variant.length ? ` (${variant.join(', ')})` : ''}${row.peft === 'lora' ? '' : ` + ${peftLabel(row.peft)}`}`;
}

/** Order of arms in a group: LoRA-method runs first, by PEFT type, then Bitune by PEFT type and variant. */
export function armOrder(a: AdapterResultRow, b: AdapterResultRow): number {
  const peftRank = (p: string) => (PEFT_ORDER.includes(p) ? PEFT_ORDER.indexOf(p) : PEFT_ORDER.length);
  return (a.method === b.method ? 0 : a.method === 'lora' ? -1 : 1) || peftRank(a.peft) - peftRank(b.peft) || (a.peft < b.peft ? -1 : a.peft > b.peft ? 1 : 0) || (a.arm < b.arm ? -1 : a.arm > b.arm ? 1 : 0);
}

/** A row's value of a metric key, or null. */
export function metricValue(row: AdapterResultRow, key: string): number | null {
  if (key === 'test_accuracy') return row.testAccuracy;
  const m = /^(eval_acc|mc_acc|mc_acc_norm)\.(.+)$/.exec(key);
  if (!m) return null;
  if (m[1] === 'eval_acc') return row.evals[m[2]] ?? null;
  const choice = row.choices[m[2]];
  return (m[1] === 'mc_acc' ? choice?.acc : choice?.accNorm) ?? null;
}

/** The statistics of one group's rows (already in arm order) on each metric. */
export function groupStats(group: string, rows: AdapterResultRow[], metrics: string[]): AdapterGroupStats {
  const arms = [...new Set(rows.map((r) => r.arm))];
  const out: AdapterGroupStats = { group, metrics: {} };
  for (const key of metrics) {
    // One value per arm and seed: the mean of that seed's runs (a rerun of a seed is not a new sample).
    const perSeed = new Map<string, Map<string, number>>();
    const summaries: AdapterArmSummary[] = [];
    for (const arm of arms) {
      const armRows = rows.filter((r) => r.arm === arm && metricValue(r, key) !== null);
      const bySeed = new Map<string, number[]>();
      for (const r of armRows) bySeed.set(r.seed, [...(bySeed.get(r.seed) ?? []), metricValue(r, key)!]);
      const values = new Map([...bySeed].map(([seed, vs]) => [seed, vs.reduce((s, v) => s + v, 0) / vs.length]));
      perSeed.set(arm, values);
      const s = summarize([...values.values()]);
      if (!s) continue;
      const first = armRows[0];
      summaries.push({ arm, method: first.method, peft: first.peft, runIds: armRows.map((r) => r.runId), seeds: [...values.keys()], ...s });
    }
    const comparisons: AdapterComparison[] = [];
    for (const a of summaries) {
      const baseline = a.method === 'bitune' ? summaries.find((b) => b.method === 'lora' && b.peft === a.peft) : a.peft !== 'lora' ? summaries.find((b) => b.method === 'lora' && b.peft === 'lora') : undefined;
      if (!baseline) continue;
      const mine = perSeed.get(a.arm)!;
      const theirs = perSeed.get(baseline.arm)!;
      const seeds = [...mine.keys()].filter((seed) => theirs.has(seed));
      const diffs = seeds.map((seed) => mine.get(seed)! - theirs.get(seed)!);
      const s = summarize(diffs);
      if (!s) continue;
      comparisons.push({
        arm: a.arm, baseline: baseline.arm, seeds, ...s,
        higher: diffs.filter((d) => d > 0).length,
        lower: diffs.filter((d) => d < 0).length,
        separated: s.ci !== null && (s.ci[0] > 0 || s.ci[1] < 0),
      });
    }
    if (summaries.length) out.metrics[key] = { arms: summaries, comparisons };
  }
  return out;
}

/**
 * Captions for groups: `base · data · budget`, and where two groups share that, the config
 * fields whose values tell them apart (`train.lr 0.001`).
 */
export function groupCaptions(groups: { key: string; caption: string }[]): Map<string, string> {
  const out = new Map<string, string>();
  const byCaption = new Map<string, string[]>();
  for (const g of groups) byCaption.set(g.caption, [...new Set([...(byCaption.get(g.caption) ?? []), g.key])]);
  for (const [caption, keys] of byCaption) {
    if (keys.length === 1) {
      out.set(keys[0], caption);
      continue;
    }
    const flat = keys.map((k) => flatten(JSON.parse(k) as JsonValue));
    const paths = [...new Set(flat.flatMap((f) => [...f.keys()]))].sort().filter((p) => new Set(flat.map((f) => f.get(p) ?? '—')).size > 1);
    keys.forEach((k, i) => out.set(k, `${caption} · ${paths.map((p) => `${p} ${flat[i].get(p) ?? '—'}`).join(', ')}`));
  }
  return out;
}

function flatten(value: JsonValue, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else out.set(prefix, Array.isArray(value) ? value.join(', ') : String(value));
  return out;
}
