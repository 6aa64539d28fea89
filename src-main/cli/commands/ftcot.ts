/**
 * Fine-tune-CoT from the command line, through the same procedures the app
 * calls (finetune.*), into the same store:
 *
 *   stepwise ftcot task FILE --name NAME            import a task (the paper's JSONL, any JSONL or CSV)
 *   stepwise ftcot task --generate KIND --train N --test N --name NAME
 *   stepwise ftcot teach --dataset ID --base-url URL --model M --key-env VAR [--samples D --temperature T]
 *   stepwise ftcot teach --resume JOB               continue a stopped job; what is stored is skipped
 *   stepwise ftcot table                            the results table beside the paper's numbers
 *
 * A generation job draws a progress bar (done / kept / filtered, tokens);
 * Ctrl-C stops it after the samples in flight (a second Ctrl-C quits at
 * once), and `--resume JOB` goes on from what is stored. The key is read
 * from the environment variable `--key-env` names and is never written
 * anywhere: the job stores that name only.
 */
import path from 'node:path';
import type { FtCotGeneration, FtCotResultCell, FtCotResultRow } from '../../contract/areas/finetune.ts';
import { FT_ANSWER_TYPES, FT_GENERATED_TASKS } from '../../contract/areas/finetune.ts';
import type { Dataset } from '../../contract/entities.ts';
import type { ErrorData } from '../../contract/errors.ts';
import { openLab, type Lab } from '../../services/lab.ts';
import { resolveDataDir } from '../../services/paths.ts';
import { defineCommand, UsageError } from '../command.ts';
import { progressBar } from '../progress.ts';

function integer(flag: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${flag} expects a whole number from ${min} to ${max} (got "${text}")`);
  return n;
}

function number(flag: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new UsageError(`${flag} expects a number from ${min} to ${max} (got "${text}")`);
  return n;
}

/** A refused procedure as one message: the fields it names, each with what is wrong. */
function refusal(error: ErrorData): string {
  const fields = (error.issues ?? []).filter((i) => !error.message.includes(i.message)).map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`);
  return fields.length > 0 ? `${error.message}\n  ${fields.join('\n  ')}` : error.message;
}

async function call<T>(lab: Lab, command: string, procedure: string, input: unknown): Promise<{ ok: true; value: T } | { ok: false; code: number }> {
  const r = await lab.dispatch(procedure, input);
  if (r.ok) return { ok: true, value: r.result as T };
  process.stderr.write(`stepwise ${command}: ${refusal(r.error)}\n`);
  return { ok: false, code: r.error.code === 'invalid_input' || r.error.code === 'not_found' ? 2 : 1 };
}

