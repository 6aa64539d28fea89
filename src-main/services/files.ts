/** Sizes and removal of the files that rows point to under the data folder. */
import fs from 'node:fs';
import path from 'node:path';
import { insideDataDir } from './paths.ts';

/** Total bytes of a file, or of every file under a folder; 0 if it does not exist. Symlinks count as themselves, not their targets. */
export function bytesOf(absolute: string): number {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(absolute);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  if (!stat.isDirectory()) return stat.size;
  let total = 0;
  for (const entry of fs.readdirSync(absolute)) total += bytesOf(path.join(absolute, entry));
  return total;
}

/** Removes a file or folder given relative to the data folder; answers the bytes freed (0 if it was already gone). */
export function removeFromDataDir(dataDir: string, relative: string): number {
  const absolute = insideDataDir(dataDir, relative);
  const bytes = bytesOf(absolute);
  fs.rmSync(absolute, { recursive: true, force: true });
  return bytes;
}
