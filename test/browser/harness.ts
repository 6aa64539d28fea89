// Browser-test harness: a real `stepwise serve` on a fresh data folder, and
// Debian's chromium driven by playwright-core. Nothing here is mocked: the
// pages under test talk to the same server a person would open.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import type { Run } from '../../src-main/contract/entities.ts';
import { DATABASE_FILE } from '../../src-main/services/paths.ts';
import { openStore } from '../../src-main/store/store.ts';

export const repoRoot = resolve(import.meta.dirname, '../..');
export const screenshotDir = join(repoRoot, 'test-results', 'screenshots');
const CHROMIUM = '/usr/bin/chromium';

export interface Server {
  /** The address printed by `stepwise serve`, token included. */
  url: string;
  origin: string;
  token: string;
  dataDir: string;
  output: () => string;
  stop: () => Promise<void>;
}

/** Fails (never skips) when the renderer bundle is missing or older than its sources. */
export function assertRendererBuilt(): void {
  const index = join(repoRoot, 'out', 'renderer', 'index.html');
  if (!existsSync(index)) {
    throw new Error(`No renderer build at ${index}. Run \`npm run build:renderer\` first (\`npm test\` does).`);
  }
  const built = statSync(index).mtimeMs;
  const stale = newestFile(join(repoRoot, 'src-renderer'));
  if (stale && stale.mtimeMs > built) {
    throw new Error(
      `The renderer build in out/renderer is older than ${stale.path}. Run \`npm run build:renderer\` again.`,
    );
  }
}

function newestFile(dir: string): { path: string; mtimeMs: number } | undefined {
  let newest: { path: string; mtimeMs: number } | undefined;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const { mtimeMs } = statSync(path);
    if (!newest || mtimeMs > newest.mtimeMs) newest = { path, mtimeMs };
  }
  return newest;
}

export function freshDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `stepwise-${prefix}-`));
}

/** Starts `node bin/stepwise.js serve --port 0` (with `env` added to this process's) and waits for the URL it prints. */
export async function startServer(env: Record<string, string> = {}): Promise<Server> {
  const dataDir = freshDir('data');
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    [join(repoRoot, 'bin', 'stepwise.js'), 'serve', '--port', '0', '--data-dir', dataDir],
    { cwd: repoRoot, env: { ...process.env, NO_COLOR: '1', ...env } },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));

  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`stepwise serve printed no URL within 60 s:\n${out}`)), 60_000);
    const look = () => {
      const m = /https?:\/\/(?:127\.0\.0\.1|localhost):\d+\/\S*/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveUrl(m[0]);
      }
    };
    child.stdout.on('data', look);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`stepwise serve exited with ${code} before printing a URL:\n${out}`));
    });
  });

  const parsed = new URL(url);
  const token = parsed.searchParams.get('token');
  if (!token) throw new Error(`The URL printed by stepwise serve has no ?token=: ${url}`);

  return {
    url,
    origin: parsed.origin,
    token,
    dataDir,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Browser {
  context: BrowserContext;
  close: () => Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Browser tests need Debian's chromium at ${CHROMIUM}. Install it with \`apt-get install -y chromium\` (CI does).`,
    );
  }
  const profile = freshDir('chromium');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export function screenshotPath(name: string): string {
  mkdirSync(screenshotDir, { recursive: true });
  return join(screenshotDir, `${name}.png`);
}

/** Calls a procedure the way a script would (Bearer token, no cookie); throws with the server's error. */
export async function callApi<T>(server: Server, name: string, input?: unknown): Promise<T> {
  const response = await fetch(`${server.origin}/api/call/${name}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
    body: input === undefined ? '' : JSON.stringify(input),
  });
  const answer = (await response.json()) as { ok: boolean; result?: T; error?: unknown };
  if (!answer.ok) throw new Error(`${name} failed: ${JSON.stringify(answer.error)}`);
  return answer.result as T;
}

/**
 * expect.poll with room for a loaded CI machine: vitest gives up after 1 s by
 * default, and these tests share two cores with the engine's.
 */
/**
 * Writes a run row straight into the server's store, as a test's given: a queued run whose config
 * runs.create would refuse (it names files that are not there), as a run stored by an older lab may.
 */
export function storeRun(server: Server, run: { method: string; name: string; config: Record<string, unknown> }): Run {
  const store = openStore(join(server.dataDir, DATABASE_FILE));
  try {
    return store.runs.create(run as Parameters<typeof store.runs.create>[0]);
  } finally {
    store.close();
  }
}

export function eventually<T>(read: () => T | Promise<T>, timeout = 30_000) {
  return expect.poll(read, { timeout, interval: 50 });
}

/**
 * A page test's setup: `stepwise serve` on a fresh data folder (after `seed`, given the server, has
 * put what the test needs in it), Chromium, and its page on the app's first screen (the Library).
 */
export async function startApp(seed?: (server: Server) => Promise<void> | void, env?: Record<string, string>): Promise<{ server: Server; browser: Browser; page: Page; stop: () => Promise<void> }> {
  assertRendererBuilt();
  const [server, browser] = await Promise.all([startServer(env), launchBrowser()]);
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  await seed?.(server);
  await page.goto(server.url);
  await page.locator('h1', { hasText: 'Library' }).waitFor();
  return {
    server, browser, page,
    stop: async () => {
      await browser.close();
      await server.stop();
    },
  };
}
