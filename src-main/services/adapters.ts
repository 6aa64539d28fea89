/**
 * adapters.*: the Bitune / LoRA results table, read from the store (runs and
 * their final metrics), never recomputed: a run's test accuracy,
 * multiple-choice acc / acc_norm and last α are the values its job recorded.
 * Runs that differ only in method or seed are grouped and summarised per
 * method, with paired differences (adapters-compare.ts).
 */
import path from 'node:path';
import type { AdapterResultRow } from '../contract/areas/adapters.ts';
import type { Handlers } from '../contract/dispatcher.ts';
import type { JsonObject, Run } from '../contract/entities.ts';
import { StepwiseError } from '../contract/errors.ts';
import { methodById, methods } from '../methods/index.ts';
import { armLabel, armOrder, groupCaptions, groupKey, groupStats, metricValue, seedLabel } from './adapters-compare.ts';
import type { LabContext } from './lab.ts';

/** The run methods that train adapters (Bitune, and LoRA its baseline): those whose definition says so. */
export const ADAPTER_METHODS: readonly string[] = methods().filter((m) => m.capabilities.adapters).map((m) => m.id);

interface StoredConfig {
  method?: string;
  /** How the adapters are parametrised; `lora.peft` is read too, wherever the PEFT types put it. */
  peft?: string;
  lora?: { peft?: string };
  model?: { kind?: string; path?: string; layers?: number; dim?: number };
  bitune?: { ablation?: string; sInit?: number; prefillMask?: string };
  data?: { train?: string; trainLimit?: number };
  train?: { epochs?: number; batchSize?: number };
}

