/**
 * `stepwise data mult`: write multiplication in the paper's format to files.
 * `stepwise data import FILE`: copy a file of examples into the library (datasets.import).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Dataset } from '../../contract/entities.ts';
import { DATASET_SPLITS } from '../../contract/entities.ts';
import { MAX_MULT_DIGITS, MULT_SPLITS, multOptionsProblem, parseDigits, readMultPairs, writeMultFiles } from '../../methods/icot/mult.ts';
import type { MultCounts, MultSplit } from '../../methods/icot/mult.ts';
import { openLab } from '../../services/lab.ts';
import { resolveDataDir } from '../../services/paths.ts';
import { defineCommand, UsageError } from '../command.ts';
import { progressBar } from '../progress.ts';

/** Generations this big draw a progress bar. */
const PROGRESS_FROM = 100_000;

export const dataMult = defineCommand({
  name: 'data mult',
  summary:
    "Write A-digit × B-digit multiplication in the paper's format (digits least significant first, partial products, running sums). " +
    'Splits written by one call never share a pair; to write another split separately, pass the earlier files to --exclude.',
  options: {
    digits: { type: 'string', value: 'AxB', description: 'Operand lengths, e.g. 4x4 (1 to 30 digits each)' },
    count: { type: 'string', value: 'N', description: 'Examples: all in one --split, or the total that --splits ratios divide' },
    split: { type: 'string', value: 'SPLIT', description: 'With --count: the split to write to --out FILE, train (default), valid or test' },
    splits: {
      type: 'string',
      value: 'SPEC',
      description: 'Several splits into the folder --out: counts (train=808000,valid=1000,test=1000) or, with --count, ratios (train=0.9,valid=0.05,test=0.05)',
    },
    seed: { type: 'string', value: 'S', description: 'Seed of the pair stream (default 0); the same seed and counts give the same files' },
    out: { type: 'string', value: 'PATH', description: 'The file to write (--count) or the folder for <split>.txt files (--splits)' },
    exclude: { type: 'string', value: 'FILE', multiple: true, description: "Leave out every pair in FILE (e.g. the paper's test.txt); repeatable" },
  },
  async run(values) {
    const digits = values.digits === undefined ? null : parseDigits(values.digits);
    if (!digits) {
      throw new UsageError(
        values.digits === undefined
          ? '--digits AxB is required, e.g. --digits 4x4'
          : `--digits expects AxB with A and B from 1 to ${MAX_MULT_DIGITS}, e.g. 4x4 (got "${values.digits}")`,
      );
    }
    if (!values.out) throw new UsageError('--out is required: the file to write (with --count) or a folder (with --splits)');
    const seed = values.seed === undefined ? 0 : integer('--seed', values.seed, 0, 2 ** 32 - 1);
    const total = values.count === undefined ? undefined : integer('--count', values.count, 1, 100_000_000);

    let counts: MultCounts;
    let files: Partial<Record<MultSplit, string>>;
    if (values.splits !== undefined) {
      if (values.split !== undefined) throw new UsageError('give --split (one file) or --splits (a folder of splits), not both');
      counts = parseSplits(values.splits, total);
      fs.mkdirSync(values.out, { recursive: true });
      files = Object.fromEntries(MULT_SPLITS.filter((s) => counts[s] > 0).map((s) => [s, path.join(values.out!, `${s}.txt`)]));
    } else {
      if (total === undefined) throw new UsageError('give --count N (one file) or --splits train=N,valid=N,test=N (a folder of splits)');
      const split = values.split ?? 'train';
      if (!isSplit(split)) throw new UsageError(`--split expects one of ${MULT_SPLITS.join(', ')} (got "${split}")`);
      counts = { train: 0, valid: 0, test: 0, [split]: total };
      files = { [split]: values.out };
    }

    const exclude = values.exclude?.length ? readMultPairs(values.exclude) : undefined;
    const opts = { ...digits, counts, seed, exclude };
    const problem = multOptionsProblem(opts);
    if (problem) throw new UsageError(problem);

    const all = counts.train + counts.valid + counts.test;
    const bar = all >= PROGRESS_FROM ? progressBar(`${digits.digitsA}×${digits.digitsB}`) : null;
    try {
      await writeMultFiles(opts, files, (done, n) => bar?.update(done, n));
    } finally {
      bar?.finish();
    }
    for (const split of MULT_SPLITS) {
      if (counts[split] > 0) process.stdout.write(`Wrote ${counts[split]} ${split} examples of ${digits.digitsA}×${digits.digitsB} multiplication to ${files[split]}\n`);
    }
    return 0;
  },
});

