/**
 * `stepwise probe`: capture a model's hidden states over examples and fit
 * linear probes per target × layer × position, with their baselines, into the
 * same store the app reads (probes.start, then its progress until it ends).
 * With `--checkpoint all` it probes every checkpoint of an ICoT-SI run, each
 * with the CoT tokens its curriculum had removed.
 */
import path from 'node:path';
import type { Probe, ProbeOutputs, ProbeRequestInput, ProbeResults } from '../../contract/areas/probes.ts';
import type { Lab } from '../../services/lab.ts';
import { openLab } from '../../services/lab.ts';
import { resolveDataDir } from '../../services/paths.ts';
import { probeDone } from '../../services/probes.ts';
import { defineCommand, UsageError } from '../command.ts';
import { progressBar } from '../progress.ts';

export const probe = defineCommand({
  name: 'probe',
  summary:
    "Fit linear probes on a model's hidden states (per target × layer × position, with majority, control-task and random-model baselines); --checkpoint all follows an ICoT-SI run's curriculum. Stored like the app's.",
  options: {
    run: { type: 'string', value: 'ID', description: 'Probe this run\'s weights' },
    checkpoint: { type: 'string', value: 'STEP', multiple: true, description: "With --run: best (default), latest, all, or a checkpoint's step (repeatable)" },
    model: { type: 'string', value: 'DIR', description: 'Instead of --run: a Hugging Face model folder (GPT-2 or Llama family)' },
    'model-id': { type: 'string', value: 'ID', description: 'Instead of --run: a model of the library' },
    data: { type: 'string', value: 'FILE', description: "Examples in the paper's format (input||cot #### answer) or JSONL" },
    dataset: { type: 'string', value: 'ID', description: 'Instead of --data: a dataset of the library' },
    split: { type: 'string', value: 'NAME', description: 'With --dataset: train, valid or test (default test)' },
    text: { type: 'string', value: 'TEXT', description: 'Instead of data: one hand-typed input (logit lens and attention only)' },
    limit: { type: 'string', value: 'N', description: 'Only the first N examples (default 1000)' },
    target: { type: 'string', value: 'NAME', multiple: true, description: 'A target to probe, e.g. pp0.d1, sum1.d3, ans.d2, pp1 (repeatable; default: every CoT digit)' },
    pattern: { type: 'string', value: 'NAME=REGEX', multiple: true, description: 'A class target from the CoT: the first match of REGEX (its group 1 if it has one)' },
    'value-pattern': { type: 'string', value: 'NAME=REGEX', multiple: true, description: 'The same as a number, probed by ridge regression' },
    slot: { type: 'string', value: 'SLOT', multiple: true, description: 'A position to probe: input.I, eos.0, cot.J, eos.1, answer.K, eos.2 (repeatable; default: all)' },
    seeds: { type: 'string', value: 'N', description: 'Splits and control draws to average over (default 3)' },
    'held-out': { type: 'string', value: 'F', description: 'Fraction of problems held out (default 0.2)' },
    control: { type: 'string', value: 'TYPE', description: "The control task's input type: input (the problem, default) or token" },
    'no-random': { type: 'boolean', description: 'Skip the randomly initialised model baseline' },
    'no-attention': { type: 'boolean', description: "Do not keep the heads' attention probabilities" },
    name: { type: 'string', value: 'NAME', description: 'Name of the probe job' },
    estimate: { type: 'boolean', description: 'Only say what it would do: examples, positions, fits and bytes' },
  },
  async run(values) {
    const sources = [values.run, values.model, values['model-id']].filter((v) => v !== undefined).length;
    if (sources !== 1) throw new UsageError('give one of --run ID, --model DIR or --model-id ID');
    if (values.checkpoint && values.run === undefined) throw new UsageError('--checkpoint goes with --run');
    const datas = [values.data, values.dataset, values.text].filter((v) => v !== undefined).length;
    if (datas !== 1) throw new UsageError('give one of --data FILE, --dataset ID or --text TEXT');
    if (values.split !== undefined && values.dataset === undefined) throw new UsageError('--split goes with --dataset');
    const limit = values.limit === undefined ? undefined : whole('--limit', values.limit, 1);
    const request: ProbeRequestInput = {
      ...(values.name ? { name: values.name } : {}),
      source:
        values.run !== undefined
          ? { runId: whole('--run', values.run, 1), checkpoints: checkpointsOf(values.checkpoint) }
          : values.model !== undefined
            ? { dir: path.resolve(values.model) }
            : { modelId: whole('--model-id', values['model-id']!, 1) },
      data:
        values.text !== undefined
          ? { text: values.text }
          : values.dataset !== undefined
            ? { datasetId: whole('--dataset', values.dataset, 1), ...(values.split ? { split: values.split as 'test' } : {}), ...(limit ? { limit } : {}) }
            : { file: path.resolve(values.data!), ...(limit ? { limit } : {}) },
      patterns: [...patternsOf(values.pattern, 'class'), ...patternsOf(values['value-pattern'], 'value')],
      ...(values.target ? { targets: values.target } : {}),
      ...(values.slot ? { slots: values.slot } : {}),
      ...(values.seeds !== undefined ? { seeds: whole('--seeds', values.seeds, 1, 10) } : {}),
      ...(values['held-out'] !== undefined ? { heldOut: fraction('--held-out', values['held-out']) } : {}),
      ...(values.control !== undefined ? { controlType: controlOf(values.control) } : {}),
      randomBaseline: !values['no-random'],
      attention: !values['no-attention'],
    };

    const lab = openLab(resolveDataDir(values['data-dir']));
    try {
      const est = await call<'probes.estimate'>(lab, 'probes.estimate', request);
      process.stderr.write(
        `Probing ${est.points.length} point${est.points.length === 1 ? '' : 's'} (${est.points.map((p) => p.label).join(', ')}) on ${est.examples} example${est.examples === 1 ? '' : 's'} of up to ${est.seqLen} tokens: ` +
          `${est.targets.length} target${est.targets.length === 1 ? '' : 's'} × ${est.layers} layers × ${est.slots.length} positions, ${est.fits} fits; captures take ${mib(est.bytes)}.\n`,
      );
      if (values.estimate) {
        process.stdout.write(`${JSON.stringify(est, null, 2)}\n`);
        return 0;
      }
      const started = await call<'probes.start'>(lab, 'probes.start', request);
      return await follow(lab, started);
    } finally {
      lab.close();
    }
  },
});