export function adapterHandlers({ store, dataDir }: LabContext): Pick<Handlers, 'adapters.results'> {
  /** A training file as the table names it: a library dataset by its name, else its folder and file (runs on different files never share a group). */
  function dataLabel(file: string | undefined): string {
    if (!file) return '?';
    const inLibrary = /^datasets[/\\](\d+)[/\\]([^/\\]+)$/.exec(path.isAbsolute(file) ? path.relative(dataDir, file) : file);
    const dataset = inLibrary ? store.datasets.get(Number(inLibrary[1])) : undefined;
    if (dataset) return `${dataset.name} (${inLibrary![2].replace(/\.[^.]+$/, '')})`;
    return path.join(path.basename(path.dirname(file)), path.basename(file));
  }

  /**
   * The run's config with its method's defaults filled in (as stored where it no longer parses, e.g.
   * written by another version), less its PEFT type, which rowOf reads from the stored config: runs
   * of every PEFT type then fill in the same defaults and share a group.
   */
  function fullConfig(run: Run): JsonObject {
    const { peft: _peft, ...config } = run.config;
    if (config.lora && typeof config.lora === 'object' && !Array.isArray(config.lora)) {
      const { peft: _lora, ...lora } = config.lora;
      config.lora = lora;
    }
    const parsed = methodById(run.method)?.schema.safeParse(config);
    return parsed?.success ? (parsed.data as JsonObject) : config;
  }

  function rowOf(run: Run): AdapterResultRow & { key: string } {
    const c = run.config as StoredConfig;
    const full = fullConfig(run);
    const last = new Map<string, { step: number; value: number | null }>();
    for (const s of store.metrics.series(run.id)) {
      if (s.steps.length) last.set(s.key, { step: s.steps[s.steps.length - 1], value: s.values[s.values.length - 1] });
    }
    const value = (key: string) => last.get(key)?.value ?? null;
    const layers = (prefix: string) => {
      const out: number[] = [];
      for (let l = 0; last.has(`${prefix}${l}`); l++) out.push(value(`${prefix}${l}`) ?? NaN);
      return out;
    };
    const choices: AdapterResultRow['choices'] = {};
    const evals: AdapterResultRow['evals'] = {};
    for (const key of last.keys()) {
      const m = /^mc_acc\.(.+)$/.exec(key);
      if (m) choices[m[1]] = { acc: value(key), accNorm: value(`mc_acc_norm.${m[1]}`) };
      const e = /^eval_acc\.(.+)$/.exec(key);
      if (e) evals[e[1]] = value(key);
    }
    const m = c.model ?? {};
    const base = m.kind === 'folder' ? path.basename(m.path ?? '?') : `fresh ${m.layers ?? 2}×${m.dim ?? 64}`;
    const data = `${dataLabel(c.data?.train)}${c.data?.trainLimit ? ` (first ${c.data.trainLimit})` : ''}`;
    const budget = `${c.train?.epochs ?? 1} epochs × batch ${c.train?.batchSize ?? 8}`;
    const method = run.method === 'lora' ? 'lora' : 'bitune';
    const peft = typeof c.peft === 'string' ? c.peft : typeof c.lora?.peft === 'string' ? c.lora.peft : 'lora';
    const variant = {
      method,
      peft,
      ablation: method === 'bitune' ? c.bitune?.ablation ?? 'full' : null,
      sInit: method === 'bitune' ? c.bitune?.sInit ?? 0.01 : null,
      prefillMask: method === 'bitune' ? c.bitune?.prefillMask ?? 'bidirectional' : null,
    } as const;
    return {
      key: groupKey(full),
      runId: run.id,
      name: run.name,
      status: run.status,
      ...variant,
      arm: armLabel(variant),
      seed: seedLabel(full),
      base,
      data,
      budget,
      steps: last.get('loss')?.step ?? null,
      group: `${base} · ${data} · ${budget}`,
      testAccuracy: value('test_accuracy'),
      valAccuracy: value('val_accuracy'),
      choices,
      evals,
      alphaK: layers('alpha_k_'),
      alphaV: layers('alpha_v_'),
    };
  }

  return {
    'adapters.results': ({ runIds }) => {
      let runs: Run[];
      if (runIds) {
        runs = runIds.map((id) => {
          const run = store.runs.get(id);
          if (!run) throw new StepwiseError('not_found', `adapters.results: there is no run ${id}`);
          if (!ADAPTER_METHODS.includes(run.method)) throw new StepwiseError('invalid_input', `adapters.results: run ${id} is a ${run.method} run, not Bitune or LoRA`, [{ path: ['runIds'], message: `run ${id} is a ${run.method} run` }]);
          return run;
        });
      } else {
        runs = [];
        for (const method of ADAPTER_METHODS) {
          for (let offset = 0; ; offset += 1000) {
            const page = store.runs.list({ method: method as Run['method'], limit: 1000, offset });
            runs.push(...page.items);
            if (page.items.length < 1000) break;
          }
        }
      }
      const keyed = runs.map(rowOf);
      const captions = groupCaptions(keyed.map((r) => ({ key: r.key, caption: r.group })));
      const rows: AdapterResultRow[] = keyed
        .map(({ key, ...row }) => ({ ...row, group: captions.get(key)! }))
        .sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : armOrder(a, b) || compareSeeds(a.seed, b.seed) || a.runId - b.runId));
      const choiceFiles = [...new Set(rows.flatMap((r) => Object.keys(r.choices)))].sort();
      const evalFiles = [...new Set(rows.flatMap((r) => Object.keys(r.evals)))].sort();
      const metrics = ['test_accuracy', ...evalFiles.map((f) => `eval_acc.${f}`), ...choiceFiles.flatMap((f) => [`mc_acc.${f}`, `mc_acc_norm.${f}`])].filter((key) => rows.some((r) => metricValue(r, key) !== null));
      const groups = [...new Set(rows.map((r) => r.group))].map((group) => groupStats(group, rows.filter((r) => r.group === group), metrics));
      return { rows, choiceFiles, evalFiles, metrics, groups };
    },
  };
}

/** Seeds in numeric order where they are numbers ('2' before '10'). */
function compareSeeds(a: string, b: string): number {
  const [x, y] = [Number(a), Number(b)];
  return Number.isFinite(x) && Number.isFinite(y) ? x - y : a < b ? -1 : a > b ? 1 : 0;
}