export const dataImport = defineCommand({
  name: 'data import',
  summary: "Copy a file of examples (the paper's `input||cot #### answer` lines, or JSONL {question, rationale?, answer}) into the library as one split of a new dataset.",
  args: [{ name: 'FILE', description: 'The file to import; every line is checked, and a bad one imports nothing' }],
  options: {
    name: { type: 'string', value: 'NAME', description: "The dataset's name (default: the file's name)" },
    split: { type: 'string', value: 'SPLIT', description: 'The split the file is: train (default), valid or test' },
    format: { type: 'string', value: 'FORMAT', description: 'lines or jsonl (default: from the extension, else the first line)' },
    into: { type: 'string', value: 'ID', description: 'Add the file as a split that dataset lacks (e.g. the valid split beside an imported train split) instead of making a new dataset' },
    json: { type: 'boolean', description: 'Print the new dataset as JSON (the datasets.import output)' },
  },
  async run(values, [file]) {
    const split = values.split ?? 'train';
    if (!(DATASET_SPLITS as readonly string[]).includes(split)) throw new UsageError(`--split expects one of ${DATASET_SPLITS.join(', ')} (got "${split}")`);
    if (values.format !== undefined && values.format !== 'lines' && values.format !== 'jsonl') {
      throw new UsageError(`--format expects lines or jsonl (got "${values.format}")`);
    }
    const into = values.into === undefined ? undefined : Number(values.into);
    if (into !== undefined && !(Number.isInteger(into) && into > 0)) throw new UsageError(`--into expects a dataset id (got "${values.into}")`);
    const absolute = path.resolve(file);
    const name = values.name ?? path.basename(absolute).replace(/\.[^.]*$/, '');
    const lab = openLab(resolveDataDir(values['data-dir']));
    try {
      const answer = await lab.dispatch('datasets.import', { path: absolute, name, split, ...(values.format ? { format: values.format } : {}), ...(into !== undefined ? { datasetId: into } : {}) });
      if (!answer.ok) throw new Error(answer.error.message.replace(/^datasets\.import: /, ''));
      const dataset = answer.result as Dataset;
      process.stdout.write(
        values.json
          ? `${JSON.stringify(dataset, null, 2)}\n`
          : `Imported ${dataset.splitCounts[split]} ${split} examples as dataset ${dataset.id} "${dataset.name}" (${dataset.kind}, sha256 ${dataset.contentHash.slice(0, 12)}…)\n`,
      );
      return 0;
    } finally {
      lab.close();
    }
  },
});

function isSplit(text: string): text is MultSplit {
  return (MULT_SPLITS as readonly string[]).includes(text);
}

function integer(flag: string, text: string, min: number, max: number): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${flag} expects an integer from ${min} to ${max} (got "${text}")`);
  return n;
}

/** `train=808000,valid=1000,test=1000` (counts), or ratios like `train=0.9,valid=0.1` of `total`. */
function parseSplits(spec: string, total: number | undefined): MultCounts {
  const form = total === undefined ? 'train=N,valid=N,test=N' : 'train=R,valid=R,test=R with ratios summing to 1';
  const values = { train: 0, valid: 0, test: 0 };
  const seen = new Set<string>();
  for (const entry of spec.split(',')) {
    const [name, value, extra] = entry.split('=').map((x) => x.trim());
    if (!isSplit(name) || value === undefined || value === '' || extra !== undefined || seen.has(name)) {
      throw new UsageError(`--splits expects ${form} (got "${spec}")`);
    }
    seen.add(name);
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0 || (total === undefined && !Number.isSafeInteger(n))) throw new UsageError(`--splits expects ${form} (got "${spec}")`);
    values[name] = n;
  }
  if (total === undefined) return values;
  const sum = values.train + values.valid + values.test;
  if (Math.abs(sum - 1) > 1e-9) throw new UsageError(`--splits ratios must sum to 1 (got ${sum} from "${spec}")`);
  // Largest remainder: floors first, then the leftover examples to the largest fractions.
  const exact = MULT_SPLITS.map((s) => values[s] * total);
  const counts = exact.map(Math.floor);
  const order = MULT_SPLITS.map((_, i) => i).sort((a, b) => exact[b] - counts[b] - (exact[a] - counts[a]) || a - b);
  for (let left = total - counts.reduce((a, b) => a + b, 0), k = 0; left > 0; left--, k++) counts[order[k % 3]]++;
  return { train: counts[0], valid: counts[1], test: counts[2] };
}
