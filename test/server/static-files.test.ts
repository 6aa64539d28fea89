/**
 * Issue 23, finding 9: the static server serves only regular files whose
 * real path is inside its folder. A link placed in out/renderer pointing at
 * /etc/passwd (it was served), a link to a folder outside, a FIFO and a link
 * loop all answer 404, promptly; the page and its assets still load.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, type RunningServer } from '../../src-main/server/server.ts';
import { openLab, type Lab } from '../../src-main/services/lab.ts';

let work: string;
let lab: Lab;
let server: RunningServer;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-static-'));
  const staticDir = path.join(work, 'renderer');
  fs.mkdirSync(path.join(staticDir, 'assets'), { recursive: true });
  fs.writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>lab</title>');
  fs.writeFileSync(path.join(staticDir, 'assets', 'app.js'), 'console.log(1)');
  fs.mkdirSync(path.join(work, 'outside'));
  fs.writeFileSync(path.join(work, 'outside', 'secret.txt'), 'outside the folder');
  fs.symlinkSync('/etc/passwd', path.join(staticDir, 'passwd.txt'));
  fs.symlinkSync(path.join(work, 'outside'), path.join(staticDir, 'out'));
  fs.symlinkSync(path.join(staticDir, 'assets', 'app.js'), path.join(staticDir, 'inside-link.js'));
  fs.symlinkSync(path.join(staticDir, 'loop-b.js'), path.join(staticDir, 'loop-a.js'));
  fs.symlinkSync(path.join(staticDir, 'loop-a.js'), path.join(staticDir, 'loop-b.js'));
  expect(spawnSync('mkfifo', [path.join(staticDir, 'pipe.js')]).status).toBe(0);
  lab = openLab(path.join(work, 'lab'));
  server = await startServer({ dispatch: lab.dispatch, events: lab.events, staticDir });
});

afterAll(async () => {
  await server?.close();
  lab?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

async function get(p: string): Promise<[number, string]> {
  const r = await fetch(`http://127.0.0.1:${server.port}${p}`, { headers: { authorization: `Bearer ${server.token}` }, signal: AbortSignal.timeout(5000) });
  return [r.status, await r.text()];
}

describe('the static server serves regular files inside its folder only', () => {
  test.each([
    ['/passwd.txt', 'a link to /etc/passwd'],
    ['/out/secret.txt', 'a file through a link to a folder outside'],
    ['/pipe.js', 'a FIFO'],
    ['/loop-a.js', 'a link loop'],
  ])('%s (%s) answers 404', async (p) => {
    expect(await get(p)).toEqual([404, 'Not found']);
  });

  test('the page, its assets and a link that stays inside the folder are served', async () => {
    expect(await get('/')).toEqual([200, '<!doctype html><title>lab</title>']);
    expect(await get('/assets/app.js')).toEqual([200, 'console.log(1)']);
    expect(await get('/inside-link.js')).toEqual([200, 'console.log(1)']);
    expect(await get('/runs/3')).toEqual([200, '<!doctype html><title>lab</title>']);
  });
});
