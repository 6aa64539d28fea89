import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { defaultDataDir, insideDataDir, resolveDataDir } from '../../src-main/services/paths.ts';

describe('the data folder', () => {
  test('follows each platform: XDG on Linux, Application Support on macOS, %APPDATA% on Windows', () => {
    expect(defaultDataDir('linux', { XDG_DATA_HOME: '/xdg' }, '/home/ada')).toBe('/xdg/stepwise');
    expect(defaultDataDir('linux', {}, '/home/ada')).toBe('/home/ada/.local/share/stepwise');
    expect(defaultDataDir('linux', { XDG_DATA_HOME: 'relative/dir' }, '/home/ada')).toBe('/home/ada/.local/share/stepwise');
    expect(defaultDataDir('darwin', {}, '/Users/ada')).toBe('/Users/ada/Library/Application Support/Stepwise');
    expect(defaultDataDir('win32', { APPDATA: 'C:\\Users\\ada\\AppData\\Roaming' }, 'C:\\Users\\ada')).toBe(
      path.join('C:\\Users\\ada\\AppData\\Roaming', 'Stepwise'),
    );
  });

  test('--data-dir wins over STEPWISE_DATA_DIR, which wins over the default; the answer is absolute', () => {
    expect(resolveDataDir('/flag', { STEPWISE_DATA_DIR: '/env' }, '/default')).toBe('/flag');
    expect(resolveDataDir(undefined, { STEPWISE_DATA_DIR: '/env' }, '/default')).toBe('/env');
    expect(resolveDataDir(undefined, {}, '/default')).toBe('/default');
    expect(resolveDataDir('rel', {}, '/default')).toBe(path.resolve('rel'));
  });

  test('paths stored in rows must stay inside it', () => {
    expect(insideDataDir('/data', 'models/gpt2')).toBe('/data/models/gpt2');
    for (const escape of ['../etc/passwd', '/etc/passwd', 'models/../../x', '.', '']) {
      expect(() => insideDataDir('/data', escape)).toThrow(`The path "${escape}" is not inside the data folder /data`);
    }
  });
});
