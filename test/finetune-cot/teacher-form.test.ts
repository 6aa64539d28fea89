// The Fine-tune-CoT teacher form in Chromium through `stepwise serve`: a task
// is made in the app (the paper's task file imported with its splits and
// teacher rationales, or a synthetic one generated), a
// library-model teacher shows the model it will use (never a blank select
// that sends model 0), and an endpoint that does not answer is said to be
// unreachable, with what to check, not "conflicts with the current state".
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Model } from '../../src-main/contract/entities.ts';
import { callApi, eventually, startApp, type Server } from '../browser/harness.ts';

const GPT2_TINY = new URL('../../../shared/reference/gpt2-tiny', import.meta.url).pathname;
const COIN_FLIP = new URL('../../../shared/data/fine-tune-cot/tasks/coin_flip.jsonl', import.meta.url).pathname;

let server: Server;
let page: Page;
let stop: () => Promise<void>;
let older: Model;
let newer: Model;

beforeAll(async () => {
  ({ server, page, stop } = await startApp(async (s) => {
    older = await callApi<Model>(s, 'models.import', { path: GPT2_TINY, name: 'older model' });
    newer = await callApi<Model>(s, 'models.import', { path: GPT2_TINY, name: 'newer model' });
  }));
}, 90_000);

afterAll(() => stop?.());

describe('the teacher form', () => {
  test('a library teacher starts with the newest model chosen, and Test connection sends that model', async () => {
    await page.goto(`${server.origin}/#/finetune-cot`);
    await page.getByRole('radiogroup', { name: 'Teacher kind' }).getByLabel('Library model').check();
    const select = page.locator('#ftcot-library-model');
    await eventually(() => select.inputValue()).toBe(String(newer.id));
    expect(await select.locator('option:checked').textContent()).toBe('newer model');
    await select.selectOption(String(older.id));
    await page.getByRole('button', { name: 'Test connection' }).click();
    // gpt2-tiny has no tokenizer, so it cannot teach: the answer names the model chosen, not "model 0".
    const alert = page.getByRole('alert');
    await eventually(() => alert.textContent()).toContain(`model ${older.id} cannot teach`);
    expect(await alert.textContent()).not.toContain('must be a positive integer');
  });

  test('an endpoint that does not answer is unreachable, with what to check', async () => {
    await page.goto(`${server.origin}/#/finetune-cot`);
    await page.getByRole('radiogroup', { name: 'Teacher kind' }).getByLabel(/endpoint/i).check();
    await page.getByLabel('Base URL').fill('http://127.0.0.1:9/v1');
    await page.getByLabel('Model', { exact: true }).fill('nobody');
    await page.getByRole('button', { name: 'Test connection' }).click();
    const alert = page.getByRole('alert');
    await eventually(() => alert.textContent(), 60_000).toContain('The service did not answer');
    expect(await alert.textContent()).toContain('Check its address, its key and the network');
    expect(await alert.textContent()).not.toContain('Conflicts with the current state');
  });

  test('a task is made in the app: the paper\'s coin_flip file keeps its splits and teacher rationales, and a generated task joins the list', async () => {
    await page.goto(`${server.origin}/#/finetune-cot`);
    await page.getByRole('button', { name: 'import a task file' }).click();
    const dialog = page.getByRole('dialog', { name: 'New Fine-tune-CoT task' });
    await dialog.getByLabel(/^File/).fill(COIN_FLIP);
    expect(await dialog.getByLabel('Name', { exact: true }).getAttribute('placeholder')).toBe('coin_flip');
    await dialog.getByRole('button', { name: 'Import', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    const task = page.locator('#ftcot-task');
    await eventually(() => task.locator('option:checked').textContent()).toBe('coin_flip');
    const imported = (await callApi<{ items: { name: string; kind: string; splitCounts: Record<string, number>; id: number }[] }>(server, 'datasets.list', {})).items.find((d) => d.name === 'coin_flip')!;
    expect(imported.kind).toBe('fine-tune-cot');
    expect(Object.keys(imported.splitCounts).sort()).toEqual(['test', 'train']);
    expect(imported.splitCounts.train + imported.splitCounts.test).toBe(500);
    const first = await callApi<{ items: { input: string; cot: string; answer: string }[] }>(server, 'datasets.examples', { id: imported.id, split: 'train', offset: 0, limit: 1 });
    expect(first.items[0]!.cot.length).toBeGreaterThan(20); // the teacher's rationale came with it

    await page.getByRole('button', { name: 'New task…' }).click();
    await dialog.getByLabel('Generate one').check();
    await dialog.getByLabel('Train questions').fill('20');
    await dialog.getByLabel('Test questions').fill('5');
    await dialog.getByRole('button', { name: 'Generate', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    await eventually(() => task.locator('option:checked').textContent()).toBe('Coin Flip');
    expect(await task.locator('option').allTextContents()).toEqual(expect.arrayContaining(['coin_flip', 'Coin Flip']));
  });

  test('before a generation job, the form says what it asks of the teacher, and a large one asks twice', async () => {
    await page.goto(`${server.origin}/#/finetune-cot`);
    const task = page.locator('#ftcot-task');
    await eventually(() => task.locator('option').count()).toBeGreaterThan(1);
    await task.selectOption({ label: 'coin_flip' });
    const coin = (await callApi<{ items: { name: string; splitCounts: Record<string, number> }[] }>(server, 'datasets.list', {})).items.find((d) => d.name === 'coin_flip')!;
    const train = coin.splitCounts.train!;
    const estimate = page.getByTestId('generation-estimate');
    const squash = async () => ((await estimate.textContent()) ?? '').replace(/\s+/g, ' ').trim();
    await page.getByLabel('Samples per question (D)').fill('8');
    await eventually(squash).toBe(`Before it starts: ${train} questions × 8 samples × 2 calls = ${(train * 16).toLocaleString('en-US')} requests to the teacher, up to ${(train * 8 * (128 + 32)).toLocaleString('en-US')} generated tokens; Test the connection to see how long.`);
    await page.locator('#ftcot-limit').fill('10');
    await eventually(squash).toContain('10 questions × 8 samples × 2 calls = 160 requests');
    // Over 2,000 requests, Generate asks again before it starts anything.
    await page.locator('#ftcot-limit').fill('');
    await page.getByLabel('Samples per question (D)').fill('64');
    await page.getByRole('button', { name: 'Generate', exact: true }).click();
    await eventually(() => page.getByRole('note').textContent()).toContain('That is a large job for the teacher');
    expect(await page.getByRole('button', { name: 'Generate anyway' }).count()).toBe(1);
    expect((await callApi<{ total: number }>(server, 'finetune.generations', {})).total).toBe(0);
  });
});

