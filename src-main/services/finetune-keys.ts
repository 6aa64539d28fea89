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

/** The key named `name`: the key store's, else the environment variable's. */
export function resolveKey(name: string): string | undefined {
  return keyStore?.get(name) ?? process.env[name];
}
