/**
 * Where teachers' API keys come from. Keys never reach the database, the
 * logs or an export: a teacher names its key (`keyName`), and the key is
 * looked up when a job starts, in the desktop app's key store (Electron's
 * safeStorage, set by src-main/electron/main.ts) and otherwise in the
 * environment (the CLI and `stepwise serve`).
 */

export interface KeyStore {
  get(name: string): string | undefined;
  set(name: string, key: string): void;
  names(): string[];
}

let keyStore: KeyStore | null = null;

/** The desktop app installs its encrypted store at start-up. */
export function setKeyStore(store: KeyStore | null): void {
  keyStore = store;
}

export function canStoreKeys(): boolean {
  return keyStore !== null;
}

export function storeKey(name: string, key: string): void {
  if (!keyStore) throw new Error(`this lab has no key store (it is not the desktop app): set the environment variable ${name} instead`);
  keyStore.set(name, key);
}

export function keyNames(): string[] {
  return keyStore?.names() ?? [];
}

/**
 * Environment variables that may hold a key: named like one (OPENAI_API_KEY,
 * HF_TOKEN, MY_KEY). Any other (PATH, HOME, …) is never read as a key, so a
 * call cannot send the server's environment to an endpoint.
 */
export const KEY_VARIABLE = /^[A-Za-z_][A-Za-z0-9_]*_(API_KEY|KEY|TOKEN)$/i;

/** The key named `name`: the key store's, else (for a name like *_API_KEY, *_KEY or *_TOKEN) the environment variable's. */
export function resolveKey(name: string): { key: string } | { missing: string } {
  const stored = keyStore?.get(name);
  if (stored !== undefined) return { key: stored };
  if (!KEY_VARIABLE.test(name)) {
    return { missing: `${name} is not a key's name: keys are read only from environment variables named *_API_KEY, *_KEY or *_TOKEN (e.g. OPENAI_API_KEY)${keyStore ? ', or from keys stored with finetune.setKey' : ''}` };
  }
  const value = process.env[name];
  if (value === undefined || value === '') return { missing: `no key named ${name}: ${keyStore ? 'store it with finetune.setKey, or set' : 'set'} the environment variable ${name}` };
  return { key: value };
}