export const ftcotTask = defineCommand({
  name: 'ftcot task',
  summary:
    "Fine-tune-CoT: import a task file (the paper's tasks/*.jsonl or teacher/*.jsonl, JSONL or CSV with question and answer) " +
    'or generate one (last-letters, coin-flip, shuffled-objects, arithmetic) into the library as a dataset.',
  args: [{ name: 'FILE', description: 'The task file to import (leave out with --generate)', optional: true }],
  options: {
    name: { type: 'string', value: 'NAME', description: "The dataset's name (default: the file's name, or the generated kind)" },
    task: { type: 'string', value: 'TASK', description: "The task's name in the results table (default: the file's name)" },
    'answer-type': { type: 'string', value: 'TYPE', description: `The answer type when the file's name does not say: ${FT_ANSWER_TYPES.join(', ')}` },
    generate: { type: 'string', value: 'KIND', description: `Generate instead of importing: ${FT_GENERATED_TASKS.join(', ')}` },
    train: { type: 'string', value: 'N', description: 'With --generate: training questions (default 1000)' },
    test: { type: 'string', value: 'N', description: 'With --generate: test questions (default 200)' },
    size: { type: 'string', value: 'N', description: 'With --generate: words (last-letters), people (coin-flip) or digits per number (arithmetic)' },
    terms: { type: 'string', value: 'N', description: 'With --generate arithmetic: how many numbers are added (default 2)' },
    'last-digit': { type: 'boolean', description: 'With --generate arithmetic: ask for the last digit of the sum' },
    seed: { type: 'string', value: 'S', description: 'With --generate: the seed (default 0)' },
  },
  async run(values, [file]) {
    const generating = values.generate !== undefined;
    if (generating === (file !== undefined)) throw new UsageError('give a FILE to import or --generate KIND, one of them');
    const input = generating
      ? {
          kind: values.generate,
          counts: { train: integer('--train', values.train, 0, 10_000_000) ?? 1000, test: integer('--test', values.test, 0, 10_000_000) ?? 200 },
          seed: integer('--seed', values.seed, 0, 2 ** 32 - 1) ?? 0,
          ...(values.size !== undefined ? { size: integer('--size', values.size, 1, 12) } : {}),
          ...(values.terms !== undefined ? { terms: integer('--terms', values.terms, 2, 12) } : {}),
          ...(values['last-digit'] ? { lastDigit: true } : {}),
          name: values.name ?? values.generate,
        }
      : {
          path: path.resolve(file!),
          name: values.name ?? path.basename(file!).replace(/\.(jsonl|csv)$/i, ''),
          ...(values.task !== undefined ? { task: values.task } : {}),
          ...(values['answer-type'] !== undefined ? { answerType: values['answer-type'] } : {}),
        };
    const lab = openLab(resolveDataDir(values['data-dir']));
    try {
      const r = await call<Dataset>(lab, 'ftcot task', generating ? 'finetune.generateTask' : 'finetune.importTask', input);
      if (!r.ok) return r.code;
      const d = r.value;
      const order = (s: string) => (['train', 'valid', 'test'].indexOf(s) + 4) % 4;
      const splits = Object.entries(d.splitCounts).sort(([a], [b]) => order(a) - order(b)).map(([s, n]) => `${n} ${s}`).join(', ');
      process.stdout.write(`Dataset ${d.id} "${d.name}": ${splits} questions in ${path.join(lab.dataDir, d.path)}\n`);
      return 0;
    } finally {
      lab.close();
    }
  },
});

