/**
 * models.discover: Hugging Face model folders already on this machine, found
 * without the user typing a path. It reads the Hugging Face hub cache
 * (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`:
 * `models--<org>--<name>/snapshots/<revision>/`, the revision `refs/main`
 * names) and any folders the call names (each a model folder, or a folder of
 * them), and says of each what it is (model_type, size, whether Stepwise loads
 * it) and whether the Library already has it. Only config.json files are read;
 * every file access is asynchronous, so a large cache does not block the server.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Handlers } from '../contract/dispatcher.ts';
import type { FoundModel } from '../contract/areas/library.ts';
import { MODEL_TYPES } from '../engine/hf/model-folder.ts';
import type { LabContext } from './lab.ts';

/** At most this many folders are reported (a cache is rarely larger; the answer stays small). */
const MAX_FOUND = 500;

/** The hub cache folder, as the huggingface_hub library resolves it. */
export function hubCacheFolder(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return path.join(env.HF_HOME, 'hub');
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'huggingface', 'hub');
}

const exists = (p: string) => fs.stat(p).then(() => true, () => false);

/** Bytes of a folder's files, links followed (a cache snapshot links to its blobs). */
async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    const s = await fs.stat(path.join(dir, name)).catch(() => null);
    if (s?.isFile()) total += s.size;
    else if (s?.isDirectory()) total += await folderBytes(path.join(dir, name));
  }
  return total;
}

/** What a folder with a config.json is: its model_type, and whether it has weights Stepwise reads. */
async function describe(dir: string, name: string): Promise<Omit<FoundModel, 'imported'> | null> {
  let config: { model_type?: unknown };
  try {
    config = JSON.parse(await fs.readFile(path.join(dir, 'config.json'), 'utf8')) as { model_type?: unknown };
  } catch {
    return null;
  }
  const modelType = typeof config.model_type === 'string' ? config.model_type : null;
  const files = await fs.readdir(dir).catch(() => [] as string[]);
  const weights = files.some((f) => f.endsWith('.safetensors'));
  const why =
    modelType === null ? 'its config.json names no model_type'
    : !MODEL_TYPES.includes(modelType) ? `Stepwise does not load model_type "${modelType}" (it loads ${MODEL_TYPES.join(', ')})`
    : !weights ? 'it has no .safetensors weights (only those load)'
    : null;
  return { name, path: dir, modelType, bytes: await folderBytes(dir), loadable: why === null, ...(why ? { why } : {}) };
}

/** The snapshot a cached repo's `refs/main` names, else its newest snapshot. */
async function snapshotOf(repoDir: string): Promise<string | null> {
  const snapshots = path.join(repoDir, 'snapshots');
  const ref = (await fs.readFile(path.join(repoDir, 'refs', 'main'), 'utf8').catch(() => '')).trim();
  if (ref && (await exists(path.join(snapshots, ref, 'config.json')))) return path.join(snapshots, ref);
  let newest: { dir: string; at: number } | null = null;
  for (const rev of await fs.readdir(snapshots).catch(() => [] as string[])) {
    const dir = path.join(snapshots, rev);
    const s = await fs.stat(path.join(dir, 'config.json')).catch(() => null);
    if (s && (!newest || s.mtimeMs > newest.at)) newest = { dir, at: s.mtimeMs };
  }
  return newest?.dir ?? null;
}

/** Model folders in the hub cache `hub`. */
async function fromHubCache(hub: string): Promise<Omit<FoundModel, 'imported'>[]> {
  const found: Omit<FoundModel, 'imported'>[] = [];
  for (const entry of (await fs.readdir(hub).catch(() => [] as string[])).sort()) {
    if (found.length >= MAX_FOUND) break;
    const m = /^models--(.+)$/.exec(entry);
    if (!m) continue;
    const snapshot = await snapshotOf(path.join(hub, entry));
    const described = snapshot && (await describe(snapshot, m[1].split('--').join('/')));
    if (described) found.push(described);
  }
  return found;
}

/** A folder the user names: a model folder itself, or a folder whose subfolders are model folders. */
async function fromFolder(dir: string): Promise<Omit<FoundModel, 'imported'>[]> {
  if (await exists(path.join(dir, 'config.json'))) {
    const one = await describe(dir, path.basename(dir));
    return one ? [one] : [];
  }
  const found: Omit<FoundModel, 'imported'>[] = [];
  for (const name of (await fs.readdir(dir).catch(() => [] as string[])).sort()) {
    if (found.length >= MAX_FOUND) break;
    const sub = path.join(dir, name);
    if (await exists(path.join(sub, 'config.json'))) {
      const d = await describe(sub, name);
      if (d) found.push(d);
    }
  }
  return found;
}

export function discoveryHandlers({ store }: LabContext): Pick<Handlers, 'models.discover'> {
  return {
    'models.discover': async ({ folders }) => {
      const hub = hubCacheFolder();
      const searched = [hub, ...(folders ?? [])];
      const found = [...(await fromHubCache(hub))];
      for (const dir of folders ?? []) found.push(...(await fromFolder(dir)));
      const importedFrom = new Set<string>();
      for (let offset = 0; ; offset += 1000) {
        const page = store.models.list(1000, offset);
        for (const m of page.items) if (typeof m.source.from === 'string') importedFrom.add(path.resolve(m.source.from));
        if (page.items.length < 1000) break;
      }
      const seen = new Set<string>();
      const items = found
        .filter((f) => !seen.has(f.path) && seen.add(f.path))
        .slice(0, MAX_FOUND)
        .map((f) => ({ ...f, imported: importedFrom.has(path.resolve(f.path)) }));
      return { searched, items };
    },
  };
}