async function call<N extends 'probes.estimate' | 'probes.start' | 'probes.results'>(lab: Lab, name: N, input: unknown): Promise<ProbeOutputs[N]> {
  const answer = await lab.dispatch(name, input);
  if (answer.ok) return answer.result as ProbeOutputs[N];
  if (answer.error.code === 'invalid_input' || answer.error.code === 'not_found') throw new UsageError(answer.error.message);
  throw new Error(answer.error.message);
}

/** Shows the job's progress until it ends; Ctrl-C cancels it. Prints each point's best probes. */
async function follow(lab: Lab, started: Probe): Promise<number> {
  process.stderr.write(`Probe job ${started.id} "${started.name}" in ${lab.dataDir}. Ctrl-C cancels it.\n`);
  const bar = progressBar('probing');
  const off = lab.events.subscribe((event, payload) => {
    if (event !== 'probe.progress') return;
    const p = payload as { probeId: number; point: number; points: number; phase: string; done: number; total: number };
    if (p.probeId === started.id) bar.update(p.done, p.total);
  });
  const onSigint = () => void lab.dispatch('probes.cancel', { id: started.id });
  process.on('SIGINT', onSigint);
  let end: Probe;
  try {
    end = await probeDone(lab.dataDir, started.id)!;
  } finally {
    process.off('SIGINT', onSigint);
    off();
    bar.finish();
  }
  const out = process.stdout;
  for (const point of end.summary.points.filter((p) => p.done)) {
    const r = await call<'probes.results'>(lab, 'probes.results', { id: end.id, point: point.index });
    const removed = point.removed === null ? 'all CoT removed' : `${point.removed} of ${point.cotLength} CoT tokens removed`;
    out.write(`${point.label} (${removed}):\n`);
    for (const line of bestCells(r)) out.write(`  ${line}\n`);
  }
  if (end.status === 'completed') {
    out.write(`Probe job ${end.id} completed: ${path.join(lab.dataDir, end.path)} (${mib(end.bytes)}).\n`);
    return 0;
  }
  if (end.status === 'cancelled') {
    out.write(`Probe job ${end.id} cancelled; what it finished is kept.\n`);
    return 130;
  }
  process.stderr.write(`stepwise probe: probe job ${end.id} failed: ${end.error}\n`);
  return 1;
}

/** Per target: the best cell, with its baselines. */
function bestCells(r: ProbeResults): string[] {
  return r.targets.map((t) => {
    let best: { l: number; s: number } | null = null;
    t.cells.forEach((row, l) => row.forEach((c, s) => {
      if (c && (!best || c.score > t.cells[best.l][best.s]!.score)) best = { l, s };
    }));
    if (!best) return `${t.name}: no position had enough examples`;
    const { l, s } = best as { l: number; s: number };
    const c = t.cells[l][s]!;
    const rnd = t.random?.[l][s];
    const f = (x: number) => x.toFixed(3);
    return `${t.name.padEnd(10)} best at layer ${l}, ${r.slots[s]}: ${t.metric} ${f(c.score)} ± ${f(c.std)}; majority ${f(c.majority)}, control ${f(c.control)} (selectivity ${f(c.selectivity)})${rnd ? `, random model ${f(rnd.score)}` : ''}`;
  });
}

function checkpointsOf(values: string[] | undefined): 'all' | 'best' | 'latest' | number[] | undefined {
  if (!values || values.length === 0) return undefined;
  if (values.length === 1 && ['all', 'best', 'latest'].includes(values[0])) return values[0] as 'all' | 'best' | 'latest';
  return values.map((v) => whole('--checkpoint', v, 0, Number.MAX_SAFE_INTEGER, 'a step (repeatable), or one of all, best, latest'));
}

function patternsOf(values: string[] | undefined, kind: 'class' | 'value') {
  return (values ?? []).map((text) => {
    const at = text.indexOf('=');
    if (at < 1 || at === text.length - 1) throw new UsageError(`--${kind === 'class' ? '' : 'value-'}pattern expects NAME=REGEX (got "${text}")`);
    const pattern = text.slice(at + 1);
    let groups = 0;
    try {
      groups = new RegExp(`${pattern}|`).exec('')!.length - 1;
    } catch (error) {
      throw new UsageError(`--${kind === 'class' ? '' : 'value-'}pattern ${text}: not a regular expression (${(error as Error).message})`);
    }
    return { name: text.slice(0, at), source: 'cot' as const, pattern, occurrence: 0, group: groups > 0 ? 1 : 0, kind };
  });
}

function controlOf(text: string): 'input' | 'token' {
  if (text !== 'input' && text !== 'token') throw new UsageError(`--control expects input or token (got "${text}")`);
  return text;
}

function fraction(flag: string, text: string): number {
  const x = Number(text);
  if (!(x > 0 && x < 1)) throw new UsageError(`${flag} expects a number between 0 and 1 (got "${text}")`);
  return x;
}

function whole(flag: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER, what = `a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}`): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new UsageError(`${flag} expects ${what} (got "${text}")`);
  return n;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
