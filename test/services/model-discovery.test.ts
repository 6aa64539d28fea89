/**
 * models.discover finds the model folders already on this machine: a Hugging
 * Face hub cache laid out as huggingface_hub writes it (snapshots linking to
 * blobs, refs/main naming the revision) and folders the user names; it says
 * which load, why the others do not, and which the Library already has.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { FoundModel } from '../../src-main/contract/areas/library.ts';
import { hubCacheFolder } from '../../src-main/services/model-discovery.ts';
import { openLab, type Lab } from '../../src-main/services/lab.ts';

const GPT2_TINY = new URL('../../../shared/reference/gpt2-tiny/', import.meta.url).pathname;

let work: string;
let lab: Lab;
const saved = { HF_HUB_CACHE: process.env.HF_HUB_CACHE };

/** A cached repo as huggingface_hub leaves it: blobs, a snapshot of links to them, refs/main. */
function cacheRepo(hub: string, repo: string, files: Record<string, string | Buffer>, revision = 'abc123'): string {
  const root = path.join(hub, `models--${repo.split('/').join('--')}`);
  const snapshot = path.join(root, 'snapshots', revision);
  fs.mkdirSync(path.join(root, 'blobs'), { recursive: true });
  fs.mkdirSync(snapshot, { recursive: true });
  fs.mkdirSync(path.join(root, 'refs'), { recursive: true });
  fs.writeFileSync(path.join(root, 'refs', 'main'), revision);
  for (const [name, content] of Object.entries(files)) {
    const blob = path.join(root, 'blobs', `${revision}-${name}`); // huggingface_hub names blobs by hash
    fs.writeFileSync(blob, content);
    fs.symlinkSync(blob, path.join(snapshot, name));
  }
  return snapshot;
}

beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-discover-'));
  process.env.HF_HUB_CACHE = path.join(work, 'hub');
  lab = openLab(path.join(work, 'lab'));
});
afterEach(() => {
  lab.close();
  if (saved.HF_HUB_CACHE === undefined) delete process.env.HF_HUB_CACHE;
  else process.env.HF_HUB_CACHE = saved.HF_HUB_CACHE;
  fs.rmSync(work, { recursive: true, force: true });
});

async function discover(input: unknown = {}): Promise<{ searched: string[]; items: FoundModel[] }> {
  const answer = await lab.dispatch('models.discover', input);
  if (!answer.ok) throw new Error(answer.error.message);
  return answer.result as { searched: string[]; items: FoundModel[] };
}

describe('models.discover', () => {
  test('the hub cache folder follows HF_HUB_CACHE, then HF_HOME, then XDG_CACHE_HOME, then ~/.cache', () => {
    expect(hubCacheFolder({ HF_HUB_CACHE: '/a/hub', HF_HOME: '/b' })).toBe('/a/hub');
    expect(hubCacheFolder({ HF_HOME: '/b' })).toBe('/b/hub');
    expect(hubCacheFolder({ XDG_CACHE_HOME: '/c' })).toBe('/c/huggingface/hub');
    expect(hubCacheFolder({})).toBe(path.join(os.homedir(), '.cache', 'huggingface', 'hub'));
  });

  test('finds cached repos by their refs/main snapshot, says which load and why the others do not, and which the Library has', async () => {
    const hub = process.env.HF_HUB_CACHE!;
    const weights = fs.readFileSync(path.join(GPT2_TINY, 'model.safetensors'));
    const tiny = cacheRepo(hub, 'sshleifer/tiny-gpt2', { 'config.json': fs.readFileSync(path.join(GPT2_TINY, 'config.json')), 'model.safetensors': weights });
    // An older snapshot of the same repo is not the one refs/main names.
    cacheRepo(hub, 'sshleifer/tiny-gpt2', { 'config.json': '{"model_type":"gpt2"}' }, 'old000');
    fs.writeFileSync(path.join(hub, 'models--sshleifer--tiny-gpt2', 'refs', 'main'), 'abc123');
    cacheRepo(hub, 'google/t5-small', { 'config.json': '{"model_type":"t5"}', 'model.safetensors': 'x' });
    cacheRepo(hub, 'someone/bin-only', { 'config.json': '{"model_type":"llama"}', 'pytorch_model.bin': 'x' });
    fs.mkdirSync(path.join(hub, 'datasets--someone--data'), { recursive: true }); // not a model

    const { searched, items } = await discover();
    expect(searched).toEqual([hub]);
    expect(items.map((m) => [m.name, m.modelType, m.loadable, m.imported])).toEqual([
      ['google/t5-small', 't5', false, false],
      ['someone/bin-only', 'llama', false, false],
      ['sshleifer/tiny-gpt2', 'gpt2', true, false],
    ]);
    expect(items[0].why).toBe('Stepwise does not load model_type "t5" (it loads gpt2, llama, mistral, qwen2)');
    expect(items[1].why).toBe('it has no .safetensors weights (only those load)');
    expect(items[2]).toMatchObject({ path: tiny, bytes: weights.length + fs.statSync(path.join(GPT2_TINY, 'config.json')).size });

    // Importing it copies the snapshot's files (links followed); the next look says the Library has it.
    const imported = await lab.dispatch('models.import', { path: tiny, name: 'sshleifer/tiny-gpt2' });
    expect(imported.ok).toBe(true);
    expect((await discover()).items.find((m) => m.name === 'sshleifer/tiny-gpt2')?.imported).toBe(true);
  });

  test('a folder the call names is read as one model folder or as a folder of them; a missing cache finds nothing', async () => {
    const mine = path.join(work, 'my-models');
    fs.mkdirSync(path.join(mine, 'gpt2-tiny'), { recursive: true });
    for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(GPT2_TINY, f), path.join(mine, 'gpt2-tiny', f));
    fs.mkdirSync(path.join(mine, 'notes'));
    const both = await discover({ folders: [mine, GPT2_TINY.replace(/\/$/, '')] });
    expect(both.items.map((m) => [m.name, m.loadable])).toEqual([['gpt2-tiny', true], ['gpt2-tiny', true]]);
    expect(both.items.map((m) => m.path)).toEqual([path.join(mine, 'gpt2-tiny'), GPT2_TINY.replace(/\/$/, '')]);
  });
});
