/**
 * Every method end to end in the app, from an empty data folder, through the UI only (callApi
 * only reads state for the assertions): a Fine-tune-CoT task imported (the paper's coin_flip, its
 * splits and rationales) and one generated; a real OpenAI-compatible teacher on 127.0.0.1 set up on
 * the page generates rationales; a student trains on them from New run; the reference GPT-2 is
 * imported through the Library (weights alone: a run on it is refused, naming it), and LoRA and
 * Bitune train tiny new models on an imported instruct dataset (its test split added to it by a
 * second import) and on the Fine-tune-CoT task; ICoT-SI goes on from the student's model on its
 * own rationales in ICoT's format. Every run ends completed with its test results.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Dataset, Model, Run } from '../../src-main/contract/entities.ts';
import { writeLateTask } from '../bitune/late-task.ts';
import { callApi, eventually, freshDir, screenshotPath, startApp, type Browser, type Server } from './harness.ts';

const COIN_FLIP = new URL('../../../shared/data/fine-tune-cot/tasks/coin_flip.jsonl', import.meta.url).pathname;
const GPT2_TINY = new URL('../../../shared/reference/gpt2-tiny', import.meta.url).pathname;
const KEY_VAR = 'STEPWISE_EVERY_METHOD_KEY';
const KEY = 'sk-every-method-0123456789';

let server: Server;
let browser: Browser;
let page: Page;
let stop: () => Promise<void>;
let teacher: http.Server;
let teacherUrl: string;
let files: string;
/** The teacher's rationale for each question it was asked about (the ICoT lines reuse them). */
const rationales = new Map<string, { rationale: string; answer: string }>();

/** A coin-flip teacher that counts the flips: right on every question. */
function coinTeacher(prompt: string): string {
  const question = /Q: (A coin is heads up\..*?Is the coin still heads up\?[^\n]*)/s.exec(prompt)?.[1] ?? '';
  const flips = (question.match(/ flips the coin\./g) ?? []).length;
  const answer = flips % 2 === 0 ? 'yes' : 'no';
  const rationale = `The coin was flipped ${flips} times, so the answer is ${answer}.`;
  if (question) rationales.set(question, { rationale, answer }); // not the connection check's question
  return /Therefore/.test(prompt) ? ` ${answer === 'yes' ? 'Yes' : 'No'}.` : ` ${rationale}`;
}

beforeAll(async () => {
  teacher = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.headers.authorization !== `Bearer ${KEY}`) {
        res.statusCode = 401;
        res.end(JSON.stringify({ error: { message: 'Incorrect API key provided' } }));
        return;
      }
      const { prompt } = JSON.parse(body) as { prompt: string };
      res.end(JSON.stringify({ choices: [{ text: coinTeacher(prompt), finish_reason: 'stop', index: 0 }], usage: { prompt_tokens: 40, completion_tokens: 12 } }));
    });
  });
  await new Promise<void>((resolve) => teacher.listen(0, '127.0.0.1', resolve));
  teacherUrl = `http://127.0.0.1:${(teacher.address() as AddressInfo).port}/v1`;
  files = freshDir('every-method');
  ({ server, browser, page, stop } = await startApp(undefined, { [KEY_VAR]: KEY }));
}, 90_000);

afterAll(async () => {
  await stop?.();
  if (teacher) {
    teacher.closeAllConnections();
    await new Promise((resolve) => teacher.close(resolve));
  }
  if (files) fs.rmSync(files, { recursive: true, force: true });
});

const read = <T>(name: string, input: unknown = {}) => callApi<T>(server, name, input);
const datasets = async () => (await read<{ items: Dataset[] }>('datasets.list', { limit: 500, offset: 0 })).items;
const models = async () => (await read<{ items: Model[] }>('models.list', { limit: 500, offset: 0 })).items;

