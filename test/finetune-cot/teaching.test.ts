/**
 * Fine-tune-CoT end to end, with real parts only: a lab model trained with
 * explicit CoT (the Zero-shot-CoT protocol) on generated arithmetic, the last
 * digit of a sum of four digits ("What is the last digit of 7 + 3 + 2 + 5?",
 * rationale "7 + 3 = 10. 0 + 2 = 2. 2 + 5 = 7. The answer is 7."), is served
 * through the app's own OpenAI-compatible endpoint (real HTTP on 127.0.0.1,
 * the server's token as the API key) and teaches; a generation job with
 * D = 2 at T = 0.7 is stopped midway and resumed (nothing duplicated or
 * lost); a student trained by Fine-tune-CoT on the kept rationales is
 * compared with a vanilla student of the same shape and budget on held-out
 * questions. The task is one where rationales help: each step is a lookup the
 * rationale spells out, while the answer alone depends on all four digits at
 * once, so a vanilla student of a few hundred questions stays near chance
 * (10%). About 80 s of CPU (the whole file under /usr/bin/time: 79 s user).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FtCotGeneration } from '../../src-main/contract/areas/finetune.ts';
import type { Dataset, Run } from '../../src-main/contract/entities.ts';
import { openAiEndpoints } from '../../src-main/server/openai.ts';
import { startServer, type RunningServer } from '../../src-main/server/server.ts';
import { openLab, type Lab } from '../../src-main/services/lab.ts';

let dir: string;
let lab: Lab;
let server: RunningServer;

const KEY_VAR = 'STEPWISE_FTCOT_TEST_KEY';
/** The generated task: the last digit of a sum of four single digits. */
const TASK = { kind: 'arithmetic', size: 1, terms: 4, lastDigit: true };
/** Training questions the teacher is asked about (D = 2 samples each). */
const QUESTIONS = 400;

async function call<T>(name: string, input: unknown): Promise<T> {
  const r = await lab.dispatch(name, input);
  if (!r.ok) throw new Error(r.error.message);
  return r.result as T;
}

async function train(name: string, config: Record<string, unknown>): Promise<{ run: Run; steps: number; accuracy: number | null }> {
  const run = await call<Run>('runs.start', { method: 'fine-tune-cot', name, config });
  const end = await lab.training.whenDone(run.id)!;
  expect(end.run.status, end.run.error ?? '').toBe('completed');
  const steps = lab.store.metrics.series(run.id, { keys: ['loss'] })[0]?.steps.length ?? 0;
  return { run: end.run, steps, accuracy: end.outcome?.test?.accuracy ?? null };
}

const student = (data: Dataset, format: 'ft-cot' | 'vanilla' | 'zero-shot-cot', epochs: number, extra: Record<string, unknown> = {}) => ({
  format,
  answerType: 'number',
  task: 'last digit',
  model: { kind: 'fresh', layers: 2, dim: 64, heads: 4, seed: 0 },
  data: { train: `${data.path}/train.jsonl`, ...(data.splitCounts.test ? { test: `${data.path}/test.jsonl` } : {}) },
  train: { epochs, batchSize: 16, lr: 3e-3, warmupSteps: 30, schedule: 'cosine', seed: 0 },
  eval: { batchSize: 100 },
  runtime: { threads: 2 },
  ...extra,
});

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-ftcot-'));
  lab = openLab(path.join(dir, 'data'));
  const staticDir = path.join(dir, 'static');
  fs.mkdirSync(staticDir);
  fs.writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>t</title>');
  server = await startServer({ dispatch: lab.dispatch, events: lab.events, staticDir, openai: openAiEndpoints(lab) });
  process.env[KEY_VAR] = server.token;
});

afterAll(async () => {
  await server?.close();
  lab?.close();
  delete process.env[KEY_VAR];
});

