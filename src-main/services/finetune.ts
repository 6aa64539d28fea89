/**
 * finetune.*: Fine-tune-CoT's tasks, teachers, rationale generation jobs and
 * results, on the store.
 *
 * Tasks are datasets of kind 'fine-tune-cot': `task.json` ({task, answerType})
 * beside one `<split>.jsonl` per split, whose lines are the JSONL the rest of
 * the lab reads ({question, rationale, answer}, plus the paper's `teacher`
 * record where a file had one).
 *
 * A generation job runs in this process (it waits on a teacher, it does not
 * compute): every sample is written as it comes, so a job that is cancelled,
 * fails or dies goes on from what is stored when resumed. A lab that opens a
 * folder where a job was left 'running' marks it failed ("interrupted").
 * When a job completes, its kept rationales become a dataset (train) with
 * the task's test split, ready for a student run.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Handlers } from '../contract/dispatcher.ts';
import type { Dataset, RunStatus } from '../contract/entities.ts';
import { StepwiseError } from '../contract/errors.ts';
import type { FtCotGeneration, FtCotResultCell, FtCotResultRow } from '../contract/areas/finetune.ts';
import type { ValidInput } from '../contract/procedures.ts';
import type { AnswerType } from '../methods/finetune-cot/answers.ts';
import { generateTask } from '../methods/finetune-cot/generators.ts';
import { redactSecrets } from '../methods/finetune-cot/redact.ts';
import { stage1Prompt } from '../methods/finetune-cot/layout.ts';
import { PAPER_RESULTS } from '../methods/finetune-cot/paper.ts';
import { HttpTeacher, LibraryTeacher, type Teacher } from '../methods/finetune-cot/teachers.ts';
import { parseTask, readTaskFile, type Task } from '../methods/finetune-cot/tasks.ts';
import { readInputText } from '../methods/input-file.ts';
import { TextModel } from '../methods/finetune-cot/text-model.ts';
import { generateRationales } from '../methods/finetune-cot/zero-shot-cot.ts';
import type { GenerationRow } from '../store/rationales.ts';
import { commit, folderHash, stagingFolder } from './dataset-library.ts';
import { canStoreKeys, keyNames, resolveKey, storeKey } from './finetune-keys.ts';
import type { LabContext } from './lab.ts';
import { insideDataDir } from './paths.ts';

type FinetuneProcedures =
  | 'finetune.importTask' | 'finetune.generateTask' | 'finetune.testTeacher' | 'finetune.generate' | 'finetune.generations' | 'finetune.generation'
  | 'finetune.cancelGeneration' | 'finetune.resumeGeneration' | 'finetune.rationales' | 'finetune.results' | 'finetune.setKey' | 'finetune.keys';

export type TeacherSpec = ValidInput<'finetune.testTeacher'>['teacher'];

export const TASK_KIND = 'fine-tune-cot';
const TASK_FILE = 'task.json';
const PROGRESS_MS = 250;

export interface Finetune {
  handlers: Pick<Handlers, FinetuneProcedures>;
  /** Resolves when the generation job running here ends; undefined when none runs here. */
  whenDone(generationId: number): Promise<FtCotGeneration> | undefined;
  /** Marks jobs left 'running' by a process that died as failed; answers their ids. */
  recoverInterrupted(): number[];
  /** Stops this lab's jobs (they resume from what is stored). */
  close(): void;
}

/** The files of a task dataset as task records, one file per split. */
function writeTaskFiles(folder: string, task: Task): Record<string, number> {
  const counts: Record<string, number> = {};
  const lines: Record<string, string[]> = {};
  for (const e of task.examples) {
    const split = ['train', 'valid', 'test'].includes(e.split) ? e.split : 'train';
    const record: Record<string, unknown> = { question: e.question, rationale: e.rationale ?? e.teacher?.rationale ?? '', answer: e.answer };
    if (e.teacher) record.teacher = { model: e.teacher.model, rationale: e.teacher.rationale, answer_prompt: e.teacher.answerPrompt, answer: e.teacher.answer };
    (lines[split] ??= []).push(JSON.stringify(record));
    counts[split] = (counts[split] ?? 0) + 1;
  }
  for (const [split, ls] of Object.entries(lines)) fs.writeFileSync(path.join(folder, `${split}.jsonl`), ls.join('\n') + '\n');
  fs.writeFileSync(path.join(folder, TASK_FILE), JSON.stringify({ task: task.name, answerType: task.answerType }, null, 2) + '\n');
  return counts;
}

