// The Library finds models already on this machine, in Chromium through
// `stepwise serve`: a Hugging Face cache (HF_HUB_CACHE, laid out as
// huggingface_hub writes it) is listed under "On this machine" with what each
// folder is; one click imports a loadable one, which then sits in the Models
// table (fitting a 1280-pixel window) and is marked as in the Library. A
// folder of models the user adds is searched too.
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { eventually, freshDir, startApp } from './harness.ts';

const GPT2_TINY = new URL('../../../shared/reference/gpt2-tiny/', import.meta.url).pathname;

let page: Page;
let stop: () => Promise<void>;
let cache: string;
const previous = process.env.HF_HUB_CACHE;

beforeAll(async () => {
  cache = freshDir('hf-cache');
  const snapshot = path.join(cache, 'models--sshleifer--tiny-gpt2', 'snapshots', 'rev1');
  fs.mkdirSync(snapshot, { recursive: true });
  fs.mkdirSync(path.join(cache, 'models--sshleifer--tiny-gpt2', 'refs'));
  fs.writeFileSync(path.join(cache, 'models--sshleifer--tiny-gpt2', 'refs', 'main'), 'rev1');
  for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(GPT2_TINY, f), path.join(snapshot, f));
  const t5 = path.join(cache, 'models--google--t5-small', 'snapshots', 'rev1');
  fs.mkdirSync(t5, { recursive: true });
  fs.writeFileSync(path.join(t5, 'config.json'), '{"model_type":"t5"}');
  // The server inherits this process's environment.
  process.env.HF_HUB_CACHE = cache;
  ({ page, stop } = await startApp());
}, 90_000);

afterAll(async () => {
  if (previous === undefined) delete process.env.HF_HUB_CACHE;
  else process.env.HF_HUB_CACHE = previous;
  await stop?.();
  fs.rmSync(cache, { recursive: true, force: true });
});

describe('models on this machine', () => {
  test('the Hugging Face cache is listed; Import copies a loadable model into the Library, and the table fits the window', async () => {
    const found = page.locator('table[aria-label="Model folders on this machine"] tbody tr');
    await eventually(() => found.count()).toBe(2);
    expect(await page.locator('.found').textContent()).toContain(`the Hugging Face cache (${cache})`);
    const t5 = found.filter({ hasText: 'google/t5-small' });
    expect(await t5.textContent()).toContain('Stepwise does not load model_type "t5"');
    expect(await t5.getByRole('button').count()).toBe(0);
    await found.filter({ hasText: 'sshleifer/tiny-gpt2' }).getByRole('button', { name: 'Import sshleifer/tiny-gpt2' }).click();
    const models = page.locator('table[aria-label="Models"] tbody tr');
    await eventually(() => models.count()).toBe(1);
    expect((await models.locator('td').allTextContents()).map((t) => t.trim()).slice(0, 3)).toEqual(['sshleifer/tiny-gpt2', 'gpt2 · 2 layers · 4 heads · width 32', '27,136']);
    await eventually(() => found.filter({ hasText: 'sshleifer/tiny-gpt2' }).textContent()).toContain('In the Library');
    // At 1280 pixels every column, the last one's Delete included, is on screen.
    const del = (await models.getByRole('button', { name: /^Delete / }).boundingBox())!;
    expect(del.x + del.width).toBeLessThanOrEqual(1280);
  });

  test('a folder the user adds is searched for model folders too', async () => {
    const mine = freshDir('my-models');
    fs.mkdirSync(path.join(mine, 'my-gpt2'));
    for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(GPT2_TINY, f), path.join(mine, 'my-gpt2', f));
    try {
      await page.getByLabel('Also look in').fill(mine);
      await page.getByRole('button', { name: 'Look', exact: true }).click();
      const found = page.locator('table[aria-label="Model folders on this machine"] tbody tr');
      await eventually(() => found.filter({ hasText: 'my-gpt2' }).count()).toBe(1);
      expect(await found.filter({ hasText: 'my-gpt2' }).getByRole('button', { name: 'Import my-gpt2' }).isEnabled()).toBe(true);
    } finally {
      fs.rmSync(mine, { recursive: true, force: true });
    }
  });
});
