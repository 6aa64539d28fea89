/**
 * Where a worker-thread entry lives. Run from source (Node strips the types),
 * it is the `.ts` file beside the caller; in the desktop build, electron-vite
 * bundles each worker as its own entry in out/main (see electron.vite.config.ts),
 * named `<bundled>.js`, while the caller may sit in out/main or out/main/chunks.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function workerUrl(callerUrl: string, source: string, bundled: string): URL {
  if (callerUrl.endsWith('.ts')) return new URL(source, callerUrl);
  const candidates = [new URL(`./${bundled}.js`, callerUrl), new URL(`../${bundled}.js`, callerUrl)];
  const found = candidates.find((u) => existsSync(fileURLToPath(u)));
  if (!found) throw new Error(`the training worker ${bundled}.js is missing beside ${fileURLToPath(callerUrl)}: rebuild the app (npm run build)`);
  return found;
}
