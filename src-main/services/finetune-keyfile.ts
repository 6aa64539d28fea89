/**
 * A KeyStore (./finetune-keys.ts) kept in one encrypted file: the desktop
 * app's, with Electron's safeStorage as the cipher (the system keychain:
 * Keychain on macOS, DPAPI on Windows, libsecret/kwallet on Linux), under
 * the data folder. Only the names are readable in the file; each key is
 * stored as the cipher's output (base64). The file is written whole to a
 * temporary file and renamed (a crash leaves the old file or the new one),
 * with mode 0600. Nothing here writes a key anywhere else.
 *
 *   { "version": 1, "keys": { "<name>": "<base64 of cipher.encrypt(key)>" } }
 */
import fs from 'node:fs';
import path from 'node:path';
import type { KeyStore } from './finetune-keys.ts';

export interface KeyCipher {
  encrypt(plain: string): Buffer;
  decrypt(sealed: Buffer): string;
}

export const KEY_FILE = 'keys.json';

interface KeyFile {
  version: 1;
  keys: Record<string, string>;
}

function read(file: string): KeyFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, keys: {} };
    throw new Error(`cannot read the key store ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`the key store ${file} is not valid JSON (${(err as Error).message}); move it away to start a new one`);
  }
  const keys = (json as { keys?: unknown } | null)?.keys;
  if ((json as { version?: unknown }).version !== 1 || typeof keys !== 'object' || keys === null || Array.isArray(keys) || Object.values(keys).some((v) => typeof v !== 'string')) {
    throw new Error(`the key store ${file} is not a version 1 key file ({"version": 1, "keys": {name: sealed key}})`);
  }
  return { version: 1, keys: keys as Record<string, string> };
}

/** The key store in `file`, sealing and opening keys with `cipher`. */
export function encryptedKeyFile(file: string, cipher: KeyCipher): KeyStore {
  return {
    get(name) {
      const sealed = read(file).keys[name];
      if (sealed === undefined) return undefined;
      try {
        return cipher.decrypt(Buffer.from(sealed, 'base64'));
      } catch (err) {
        throw new Error(`the key ${name} in ${file} cannot be decrypted (${(err as Error).message}); store it again`);
      }
    },
    set(name, key) {
      const data = read(file);
      data.keys[name] = cipher.encrypt(key).toString('base64');
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const temp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(temp, JSON.stringify(data, null, 2) + '\n', { mode: 0o600 });
      fs.renameSync(temp, file);
    },
    names() {
      return Object.keys(read(file).keys).sort();
    },
  };
}
