// Get started, in Chromium through `stepwise serve`, from an empty data
// folder: the empty Library leads there; "Generate the data" makes the 2×2
// proof's dataset; "Run all three steps" trains with the chain of thought and
// then removes it from that model, as the shipped presets say, and the model
// lands in the Library. To keep the suite quick, the training steps run on a
// small dataset of the same name (64 problems) put in place of the real one.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Dataset, Model, Run } from '../../src-main/contract/entities.ts';
import { callApi, eventually, screenshotPath, startApp, type Server } from './harness.ts';

let server: Server;
let page: Page;
let stop: () => Promise<void>;

beforeAll(async () => {
  ({ server, page, stop } = await startApp());
}, 90_000);

afterAll(() => stop?.());

const NAME = '2×2 multiplication (first run)';
const step = (n: number) => page.getByRole('listitem', { name: new RegExp(`^Step ${n}:`) });

describe('Get started', () => {
  test('the empty Library leads to it, and its first step makes the proof\'s 2×2 data', async () => {
    await page.getByRole('link', { name: 'Get started' }).first().click();
    await eventually(() => page.locator('h1').textContent()).toBe('Get started');
    expect(await step(2).getByRole('button', { name: 'Train it' }).isDisabled()).toBe(true);
    await step(1).getByRole('button', { name: 'Generate the data' }).click();
    await eventually(() => page.getByTestId('step-1-state').textContent()).toContain(NAME);
    const [made] = (await callApi<{ items: Dataset[] }>(server, 'datasets.list', {})).items;
    expect([made!.name, made!.splitCounts]).toEqual([NAME, { train: 7000, valid: 200, test: 200 }]);
    expect(await step(2).getByRole('button', { name: 'Train it' }).isEnabled()).toBe(true);
  });

  test('"Run all three steps" trains with the chain of thought, then removes it from that model; the model joins the Library', async () => {
    // The same steps on 64 problems instead of 7,000.
    const [made] = (await callApi<{ items: Dataset[] }>(server, 'datasets.list', {})).items;
    await callApi(server, 'datasets.delete', { id: made!.id });
    await callApi(server, 'datasets.generateMult', { digitsA: 2, digitsB: 2, counts: { train: 64, valid: 8, test: 8 }, seed: 7, name: NAME });
    await page.reload();
    await eventually(() => page.getByTestId('step-1-state').textContent()).toContain(NAME);

    await page.getByRole('button', { name: 'Run all three steps' }).click();
    await expect.poll(() => step(2).locator('.badge').textContent(), { timeout: 120_000 }).toBe('completed');
    await expect.poll(() => step(3).locator('.badge').textContent(), { timeout: 240_000 }).toBe('completed');
    await eventually(async () => ((await page.getByTestId('first-run-result').textContent()) ?? '').replace(/\s+/g, ' ').trim()).toMatch(
      /^It answers \d+\.\d% of the test problems with no chain of thought\. Your model is in the Library as “First run: 2×2, chain of thought removed \(best\)”/,
    );
    await page.screenshot({ path: screenshotPath('get-started-done') });

    const runs = (await callApi<{ items: Run[] }>(server, 'runs.list', { tag: 'first run' })).items;
    const [silent, cot] = runs;
    expect(runs.map((r) => [r.name, r.status, r.tags])).toEqual([
      ['First run: 2×2, chain of thought removed', 'completed', ['first run']],
      ['First run: 2×2 with its chain of thought', 'completed', ['first run']],
    ]);
    const models = (await callApi<{ items: Model[] }>(server, 'models.list', {})).items;
    const cotModel = models.find((m) => m.runId === cot!.id)!;
    expect(silent!.parentRunId).toBe(cot!.id);
    expect((silent!.config as { model: unknown }).model).toEqual({ kind: 'folder', path: cotModel.path });
    expect((cot!.config as { recipe: string; train: { epochs: number } })).toMatchObject({ recipe: 'cot', train: { epochs: 8 } });
    expect((silent!.config as { recipe: string; train: { epochs: number } })).toMatchObject({ recipe: 'icot-si', train: { epochs: 76 } });
    expect(models.some((m) => m.runId === silent!.id)).toBe(true);
    expect(await page.getByRole('button', { name: 'Run all three steps' }).isDisabled()).toBe(true);
  });
});