export const ftcotGenerate = defineCommand({
  name: 'ftcot teach',
  summary:
    'Fine-tune-CoT: a teacher writes rationales with Zero-shot-CoT for a task (D samples at temperature T, kept when its answer is right), ' +
    'from an OpenAI-compatible endpoint or a library model, with a progress bar; Ctrl-C stops it and --resume continues it.',
  options: {
    dataset: { type: 'string', value: 'ID', description: 'The task dataset (stepwise ftcot task answers its id)' },
    split: { type: 'string', value: 'SPLIT', description: 'The split whose questions are asked (default train; test gives the teacher row of the results)' },
    name: { type: 'string', value: 'NAME', description: "The job's name (default: the teacher's model and D)" },
    'base-url': { type: 'string', value: 'URL', description: 'An OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1 (Ollama) or https://api.openai.com/v1' },
    model: { type: 'string', value: 'MODEL', description: "The endpoint's model name" },
    api: { type: 'string', value: 'API', description: 'completions (default) or chat' },
    'key-env': { type: 'string', value: 'VAR', description: 'The environment variable holding the API key (read here, never stored)' },
    'library-model': { type: 'string', value: 'ID', description: 'Instead of an endpoint: a library model teaches, run here' },
    samples: { type: 'string', value: 'D', description: 'Rationales per question (default 1)' },
    temperature: { type: 'string', value: 'T', description: 'Sampling temperature (default 0 for one sample, 0.7 for several)' },
    'max-tokens': { type: 'string', value: 'N', description: 'Rationale budget in tokens (default 128)' },
    'answer-max-tokens': { type: 'string', value: 'N', description: 'Answer budget in tokens (default 32)' },
    concurrency: { type: 'string', value: 'N', description: 'Requests in flight (default 4)' },
    timeout: { type: 'string', value: 'SECONDS', description: 'Per request (default 60)' },
    retries: { type: 'string', value: 'N', description: 'Retries on 429 and 5xx, with backoff (default 4)' },
    limit: { type: 'string', value: 'N', description: 'Only the first N questions' },
    seed: { type: 'string', value: 'S', description: 'Sampling seed (default 0)' },
    resume: { type: 'string', value: 'JOB', description: 'Instead of a new job: continue job JOB, skipping the samples it stored' },
  },
  async run(values) {
    const resumeId = integer('--resume', values.resume, 1, Number.MAX_SAFE_INTEGER);
    let input: Record<string, unknown> | undefined;
    if (resumeId === undefined) {
      const datasetId = integer('--dataset', values.dataset, 1, Number.MAX_SAFE_INTEGER);
      if (datasetId === undefined) throw new UsageError('--dataset ID is required (or --resume JOB)');
      const library = integer('--library-model', values['library-model'], 1, Number.MAX_SAFE_INTEGER);
      if ((library === undefined) === (values['base-url'] === undefined)) throw new UsageError('give the teacher as --base-url URL --model MODEL, or as --library-model ID');
      if (values['base-url'] !== undefined && values.model === undefined) throw new UsageError('--model MODEL is required with --base-url');
      if (values['key-env'] !== undefined && process.env[values['key-env']] === undefined) throw new UsageError(`the environment variable ${values['key-env']} (--key-env) is not set`);
      const concurrency = integer('--concurrency', values.concurrency, 1, 64);
      const timeout = number('--timeout', values.timeout, 1, 600);
      const teacher =
        library !== undefined
          ? { kind: 'library', modelId: library }
          : {
              kind: 'openai', baseUrl: values['base-url'], model: values.model,
              ...(values.api !== undefined ? { api: values.api } : {}),
              ...(values['key-env'] !== undefined ? { keyName: values['key-env'] } : {}),
              ...(concurrency !== undefined ? { concurrency } : {}),
              ...(timeout !== undefined ? { timeoutMs: Math.round(timeout * 1000) } : {}),
              ...(values.retries !== undefined ? { maxRetries: integer('--retries', values.retries, 0, 10) } : {}),
            };
      const samples = integer('--samples', values.samples, 1, 64) ?? 1;
      input = {
        datasetId,
        ...(values.split !== undefined ? { split: values.split } : {}),
        name: values.name ?? `${values.model ?? `model ${library}`}, D=${samples}`,
        teacher,
        samples,
        ...(values.temperature !== undefined ? { temperature: number('--temperature', values.temperature, 0, 2) } : {}),
        ...(values['max-tokens'] !== undefined ? { maxTokens: integer('--max-tokens', values['max-tokens'], 1, 4096) } : {}),
        ...(values['answer-max-tokens'] !== undefined ? { answerMaxTokens: integer('--answer-max-tokens', values['answer-max-tokens'], 1, 512) } : {}),
        ...(concurrency !== undefined ? { concurrency } : {}),
        ...(values.limit !== undefined ? { limit: integer('--limit', values.limit, 1, 1_000_000) } : {}),
        ...(values.seed !== undefined ? { seed: integer('--seed', values.seed, 0, 2 ** 32 - 1) } : {}),
      };
    } else if (values.dataset !== undefined || values['base-url'] !== undefined || values['library-model'] !== undefined) {
      throw new UsageError('--resume JOB continues a job with its own teacher and settings; give no --dataset, --base-url or --library-model with it');
    }

    const lab = openLab(resolveDataDir(values['data-dir']));
    try {
      const r = resumeId === undefined
        ? await call<FtCotGeneration>(lab, 'ftcot teach', 'finetune.generate', input)
        : await call<FtCotGeneration>(lab, 'ftcot teach', 'finetune.resumeGeneration', { id: resumeId });
      if (!r.ok) return r.code;
      return await follow(lab, r.value, resumeId !== undefined);
    } finally {
      lab.close();
    }
  },
});

