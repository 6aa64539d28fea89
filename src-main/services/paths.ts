/**
 * Where Stepwise keeps its data, and the layout inside that folder.
 *
 *   <data folder>/stepwise.db         the run store (SQLite)
 *   <data folder>/models/<name>/      model weights
 *   <data folder>/datasets/<id>/      dataset files, one per split
 *   <data folder>/runs/<id>/          a run's checkpoints and other outputs
 *
 * Rows store paths relative to the data folder, so the folder can move.
 */
import os from 'node:os';
import path from 'node:path';

export const DATABASE_FILE = 'stepwise.db';

/**
 * The platform's per-user data folder for Stepwise, as the CLI uses it (the
 * desktop app uses Electron's userData instead):
 * Linux $XDG_DATA_HOME/stepwise or ~/.local/share/stepwise,
 * macOS ~/Library/Application Support/Stepwise, Windows %APPDATA%\Stepwise.
 */
export function defaultDataDir(
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
  home: string = os.homedir(),
): string {
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'Stepwise');
  if (platform === 'win32') return path.join(env.APPDATA || path.join(home, 'AppData', 'Roaming'), 'Stepwise');
  const xdg = env.XDG_DATA_HOME;
  // The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(home, '.local', 'share'), 'stepwise');
}

/** The data folder to use: the --data-dir flag, else STEPWISE_DATA_DIR, else `fallback`. Always absolute. */
export function resolveDataDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env, fallback: string = defaultDataDir()): string {
  return path.resolve(flag || env.STEPWISE_DATA_DIR || fallback);
}

/** The relative folder of run `id`'s outputs. */
export function runFolder(id: number): string {
  return path.join('runs', String(id));
}

/**
 * The absolute path of `relative` inside `dataDir`. Throws if it would leave
 * the data folder (an absolute path, or `..`), so no stored row can make
 * Stepwise read or delete files elsewhere.
 */
export function insideDataDir(dataDir: string, relative: string): string {
  const absolute = path.resolve(dataDir, relative);
  const fromRoot = path.relative(dataDir, absolute);
  if (path.isAbsolute(relative) || fromRoot === '' || fromRoot.startsWith('..') || path.isAbsolute(fromRoot)) {
    throw new Error(`The path "${relative}" is not inside the data folder ${dataDir}; Stepwise only touches files there.`);
  }
  return absolute;
}