function invalid(field: string, message: string): StepwiseError {
  return new StepwiseError('invalid_input', message, [{ path: [field], message }]);
}

export function createFinetune(ctx: LabContext): Finetune {
  const { store, dataDir, events } = ctx;
  const live = new Map<number, { abort: AbortController; done: Promise<FtCotGeneration> }>();
  let closed = false;

  function saveTask(task: Task, name: string): Dataset {
    const staged = stagingFolder(dataDir);
    try {
      const counts = writeTaskFiles(staged.absolute, task);
      const preview = task.examples.slice(0, 5).map((e) => `${e.question} → ${e.answer}`);
      return commit(ctx, staged, { name, kind: TASK_KIND, contentHash: folderHash(staged.absolute), splitCounts: counts, preview });
    } finally {
      fs.rmSync(staged.absolute, { recursive: true, force: true });
    }
  }

  /** A task dataset's task.json and one split's examples. */
  function taskOf(procedure: string, datasetId: number, split: string): { task: Task; dataset: Dataset } {
    const dataset = store.datasets.get(datasetId);
    if (!dataset) throw new StepwiseError('not_found', `${procedure}: there is no dataset ${datasetId}`);
    const folder = insideDataDir(dataDir, dataset.path);
    let meta: { task?: string; answerType?: AnswerType } = {};
    try {
      meta = JSON.parse(fs.readFileSync(path.join(folder, TASK_FILE), 'utf8')) as typeof meta;
    } catch {
      throw invalid('datasetId', `${procedure}: dataset ${datasetId} is not a Fine-tune-CoT task (it has no ${TASK_FILE}); import it with finetune.importTask`);
    }
    const file = path.join(folder, `${split}.jsonl`);
    if (!fs.existsSync(file)) throw invalid('split', `${procedure}: dataset ${datasetId} has no ${split} split (it has ${Object.keys(dataset.splitCounts).join(', ')})`);
    return { task: readTaskFile(file, { name: meta.task ?? dataset.name, answerType: meta.answerType }), dataset };
  }

  function describeTeacher(t: TeacherSpec): Record<string, string | number> {
    if (t.kind === 'library') {
      const m = store.models.get(t.modelId);
      return { kind: 'library', modelId: t.modelId, label: m ? `model ${m.id} (${m.name})` : `model ${t.modelId}` };
    }
    const d: Record<string, string | number> = { kind: 'openai', baseUrl: t.baseUrl, model: t.model, api: t.api, concurrency: t.concurrency, timeoutMs: t.timeoutMs, maxRetries: t.maxRetries };
    if (t.keyName) d.keyName = t.keyName;
    return d;
  }

  function openTeacher(procedure: string, t: TeacherSpec): Teacher {
    if (t.kind === 'library') {
      const m = store.models.get(t.modelId);
      if (!m) throw new StepwiseError('not_found', `${procedure}: there is no model ${t.modelId} in the library`);
      try {
        return new LibraryTeacher(TextModel.load(insideDataDir(dataDir, m.path)), `model ${m.id} (${m.name})`);
      } catch (err) {
        throw invalid('teacher.modelId', `${procedure}: model ${m.id} cannot teach: ${(err as Error).message}`);
      }
    }
    let key: string | undefined;
    if (t.keyName) {
      const found = resolveKey(t.keyName);
      if ('missing' in found) throw invalid('teacher.keyName', `${procedure}: ${found.missing}`);
      key = found.key;
    }
    return new HttpTeacher({ baseUrl: t.baseUrl, model: t.model, api: t.api, key, concurrency: t.concurrency, timeoutMs: t.timeoutMs, maxRetries: t.maxRetries });
  }

  function view(g: GenerationRow): FtCotGeneration {
    const c = store.rationales.counts(g.id);
    return {
      ...g, done: c.done, kept: c.kept, filtered: c.done - c.kept, byReason: c.byReason, promptTokens: c.promptTokens, completionTokens: c.completionTokens,
      teacherAccuracy: c.done ? c.right / c.done : null,
    };
  }

  function progress(g: FtCotGeneration): void {
    events.emit('finetune.progress', {
      generationId: g.id, status: g.status, done: g.done, total: g.total, kept: g.kept, filtered: g.filtered,
      promptTokens: g.promptTokens, completionTokens: g.completionTokens, error: g.error,
    });
  }

  function setStatus(id: number, status: RunStatus, error: string | null = null): FtCotGeneration {
    // Teachers redact their own errors; this is the last gate before the database and the events.
    const g = view(store.rationales.setStatus(id, status, error === null ? null : redactSecrets(error)));
    progress(g);
    return g;
  }

  function existing(procedure: string, id: number): GenerationRow {
    const g = store.rationales.get(id);
    if (!g) throw new StepwiseError('not_found', `${procedure}: there is no generation job ${id}`);
    return g;
  }

  /** The kept rationales (train) and the task's test split as a dataset for students. */
  function keptDataset(g: GenerationRow): Dataset {
    const kept = store.rationales.kept(g.id);
    const examples = kept.map((r) => ({ question: r.question, answer: r.gold, split: 'train', rationale: r.rationale }));
    if (g.datasetId !== null) {
      const source = store.datasets.get(g.datasetId);
      const test = source && path.join(insideDataDir(dataDir, source.path), 'test.jsonl');
      if (test && fs.existsSync(test)) for (const e of readTaskFile(test, { name: g.task, answerType: g.answerType as AnswerType }).examples) examples.push({ question: e.question, answer: e.answer, split: 'test', rationale: '' });
    }
    const s = g.settings as { samples?: number; temperature?: number };
    const teacher = String((g.teacher as { label?: string; model?: string }).label ?? (g.teacher as { model?: string }).model ?? g.teacher.kind);
    return saveTask({ name: g.task, answerType: g.answerType as AnswerType, examples }, `${g.task}: rationales of ${teacher} (D=${s.samples}, T=${s.temperature}), job ${g.id}`);
  }

  function launch(procedure: string, g: GenerationRow, teacherSpec: TeacherSpec): FtCotGeneration {
    const { task } = taskOf(procedure, g.datasetId ?? 0, g.split);
    const teacher = openTeacher(procedure, teacherSpec);
    const st = g.settings as unknown as { samples: number; temperature: number; maxTokens: number; answerMaxTokens: number; stop: string[]; seed: number; concurrency: number; limit?: number };
    const examples = task.examples.slice(0, st.limit ?? task.examples.length);
    const abort = new AbortController();
    const started = setStatus(g.id, 'running');
    let lastProgress = 0;
    let trailing: ReturnType<typeof setTimeout> | null = null;
    let firstError: string | null = null;
    const done = (async (): Promise<FtCotGeneration> => {
      try {
        const r = await generateRationales({
          questions: examples.map((e, index) => ({ index, question: e.question, answer: e.answer })),
          answerType: task.answerType, teacher, settings: st, done: store.rationales.done(g.id), signal: abort.signal,
          onSample: (s) => {
            if (closed) return;
            store.rationales.addSample(g.id, s);
            // At most one event per PROGRESS_MS, and the last sample of a burst is always reported (a trailing event).
            const now = Date.now();
            if (now - lastProgress >= PROGRESS_MS) {
              lastProgress = now;
              progress(view(store.rationales.get(g.id)!));
            } else {
              trailing ??= setTimeout(() => {
                trailing = null;
                lastProgress = Date.now();
                const row = store.rationales.get(g.id);
                if (!closed && row && row.status === 'running') progress(view(row));
              }, PROGRESS_MS - (now - lastProgress));
            }
          },
          onError: (index, sample, err) => {
            firstError ??= `question ${index + 1}, sample ${sample + 1}: ${err.message}`;
          },
        });
        if (closed) return view(store.rationales.get(g.id)!);
        if (r.stopped) return setStatus(g.id, 'cancelled');
        if (r.failed > 0) return setStatus(g.id, 'failed', `${r.failed} sample${r.failed > 1 ? 's' : ''} failed (first: ${firstError}); resume to try them again`);
        const output = keptDataset(store.rationales.get(g.id)!);
        store.rationales.setOutput(g.id, output.id);
        return setStatus(g.id, 'completed');
      } catch (err) {
        if (closed) return view(store.rationales.get(g.id)!);
        return setStatus(g.id, 'failed', (err as Error).message);
      } finally {
        if (trailing) clearTimeout(trailing);
        live.delete(g.id);
        await teacher.close();
      }
    })();
    live.set(g.id, { abort, done });
    done.catch((err: unknown) => console.error(`stepwise: generation job ${g.id} failed to record its end:`, err));
    return started;
  }

  /** The teacher as the job was started with it (its key is looked up again). */
  function teacherSpecOf(g: GenerationRow): TeacherSpec {
    return g.teacher as unknown as TeacherSpec;
  }

  /** Test accuracy of a completed student run: its latest test evaluation. */
  function testCell(runId: number): FtCotResultCell | null {
    const evals = store.predictions.evaluations(runId, 'test');
    const last = evals[evals.length - 1];
    return last ? { accuracy: last.correct / last.total, correct: last.correct, total: last.total, runId } : null;
  }

  const handlers: Pick<Handlers, FinetuneProcedures> = {
    'finetune.importTask': async ({ path: file, name, task, answerType }) => {
      let t: Task;
      try {
        // Read off the event loop (a large file does not stall the server); FIFOs, devices and oversized files are refused first.
        t = parseTask(file, await readInputText(file, 'task file'), { name: task, answerType });
      } catch (err) {
        throw invalid('path', `finetune.importTask: ${(err as Error).message}`);
      }
      return saveTask(t, name);
    },

    'finetune.generateTask': ({ kind, counts, seed, size, terms, lastDigit, name }) => {
      let t: Task;
      try {
        t = generateTask({ kind, counts, seed, size, terms, lastDigit });
      } catch (err) {
        throw invalid('counts', `finetune.generateTask: ${(err as Error).message}`);
      }
      return saveTask(t, name);
    },

    'finetune.testTeacher': async ({ teacher: spec }) => {
      const teacher = openTeacher('finetune.testTeacher', spec);
      try {
        const t0 = performance.now();
        const r = await teacher.complete(stage1Prompt('What is 2 + 3?'), { maxTokens: 16, temperature: 0 });
        return { text: r.text, latencyMs: performance.now() - t0, promptTokens: r.promptTokens, completionTokens: r.completionTokens, teacher: teacher.describe() };
      } catch (err) {
        throw new StepwiseError('unreachable', `finetune.testTeacher: ${teacher.describe()} did not answer: ${(err as Error).message}`);
      } finally {
        await teacher.close();
      }
    },

    'finetune.generate': (input) => {
      if (closed) throw new StepwiseError('conflict', 'finetune.generate: the lab is closing');
      const { task } = taskOf('finetune.generate', input.datasetId, input.split);
      const questions = Math.min(task.examples.length, input.limit ?? task.examples.length);
      const settings = {
        samples: input.samples, temperature: input.temperature ?? (input.samples > 1 ? 0.7 : 0), maxTokens: input.maxTokens, answerMaxTokens: input.answerMaxTokens,
        stop: input.stop ?? ['\nTherefore'], seed: input.seed, concurrency: input.concurrency, ...(input.limit ? { limit: input.limit } : {}),
      };
      // Checked before the row exists: a teacher that cannot be opened creates nothing.
      openTeacher('finetune.generate', input.teacher).close().catch(() => {});
      const g = store.rationales.add({
        name: input.name, datasetId: input.datasetId, split: input.split, task: task.name, answerType: task.answerType,
        teacher: { ...describeTeacher(input.teacher) }, settings, total: questions * input.samples,
      });
      return launch('finetune.generate', g, input.teacher);
    },

    'finetune.generations': ({ limit, offset }) => {
      const page = store.rationales.list(limit, offset);
      return { items: page.items.map(view), total: page.total };
    },

    'finetune.generation': ({ id }) => view(existing('finetune.generation', id)),

    'finetune.cancelGeneration': async ({ id }) => {
      const g = existing('finetune.cancelGeneration', id);
      const job = live.get(id);
      if (job) {
        job.abort.abort();
        return await job.done;
      }
      if (g.status === 'queued' || g.status === 'running') return setStatus(id, 'cancelled');
      throw new StepwiseError('conflict', `finetune.cancelGeneration: generation job ${id} is not running (it is ${g.status})`);
    },

    'finetune.resumeGeneration': ({ id }) => {
      if (closed) throw new StepwiseError('conflict', 'finetune.resumeGeneration: the lab is closing');
      const g = existing('finetune.resumeGeneration', id);
      if (live.has(id)) throw new StepwiseError('conflict', `finetune.resumeGeneration: generation job ${id} is running`);
      if (g.status === 'completed') throw new StepwiseError('conflict', `finetune.resumeGeneration: generation job ${id} has completed; there is nothing to resume`);
      return launch('finetune.resumeGeneration', g, teacherSpecOf(g));
    },

    'finetune.rationales': ({ generationId, filter, reason, offset, limit }) => {
      existing('finetune.rationales', generationId);
      return store.rationales.page(generationId, { ...(filter === 'all' ? {} : { kept: filter === 'kept' }), ...(reason ? { reason } : {}) }, offset, limit);
    },

    'finetune.results': () => {
      const rows = new Map<string, FtCotResultRow>();
      const row = (task: string, answerType: string) => {
        let r = rows.get(task);
        if (!r) rows.set(task, (r = { task, answerType, teacher: null, vanilla: null, ftCot: null, diverse: null, paper: PAPER_RESULTS[task] ?? null }));
        return r;
      };
      // Teacher: the latest completed test-split job with one sample per question.
      const gens = store.rationales.list(10_000, 0).items.filter((g) => g.status === 'completed' && g.split === 'test');
      for (const g of gens.reverse()) {
        const c = store.rationales.counts(g.id);
        const s = g.settings as { samples?: number };
        if (c.done) row(g.task, g.answerType).teacher = { accuracy: c.right / c.done, correct: c.right, total: c.done, generationId: g.id, samples: s.samples ?? 1 };
      }
      for (let offset = 0; ; offset += 1000) {
        const page = store.runs.list({ method: 'fine-tune-cot', status: 'completed', limit: 1000, offset });
        for (const run of [...page.items].reverse()) {
          const c = run.config as { task?: string; answerType?: string; format?: string; rationales?: { samples?: number } };
          if (!c.task || c.format === 'zero-shot-cot') continue;
          const cell = testCell(run.id);
          if (!cell) continue;
          const r = row(c.task, c.answerType ?? '');
          const samples = c.rationales?.samples ?? 1;
          if (c.format === 'vanilla') r.vanilla = cell;
          else if (samples > 1) r.diverse = { ...cell, samples };
          else r.ftCot = cell;
        }
        if (page.items.length < 1000) break;
      }
      return { rows: [...rows.values()].sort((a, b) => a.task.localeCompare(b.task)) };
    },

    'finetune.setKey': ({ name, key }) => {
      try {
        storeKey(name, key);
      } catch (err) {
        throw new StepwiseError('conflict', `finetune.setKey: ${(err as Error).message}`);
      }
      return { name, stored: true };
    },

    'finetune.keys': () => ({ names: keyNames(), canStore: canStoreKeys() }),
  };

  return {
    handlers,
    whenDone: (id) => live.get(id)?.done,
    recoverInterrupted() {
      const ids: number[] = [];
      for (const g of store.rationales.withStatus('running')) {
        if (live.has(g.id)) continue;
        setStatus(g.id, 'failed', 'interrupted: resume to continue from the samples stored');
        ids.push(g.id);
      }
      return ids;
    },
    close() {
      closed = true;
      for (const job of live.values()) job.abort.abort();
    },
  };
}