describe('Fine-tune-CoT with a lab teacher served over the OpenAI-compatible API', () => {
  test('the teacher teaches over HTTP; D = 2, T = 0.7 generation stores, filters and resumes; the Fine-tune-CoT student beats vanilla', async () => {
    // 1. A teacher: explicit CoT in the Zero-shot-CoT protocol, 750 steps on 4000 questions.
    const teacherData = await call<Dataset>('finetune.generateTask', { ...TASK, counts: { train: 4000, test: 0 }, seed: 1, name: 'teacher data' });
    const teacher = await train('teacher', student(teacherData, 'zero-shot-cot', 3));
    const model = lab.store.models.list(10, 0).items.find((m) => m.runId === teacher.run.id)!;
    expect(model).toBeDefined();

    // 2. It answers over /v1, with the server's token and only with it.
    const base = `http://127.0.0.1:${server.port}/v1`;
    expect((await fetch(`${base}/models`)).status).toBe(401);
    const listed = (await (await fetch(`${base}/models`, { headers: { authorization: `Bearer ${server.token}` } })).json()) as { data: { id: string }[] };
    expect(listed.data.map((m) => m.id)).toContain(String(model.id));
    const completion = (await (
      await fetch(`${base}/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: String(model.id), prompt: "Q: What is the last digit of 8 + 4 + 9 + 6?\nA: Let's think step by step.", max_tokens: 40, temperature: 0, stop: ['\nTherefore'] }),
      })
    ).json()) as { choices: { text: string; finish_reason: string }[]; usage: { prompt_tokens: number; completion_tokens: number } };
    expect(completion.choices[0].finish_reason).toBe('stop');
    expect(completion.choices[0].text).toMatch(/^ 8 \+ 4 = 12\. \d \+ 9 = \d+\. \d \+ 6 = \d+\. The answer is \d\.$/); // its CoT, stopped before "Therefore"
    expect(completion.usage.completion_tokens).toBeGreaterThan(3);

    // 3. Generation through that endpoint, D = 2 at T = 0.7, stopped midway and resumed.
    const task = await call<Dataset>('finetune.generateTask', { ...TASK, counts: { train: QUESTIONS, test: 200 }, seed: 2, name: 'last digit' });
    const teacherSpec = { kind: 'openai', baseUrl: base, model: String(model.id), keyName: KEY_VAR, concurrency: 4 };
    let cancelAt: Promise<unknown> | null = null;
    const off = lab.events.subscribe((event, payload) => {
      const p = payload as { generationId: number; done: number };
      if (event === 'finetune.progress' && p.done >= QUESTIONS && !cancelAt) cancelAt = lab.dispatch('finetune.cancelGeneration', { id: p.generationId });
    });
    const started = await call<FtCotGeneration>('finetune.generate', { datasetId: task.id, name: 'D=2', teacher: teacherSpec, samples: 2, temperature: 0.7, maxTokens: 40, answerMaxTokens: 6 });
    expect(started.total).toBe(2 * QUESTIONS);
    expect(JSON.stringify(started.teacher)).not.toContain(server.token);
    const stopped = await lab.finetune.whenDone(started.id)!;
    off();
    expect(stopped.status).toBe('cancelled');
    expect(stopped.done).toBeGreaterThanOrEqual(QUESTIONS);
    expect(stopped.done).toBeLessThan(2 * QUESTIONS);
    const before = (await call<{ items: { index: number; sample: number; rationale: string; kept: boolean }[] }>('finetune.rationales', { generationId: started.id, limit: 1000 })).items;
    expect(before.length).toBe(stopped.done);

    await call('finetune.resumeGeneration', { id: started.id });
    const done = await lab.finetune.whenDone(started.id)!;
    expect(done.status, done.error ?? '').toBe('completed');
    const all = (await call<{ items: { index: number; sample: number; rationale: string; kept: boolean; reason: string; temperature: number; prompt: string }[]; total: number }>('finetune.rationales', { generationId: started.id, limit: 1000 })).items;
    expect(all.length).toBe(2 * QUESTIONS); // every (question, sample) once
    expect(new Set(all.map((r) => `${r.index}/${r.sample}`)).size).toBe(2 * QUESTIONS);
    const byKey = new Map(all.map((r) => [`${r.index}/${r.sample}`, r]));
    for (const r of before) expect(byKey.get(`${r.index}/${r.sample}`)!.rationale).toBe(r.rationale); // nothing redone
    expect(all.every((r) => r.temperature === 0.7 && r.prompt.startsWith('Q: What is the last digit of ') && r.prompt.endsWith("\nA: Let's think step by step."))).toBe(true);
    expect(done.kept + done.filtered).toBe(2 * QUESTIONS);
    expect(done.kept).toBe(all.filter((r) => r.kept).length);
    expect(all.filter((r) => r.kept).every((r) => r.reason === 'kept')).toBe(true);
    expect(Object.keys(done.byReason).every((k) => ['kept', 'wrong answer', 'no answer', 'duplicate', 'empty rationale'].includes(k))).toBe(true);
    expect(done.teacherAccuracy!).toBeGreaterThan(0.8);
    expect(done.kept).toBeGreaterThan(QUESTIONS * 0.8);
    expect(done.promptTokens).toBeGreaterThan(0);
    expect(done.completionTokens).toBeGreaterThan(0);
    // A kept rationale is never a repeat of another kept one for its question.
    const keptTexts = all.filter((r) => r.kept).map((r) => `${r.index}|${r.rationale}`);
    expect(new Set(keptTexts).size).toBe(keptTexts.length);
    const kept = lab.store.datasets.get(done.outputDatasetId!)!;
    expect(kept.splitCounts).toEqual({ train: done.kept, test: 200 });

    // 4. Students of the same shape and the same number of steps: Fine-tune-CoT on the kept rationales, vanilla on the answers.
    const stepsWanted = 400;
    const epochsFor = (examples: number) => Math.max(1, Math.round(stepsWanted / Math.floor(examples / 16)));
    const ftcot = await train('ft-cot', student(kept, 'ft-cot', epochsFor(done.kept), { rationales: { generationId: started.id, samples: 2 } }));
    const vanilla = await train('vanilla', student(task, 'vanilla', epochsFor(QUESTIONS)));
    console.log(`teacher accuracy (train questions, T = 0.7) ${done.teacherAccuracy}; kept ${done.kept}/${2 * QUESTIONS} ${JSON.stringify(done.byReason)}; Fine-tune-CoT ${ftcot.accuracy} in ${ftcot.steps} steps; vanilla ${vanilla.accuracy} in ${vanilla.steps} steps`);
    expect(Math.abs(ftcot.steps - vanilla.steps) / stepsWanted).toBeLessThan(0.15);
    expect(ftcot.accuracy!).toBeGreaterThanOrEqual(0.6);
    expect(vanilla.accuracy!).toBeLessThan(0.3);
    expect(ftcot.accuracy! - vanilla.accuracy!).toBeGreaterThan(0.4);

    const results = await call<{ rows: { task: string; vanilla: { accuracy: number } | null; diverse: { accuracy: number; samples: number } | null }[] }>('finetune.results', {});
    const row = results.rows.find((r) => r.task === 'last digit')!;
    expect(row.vanilla!.accuracy).toBeCloseTo(vanilla.accuracy!, 10);
    expect(row.diverse).toMatchObject({ samples: 2 });
    expect(row.diverse!.accuracy).toBeCloseTo(ftcot.accuracy!, 10);
  }, 1_800_000);
});