/** New run → the method → name, dataset, model, tiny shape → Create and start; waits for the run page to say completed. */
async function newRun(o: { method: RegExp; name: string; dataset: number; model?: number; fresh?: { layers: number; dim: number; heads: number }; epochs: number; batch: number; lr?: string; shot: string; refusal?: boolean }): Promise<Run | null> {
  await page.goto(`${server.url}#/runs`);
  await page.getByRole('button', { name: 'New run' }).first().click();
  const dialog = page.getByRole('dialog', { name: 'New run' });
  await dialog.waitFor();
  await dialog.getByRole('radio', { name: o.method }).check();
  await dialog.locator('#nr-name').fill(o.name);
  await dialog.locator('#nr-dataset').selectOption(String(o.dataset));
  await dialog.locator('#nr-model').selectOption(o.model === undefined ? '' : String(o.model));
  if (o.fresh) {
    await dialog.locator('#nr-layers').fill(String(o.fresh.layers));
    await dialog.locator('#nr-dim').fill(String(o.fresh.dim));
    await dialog.locator('#nr-heads').fill(String(o.fresh.heads));
  }
  await dialog.locator('#nr-epochs').fill(String(o.epochs));
  await dialog.locator('#nr-batch').fill(String(o.batch));
  if (o.lr) await dialog.locator('#nr-lr').fill(o.lr);
  await dialog.locator('form').screenshot({ path: screenshotPath(`every-method-${o.shot}-form`) });
  await dialog.getByRole('button', { name: 'Create and start' }).click();
  if (o.refusal) {
    await dialog.getByRole('alert').waitFor({ timeout: 60_000 });
    expect(await dialog.getByRole('alert').innerText()).toMatch(/the run cannot start: the Library model “gpt2-tiny” \(models\/\d+\) has no tokenizer: expected stepwise-tokenizer\.json, tokenizer\.json, or vocab\.json with merges\.txt/);
    await dialog.screenshot({ path: screenshotPath(`every-method-${o.shot}`) });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    return null;
  }
  // Closed, or refused with the form's error (shown in the failure).
  await eventually(async () => (await dialog.isVisible()) ? ((await dialog.getByRole('alert').allInnerTexts()).join(' ') || 'open') : 'closed', 60_000).toBe('closed');
  await eventually(() => page.locator('h1').textContent()).toBe(o.name);
  await expect.poll(() => page.locator('.facts .badge').textContent(), { timeout: 180_000, interval: 200 }).toBe('completed');
  await page.screenshot({ path: screenshotPath(`every-method-${o.shot}-run`), fullPage: true });
  const run = (await read<{ items: Run[] }>('runs.list', { limit: 50 })).items.find((r) => r.name === o.name)!;
  expect(run.status).toBe('completed');
  return run;
}

/** Datasets → Import file…: a file as a split of a new dataset, or of one already there. */
async function importFile(file: string, split: 'train' | 'valid' | 'test', into: { name: string } | { dataset: number }): Promise<void> {
  await page.goto(`${server.url}#/datasets`);
  await page.getByRole('button', { name: 'Import file…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Import a file' });
  await dialog.waitFor();
  await dialog.getByLabel(/^File/).fill(file);
  if ('dataset' in into) {
    await eventually(() => dialog.getByLabel('Into', { exact: true }).locator(`option[value="${into.dataset}"]`).count()).toBe(1);
    await dialog.getByLabel('Into', { exact: true }).selectOption(String(into.dataset));
  } else {
    await dialog.getByLabel('Name').fill(into.name);
  }
  await dialog.getByLabel(/^Split/).selectOption(split);
  await dialog.getByRole('button', { name: 'Import', exact: true }).click();
  await eventually(async () => (await dialog.isVisible()) ? ((await dialog.getByRole('alert').allInnerTexts()).join(' ') || 'open') : 'closed').toBe('closed');
}