/** Draws the job's progress until it ends; Ctrl-C stops it (twice: quits). Answers the exit code. */
async function follow(lab: Lab, job: FtCotGeneration, resumed: boolean): Promise<number> {
  process.stderr.write(
    `${resumed ? 'Resuming' : 'Generating'} job ${job.id} "${job.name}": ${job.total} samples (${job.done} stored). ` +
      'Ctrl-C stops it; --resume continues.\n',
  );
  const bar = progressBar(`job ${job.id}`);
  const off = lab.events.subscribe((event, payload) => {
    const p = payload as { generationId?: number; done: number; total: number };
    if (event === 'finetune.progress' && p.generationId === job.id) bar.update(p.done, p.total);
  });
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) {
      bar.finish();
      process.stderr.write(`\nQuit without waiting; continue with: stepwise ftcot teach --resume ${job.id}\n`);
      process.exit(130);
    }
    process.stderr.write(`\nStopping job ${job.id} after the samples in flight (Ctrl-C again to quit at once)…\n`);
    void lab.dispatch('finetune.cancelGeneration', { id: job.id });
  };
  process.on('SIGINT', onSigint);
  let end: FtCotGeneration;
  try {
    end = await lab.finetune.whenDone(job.id)!;
  } finally {
    process.off('SIGINT', onSigint);
    off();
    bar.finish();
  }
  const tokens = `${end.promptTokens} prompt + ${end.completionTokens} completion tokens`;
  const counts = `${end.done}/${end.total} samples, ${end.kept} kept, ${end.filtered} filtered (${Object.entries(end.byReason).map(([k, n]) => `${k} ${n}`).join(', ')}); ${tokens}`;
  switch (end.status) {
    case 'completed':
      process.stdout.write(`Job ${end.id} completed: ${counts}.\n`);
      if (end.teacherAccuracy !== null) process.stdout.write(`Teacher accuracy ${pct(end.teacherAccuracy)}.\n`);
      if (end.outputDatasetId !== null) process.stdout.write(`Kept rationales: dataset ${end.outputDatasetId}.\n`);
      return 0;
    case 'cancelled':
      process.stdout.write(`Job ${end.id} stopped: ${counts}. Continue with: stepwise ftcot teach --resume ${end.id}\n`);
      return 130;
    default:
      process.stderr.write(`stepwise ftcot teach: job ${end.id} failed: ${end.error} (${counts}). Continue with: stepwise ftcot teach --resume ${end.id}\n`);
      return 1;
  }
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

export const ftcotResults = defineCommand({
  name: 'ftcot table',
  summary: "Fine-tune-CoT: the results per task (teacher, vanilla, Fine-tune-CoT, with diverse reasoning) beside the paper's numbers.",
  options: { json: { type: 'boolean', description: 'Print the table as JSON' } },
  async run(values) {
    const lab = openLab(resolveDataDir(values['data-dir']));
    try {
      const r = await call<{ rows: FtCotResultRow[] }>(lab, 'ftcot table', 'finetune.results', {});
      if (!r.ok) return r.code;
      if (values.json) {
        process.stdout.write(JSON.stringify(r.value, null, 2) + '\n');
        return 0;
      }
      process.stdout.write(resultsTable(r.value.rows));
      return 0;
    } finally {
      lab.close();
    }
  },
});

/** The results as aligned text: ours (percent, with counts) and the paper's, per task. */
export function resultsTable(rows: FtCotResultRow[]): string {
  if (rows.length === 0) return 'No results yet: complete a generation job on a test split, or a Fine-tune-CoT student run with a test file.\n';
  const cell = (c: FtCotResultCell | null) => (c ? `${(100 * c.accuracy).toFixed(2)} (${c.correct}/${c.total})` : '–');
  const paper = (x: number | undefined) => (x === undefined ? '–' : x.toFixed(2));
  const header = ['task', 'teacher', 'vanilla', 'Fine-tune-CoT', 'diverse (D)', 'paper teacher', 'paper vanilla', 'paper FT-CoT'];
  const body = rows.map((r) => [
    r.task, cell(r.teacher), cell(r.vanilla), cell(r.ftCot), r.diverse ? `${cell(r.diverse)} D=${r.diverse.samples}` : '–',
    paper(r.paper?.teacher), paper(r.paper?.vanilla), paper(r.paper?.ftCot),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd() + '\n';
  return line(header) + line(widths.map((w) => '-'.repeat(w))) + body.map(line).join('') + 'Accuracy in percent on each task\'s test split; the paper\'s student is GPT-2 (124M) where it reports one.\n';
}
