// The Fine-tune-CoT page in Chromium through `stepwise serve`, against a real
// HTTP teacher on 127.0.0.1 (a small OpenAI-compatible adder in this process,
// its key in the environment the server was started with): the connection
// check reports the teacher's answer (and a wrong key's refusal), a D = 2 job
// started from the page shows its progress while the teacher is held midway,
// is stopped and resumed from its buttons, the rationale browser lists kept
// and filtered samples with their reasons, and the results table puts the
// stored accuracies beside the paper's. Student rows are written straight
// into the store (their training is teaching.test.ts's).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import type { JsonValue } from '../../src-main/contract/entities.ts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DATABASE_FILE } from '../../src-main/services/paths.ts';
import { openStore } from '../../src-main/store/store.ts';
import { assertRendererBuilt, callApi, launchBrowser, screenshotPath, startServer, type Browser, type Server } from '../browser/harness.ts';

const KEY_VAR = 'STEPWISE_FTCOT_PAGE_KEY';
const SHARED_COIN_FLIP = fileURLToPath(new URL('../../../shared/data/fine-tune-cot/tasks/coin_flip.jsonl', import.meta.url));
const KEY = 'sk-page-test-0123456789abcdef';

let server: Server;
let browser: Browser;
let page: Page;
let teacher: http.Server;
let teacherUrl: string;
/** Stage-2 answers given; past `holdAfter` they wait until released. */
let answered = 0;
let holdAfter = Infinity;
let release: () => void = () => {};
let held = new Promise<void>((resolve) => (release = resolve));

beforeAll(async () => {
  assertRendererBuilt();
  // The adder: right except on questions whose first number is 0 (wrong answer, filtered);
  // at T > 0 its two samples differ only when the numbers do (else the second is a duplicate).
  teacher = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', async () => {
      res.setHeader('content-type', 'application/json');
      if (req.headers.authorization !== `Bearer ${KEY}`) {
        res.statusCode = 401;
        res.end(JSON.stringify({ error: { message: 'Incorrect API key provided' } }));
        return;
      }
      const { prompt } = JSON.parse(body) as { prompt: string };
      const [, a, b] = /What is (\d+) \+ (\d+)\?/.exec(prompt) ?? ['', '2', '3'];
      const sum = Number(a) + Number(b);
      let text: string;
      if (/Therefore/.test(prompt)) {
        if (++answered > holdAfter) await held;
        text = ` ${a === '0' ? sum + 1 : sum}.`;
      } else {
        text = ` ${a} + ${b} = ${sum}.`;
      }
      res.end(JSON.stringify({ choices: [{ text, finish_reason: 'stop', index: 0 }], usage: { prompt_tokens: 11, completion_tokens: 6 } }));
    });
  });
  await new Promise<void>((resolve) => teacher.listen(0, '127.0.0.1', resolve));
  teacherUrl = `http://127.0.0.1:${(teacher.address() as AddressInfo).port}/v1`;
  process.env[KEY_VAR] = KEY;
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
}, 90_000);

afterAll(async () => {
  release();
  delete process.env[KEY_VAR];
  await browser?.close();
  await server?.stop();
  if (teacher) {
    teacher.closeAllConnections();
    await new Promise((resolve) => teacher.close(resolve));
  }
});

const call = <T>(name: string, input: unknown) => callApi<T>(server, name, input);