describe('every method from an empty data folder, through the UI', () => {
  test('Fine-tune-CoT (task, teacher, rationales, student), LoRA, Bitune and ICoT-SI from the student', async () => {
    expect(await datasets()).toEqual([]);
    expect(await models()).toEqual([]);

    // 1. Fine-tune-CoT tasks: the paper's coin_flip imported (splits and rationales kept), and a small one generated.
    // An empty Datasets page says where the paper's task files go.
    await page.goto(`${server.url}#/datasets`);
    await page.getByText('No datasets yet').waitFor();
    expect(await page.locator('p', { hasText: 'Import file' }).innerText()).toContain('The paper’s Fine-tune-CoT tasks, with their splits and teacher rationales, import on the Fine-tune-CoT page.');
    await page.getByRole('link', { name: 'Fine-tune-CoT', exact: true }).last().click();
    await page.getByRole('heading', { name: 'Fine-tune-CoT', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'import a task file' }).click();
    const taskDialog = page.getByRole('dialog', { name: 'New Fine-tune-CoT task' });
    await taskDialog.getByLabel(/^File/).fill(COIN_FLIP);
    await taskDialog.getByRole('button', { name: 'Import', exact: true }).click();
    await taskDialog.waitFor({ state: 'hidden' });
    const paper = (await datasets()).find((d) => d.name === 'coin_flip')!;
    expect(paper.kind).toBe('fine-tune-cot');
    const lines = fs.readFileSync(COIN_FLIP, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { split: string; teacher?: { rationale?: string } });
    expect(paper.splitCounts).toMatchObject({ train: lines.filter((l) => l.split === 'train').length, test: lines.filter((l) => l.split === 'test').length });
    const stored = fs.readFileSync(path.join(server.dataDir, paper.path, 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { rationale?: string });
    expect(stored.filter((e) => typeof e.rationale === 'string' && e.rationale.length > 0).length).toBe(lines.filter((l) => l.split === 'train' && l.teacher?.rationale).length);

    await page.getByRole('button', { name: 'New task…' }).click();
    await taskDialog.getByRole('radio', { name: 'Generate one' }).check();
    await taskDialog.getByLabel(/^Task/).selectOption('coin-flip');
    await taskDialog.getByLabel('Train questions').fill('12');
    await taskDialog.getByLabel('Test questions').fill('4');
    await taskDialog.getByLabel('Name').fill('coins');
    await taskDialog.locator('form').screenshot({ path: screenshotPath('every-method-task-dialog') });
    await taskDialog.getByRole('button', { name: 'Generate', exact: true }).click();
    await taskDialog.waitFor({ state: 'hidden' });
    const coins = (await datasets()).find((d) => d.name === 'coins')!;
    expect(coins.splitCounts).toMatchObject({ train: 12, test: 4 });

    // 2. The endpoint teacher, its key in the server's environment; rationales for 8 questions.
    await page.fill('#ftcot-base-url', teacherUrl);
    await page.fill('#ftcot-model', 'coin-counter');
    await page.fill('#ftcot-key-name', KEY_VAR);
    await page.getByRole('button', { name: 'Test connection' }).click();
    await page.getByTestId('ftcot-tested').waitFor();
    expect(await page.getByTestId('ftcot-tested').innerText()).toMatch(/^Connected to .*127\.0\.0\.1/);
    await page.selectOption('#ftcot-task', String(coins.id));
    await page.fill('#ftcot-samples-d', '1');
    await page.fill('#ftcot-limit', '8');
    await page.fill('#ftcot-job-name', 'coins teacher');
    await page.locator('form.teacher').screenshot({ path: screenshotPath('every-method-teacher') });
    await page.getByRole('button', { name: 'Generate', exact: true }).click();
    const row = page.locator('table.jobs tr', { hasText: 'coins teacher' });
    await row.locator('.badge', { hasText: 'completed' }).waitFor({ timeout: 60_000 });
    expect(await row.locator('td[data-cell="done"]').innerText()).toBe('8 / 8');
    expect(await row.locator('td[data-cell="kept"]').innerText()).toBe('8');
    await page.getByTestId('ftcot-rationale-count').filter({ hasText: '8 samples' }).waitFor();
    expect(await page.locator('table.rationales tbody tr').count()).toBe(8);
    const reasons = (await page.locator('table.rationales td[data-cell="reason"]').allInnerTexts()).map((t) => t.trim());
    expect(reasons).toEqual(Array(8).fill('kept'));
    await page.locator('section[aria-labelledby="ftcot-rationales-title"]').screenshot({ path: screenshotPath('every-method-rationales') });
    const job = (await read<{ items: { id: number; name: string }[] }>('finetune.generations', {})).items.find((g) => g.name === 'coins teacher')!;
    const generated = await read<{ outputDatasetId: number | null; kept: number }>('finetune.generation', { id: job.id });
    expect(generated.kept).toBe(8);
    expect(generated.outputDatasetId).not.toBeNull();
    // The job's row names the dataset its kept rationales became, as New run lists it.
    const rationaleSet = (await datasets()).find((d) => d.id === generated.outputDatasetId)!;
    expect(rationaleSet.splitCounts).toMatchObject({ train: 8, test: 4 });
    expect(fs.readFileSync(path.join(server.dataDir, rationaleSet.path, 'train.jsonl'), 'utf8')).toContain('The coin was flipped');
    await eventually(() => page.locator(`table.jobs tr[data-made="${job.id}"]`).innerText()).toBe(`Kept rationales → dataset “${rationaleSet.name}”: train a student on it from Runs → New run (Fine-tune-CoT).`);
    await page.locator('section[aria-labelledby="ftcot-jobs-title"]').screenshot({ path: screenshotPath('every-method-jobs') });

    // 3. A student on the teacher's rationales, from New run.
    const student = (await newRun({ method: /^Fine-tune-CoT/, name: 'coins student', dataset: generated.outputDatasetId!, fresh: { layers: 1, dim: 16, heads: 2 }, epochs: 2, batch: 4, lr: '0.01', shot: 'student' }))!;
    const studentPredictions = await read<{ total: number; items: unknown[] }>('runs.predictions', { runId: student.id, split: 'test' });
    expect(studentPredictions.total).toBe(4);
    await page.goto(`${server.url}#/finetune-cot`);
    const coinsRow = page.locator('table.results tr[data-task="coin-flip"]');
    await coinsRow.waitFor();
    const cells = (await coinsRow.locator('td').allInnerTexts()).map((t) => t.trim());
    // The student on the teacher's rationales is filed under the task the job read (the generated coin-flip), not the long name of the rationales dataset.
    expect(cells[2]).toMatch(/^\d+\.\d\d$/); // the Fine-tune-CoT column: the student's test accuracy
    expect(student.config).toMatchObject({ task: 'coin-flip', data: { train: `${rationaleSet.path}/train.jsonl` } });
    await page.locator('section[aria-labelledby="ftcot-results-title"]').screenshot({ path: screenshotPath('every-method-ftcot-results') });

    // 4. LoRA and Bitune on an imported GPT-2 and an imported instruct dataset (train, then its test split added).
    await page.goto(`${server.url}#/library`);
    await page.getByRole('button', { name: 'Import model…' }).first().click();
    const modelDialog = page.getByRole('dialog', { name: 'Import a model' });
    await modelDialog.locator('input.mono').fill(GPT2_TINY);
    await modelDialog.getByRole('button', { name: 'Import', exact: true }).click();
    await modelDialog.waitFor({ state: 'hidden' });
    const base = (await models()).find((m) => m.path.includes('gpt2-tiny') || m.name.includes('gpt2-tiny'))!;
    expect(base).toBeDefined();

    const late = writeLateTask(path.join(files, 'late'), { train: 16, valid: 0, test: 4 });
    await importFile(late.train, 'train', { name: 'late task' });
    const lateId = (await datasets()).find((d) => d.name === 'late task')!.id;
    await importFile(late.test, 'test', { dataset: lateId });
    const lateSet = (await datasets()).find((d) => d.id === lateId)!;
    expect(lateSet.splitCounts).toEqual({ train: 16, test: 4 });
    await page.screenshot({ path: screenshotPath('every-method-datasets'), fullPage: true });

    // The reference GPT-2 is weights and config alone: with no tokenizer it cannot read the task, and the form says so.
    const refused = await newRun({ method: /^LoRA/, name: 'late lora on gpt2-tiny', dataset: lateId, model: base.id, epochs: 1, batch: 8, shot: 'lora-refused', refusal: true });
    expect(refused).toBeNull();
    const tiny = { layers: 1, dim: 32, heads: 2 };
    const lora = (await newRun({ method: /^LoRA/, name: 'late lora', dataset: lateId, fresh: tiny, epochs: 1, batch: 8, lr: '0.003', shot: 'lora' }))!;
    const bitune = (await newRun({ method: /^Bitune/, name: 'late bitune', dataset: lateId, fresh: tiny, epochs: 1, batch: 8, lr: '0.003', shot: 'bitune' }))!;
    // A Fine-tune-CoT task is JSONL records too: LoRA trains on it (its files named as stored, .jsonl).
    const coinsLora = (await newRun({ method: /^LoRA/, name: 'coins lora', dataset: coins.id, fresh: tiny, epochs: 1, batch: 4, lr: '0.003', shot: 'coins-lora' }))!;
    expect(coinsLora.config).toMatchObject({ data: { train: `${coins.path}/train.jsonl`, test: `${coins.path}/test.jsonl` } });
    await page.goto(`${server.url}#/bitune`);
    const results = page.locator('table.results');
    await results.first().waitFor();
    const text = await results.allInnerTexts();
    expect(text.join('\n')).toMatch(/lora/i);
    expect(text.join('\n')).toMatch(/bitune/i);
    for (const name of ['late lora', 'late bitune', 'coins lora']) {
      expect(await results.locator('tr', { hasText: name }).innerText()).toMatch(/completed[\s\S]*\d+\.\d%/); // its test accuracy
    }
    const adapterRows = (await read<{ rows: { runId: number; method: string }[] }>('adapters.results')).rows;
    expect(adapterRows.map((r) => [r.runId, r.method]).sort()).toEqual([[lora.id, 'lora'], [bitune.id, 'bitune'], [coinsLora.id, 'lora']].sort());
    await page.screenshot({ path: screenshotPath('every-method-bitune'), fullPage: true });

    // 5. ICoT-SI from the student's model, on its own rationales as ICoT lines (question||rationale #### answer).
    expect(rationales.size).toBe(8);
    const icotLines = [...rationales].map(([q, r]) => `${q}||${r.rationale} #### ${r.answer}`);
    fs.writeFileSync(path.join(files, 'icot-train.txt'), `${icotLines.slice(0, 6).join('\n')}\n`);
    fs.writeFileSync(path.join(files, 'icot-valid.txt'), `${icotLines.slice(6).join('\n')}\n`);
    await importFile(path.join(files, 'icot-train.txt'), 'train', { name: 'coins as icot' });
    const icotId = (await datasets()).find((d) => d.name === 'coins as icot')!.id;
    await importFile(path.join(files, 'icot-valid.txt'), 'valid', { dataset: icotId });
    const studentModel = (await models()).find((m) => m.runId === student.id)!;
    expect(studentModel).toBeDefined();
    const icot = (await newRun({ method: /^ICoT-SI/, name: 'coins internalized', dataset: icotId, model: studentModel.id, epochs: 1, batch: 4, shot: 'icot' }))!;
    expect(icot.parentRunId).toBe(student.id);
    expect(icot.config).toMatchObject({ recipe: 'icot-si', model: { kind: 'folder', path: studentModel.path } });
    expect(await page.locator('.facts').innerText()).toContain('continues run #' + student.id);
  }, 600_000);
});