describe('the Fine-tune-CoT page', () => {
  test('teacher check, a live D = 2 job stopped and resumed, the rationale browser and the results table', async () => {
    const task = await call<{ id: number }>('finetune.generateTask', { kind: 'arithmetic', counts: { train: 8, test: 4 }, seed: 11, size: 1, name: 'adding' });
    await page.goto(`${server.url}#/finetune-cot`);
    await page.getByRole('heading', { name: 'Fine-tune-CoT' }).waitFor();

    // The connection check: the teacher's answer, latency and tokens; a wrong key's refusal.
    await page.fill('#ftcot-base-url', teacherUrl);
    await page.fill('#ftcot-model', 'adder');
    await page.fill('#ftcot-key-name', 'STEPWISE_UNSET_API_KEY');
    await page.getByRole('button', { name: 'Test connection' }).click();
    await page.getByText(/no key named STEPWISE_UNSET_API_KEY/).waitFor();
    await page.fill('#ftcot-key-name', KEY_VAR);
    await page.getByRole('button', { name: 'Test connection' }).click();
    const tested = page.getByTestId('ftcot-tested');
    await tested.waitFor();
    expect(await tested.innerText()).toMatch(/^Connected to .*127\.0\.0\.1.*: \d+ ms, 11 prompt \+ 6 completion tokens\. .?2 \+ 3 = 5\..?$/);

    // A D = 2 job on the 8 training questions; the teacher holds after 5 answers.
    holdAfter = 5;
    await page.selectOption('#ftcot-task', String(task.id));
    await page.fill('#ftcot-samples-d', '2');
    expect(await page.inputValue('#ftcot-temperature')).toBe('0.7');
    await page.fill('#ftcot-concurrency', '1');
    await page.fill('#ftcot-job-name', 'adder D=2');
    await page.getByRole('button', { name: 'Generate' }).click();
    const row = page.locator('table.jobs tr[data-job="1"]');
    await row.locator('td[data-cell="done"]', { hasText: '5 / 16' }).waitFor();
    expect(await row.locator('.badge').innerText()).toBe('running');
    expect(Number(await row.locator('td[data-cell="kept"]').innerText()) + Number(await row.locator('td[data-cell="filtered"]').innerText())).toBe(5);
    expect(await row.locator('td[data-cell="tokens"]').innerText()).not.toBe('0');
    await page.locator('section[aria-labelledby="ftcot-jobs-title"]').screenshot({ path: screenshotPath('ftcot-job-running') });

    await row.getByRole('button', { name: 'Stop' }).click();
    release();
    await row.locator('.badge', { hasText: 'cancelled' }).waitFor();
    holdAfter = Infinity;
    held = new Promise<void>((resolve) => (release = resolve));
    await row.getByRole('button', { name: 'Resume' }).click();
    await row.locator('.badge', { hasText: 'completed' }).waitFor();
    await row.locator('td[data-cell="done"]', { hasText: '16 / 16' }).waitFor();
    const job = await call<{ kept: number; filtered: number; byReason: Record<string, number>; promptTokens: number; completionTokens: number }>('finetune.generation', { id: 1 });
    expect(job.kept + job.filtered).toBe(16);
    expect(await row.locator('td[data-cell="kept"]').innerText()).toBe(String(job.kept));
    expect(await row.locator('td[data-cell="filtered"]').innerText()).toBe(String(job.filtered));
    expect(await row.locator('td[data-cell="tokens"]').innerText()).toBe((job.promptTokens + job.completionTokens).toLocaleString('en'));
    // Greedy-identical samples at T = 0.7: each question's second sample is a duplicate of its first.
    expect(job.byReason.duplicate).toBeGreaterThan(0);

    // The rationale browser: all 16, then only the filtered, each with its reason.
    const count = page.getByTestId('ftcot-rationale-count');
    await count.filter({ hasText: '16 samples' }).waitFor();
    expect(await page.locator('table.rationales tbody tr').count()).toBe(16);
    await page.getByRole('radio', { name: 'filtered' }).check();
    await count.filter({ hasText: `${job.filtered} samples` }).waitFor();
    const reasons = (await page.locator('table.rationales td[data-cell="reason"]').allInnerTexts()).map((t) => t.trim());
    expect(reasons.length).toBe(job.filtered);
    expect(new Set(reasons)).toEqual(new Set(Object.keys(job.byReason).filter((r) => r !== 'kept')));
    await page.locator('table.rationales td.rationale button').first().click();
    expect(await page.locator('dl.provenance').first().innerText()).toContain("Let's think step by step.");
    await page.locator('section[aria-labelledby="ftcot-rationales-title"]').screenshot({ path: screenshotPath('ftcot-rationales') });

    // The results table: the teacher on the test split (from the page's job) and students from the store, beside the paper.
    const onTest = await call<{ id: number }>('finetune.generate', { datasetId: task.id, split: 'test', name: 'adder test', teacher: { kind: 'openai', baseUrl: teacherUrl, model: 'adder', keyName: KEY_VAR }, samples: 1 });
    let teacherOnTest = { status: 'running', teacherAccuracy: 0 };
    while (teacherOnTest.status === 'running') {
      await new Promise((r) => setTimeout(r, 50));
      teacherOnTest = await call<typeof teacherOnTest>('finetune.generation', { id: onTest.id });
    }
    expect(teacherOnTest.status).toBe('completed');
    const store = openStore(join(server.dataDir, DATABASE_FILE));
    try {
      const runs: { correct: number[]; [key: string]: JsonValue }[] = [
        { format: 'vanilla', task: 'coin_flip', answerType: 'yes-no', correct: [1, 0, 1, 0, 0] },
        { format: 'ft-cot', task: 'coin_flip', answerType: 'yes-no', correct: [1, 1, 1, 0, 1] },
        { format: 'ft-cot', task: 'coin_flip', answerType: 'yes-no', rationales: { samples: 4 }, correct: [1, 1, 1, 1, 0] },
      ];
      for (const [i, r] of runs.entries()) {
        const { correct, ...config } = r;
        const run = store.runs.create({ method: 'fine-tune-cot', name: `student ${i + 1}`, config: { ...config, model: { kind: 'fresh' }, data: { train: 't.jsonl' }, train: { epochs: 1 } } });
        store.predictions.record(run.id, 'test', 10, correct.map((c, index) => ({ index, input: `q${index}`, target: 'yes', generated: '', answer: c ? 'yes' : 'no', correct: c === 1, cotTokens: 0 })));
        store.runs.setStatus(run.id, 'completed');
      }
    } finally {
      store.close();
    }
    await page.reload();
    const coin = page.locator('table.results tr[data-task="coin_flip"]');
    await coin.waitFor();
    expect((await coin.locator('td').allInnerTexts()).map((t) => t.trim())).toEqual(['—', '40.00', '80.00', '80.00 D=4', '91.40', '60.00', '77.33']);
    const adding = page.locator('table.results tr[data-task="arithmetic"]');
    expect((await adding.locator('td').allInnerTexts()).map((t) => t.trim())).toEqual([(100 * teacherOnTest.teacherAccuracy).toFixed(2), '—', '—', '—', '—', '—', '—']);
    await page.locator('section[aria-labelledby="ftcot-results-title"]').screenshot({ path: screenshotPath('ftcot-results') });
    await page.locator('form.teacher').screenshot({ path: screenshotPath('ftcot-teacher') });

    // Students from the New run form: Fine-tune-CoT on the paper's coin_flip, its answer type read from the task's name.
    const coinTask = await call<{ id: number; path: string }>('finetune.importTask', { path: SHARED_COIN_FLIP, name: 'coin_flip' });
    await page.goto(`${server.url}#/runs`);
    await page.getByRole('button', { name: 'New run' }).click();
    const dialog = page.getByRole('dialog', { name: 'New run' });
    await dialog.waitFor();
    await dialog.getByRole('radio', { name: /^Fine-tune-CoT/ }).check();
    await dialog.getByLabel('Dataset').selectOption(String(coinTask.id));
    await dialog.locator('#nr-name').fill('coin flip student');
    expect(await dialog.locator('#ftcot-answer-type').inputValue()).toBe('yes-no');
    await dialog.locator('#ftcot-samples').fill('1');
    await dialog.locator('form').screenshot({ path: screenshotPath('ftcot-new-run') });
    await dialog.getByRole('button', { name: 'Create', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    const created = (await call<{ items: { name: string; method: string; config: Record<string, unknown> }[] }>('runs.list', { method: 'fine-tune-cot' })).items.find((r) => r.name === 'coin flip student')!;
    expect(created.config).toMatchObject({
      method: 'fine-tune-cot', format: 'ft-cot', answerType: 'yes-no', task: 'coin_flip', rationales: { samples: 1 },
      data: { train: `${coinTask.path}/train.jsonl`, test: `${coinTask.path}/test.jsonl` },
    });
  }, 120_000);
});
