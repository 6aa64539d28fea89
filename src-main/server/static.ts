/** Serves the built renderer (out/renderer) as files, nothing outside that folder. */
import fs from 'node:fs';
import path from 'node:path';
import type { ServerResponse } from 'node:http';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

/** Throws an error naming the command to run when the renderer has not been built. */
export function checkRendererBuilt(staticDir: string): void {
  if (!fs.existsSync(path.join(staticDir, 'index.html'))) {
    throw new Error(
      `The renderer is not built: ${path.join(staticDir, 'index.html')} is missing. ` +
        'Run `npm run build:renderer` first (or `npm run serve`, which builds it and then serves).',
    );
  }
}

/**
 * Answers GET/HEAD `urlPath` from `staticDir`. Paths without a file extension
 * that match no file get index.html (the renderer routes on the client).
 * Only regular files whose real path (links resolved) is inside the folder's
 * real path are served: a link placed in the folder that points outside it,
 * a FIFO or a device answers 404. A bad escape or a NUL answers 400.
 */
export async function serveStatic(staticDir: string, urlPath: string, response: ServerResponse, headOnly: boolean): Promise<void> {
  let relative: string;
  try {
    relative = decodeURIComponent(urlPath);
  } catch {
    return badRequest(response, 'the path is not valid percent-encoding');
  }
  if (relative.includes('\0')) return badRequest(response, 'the path contains a NUL character');
  const root = await realpath(path.resolve(staticDir));
  if (root === null) return notFound(response);
  let file = path.resolve(root, `.${path.posix.normalize(relative)}`);
  if (file !== root && !file.startsWith(root + path.sep)) return notFound(response);
  if (file === root || (await statOf(file))?.isDirectory()) file = path.join(file, 'index.html');
  if ((await statOf(file)) === null) {
    if (path.extname(file) !== '') return notFound(response);
    file = path.join(root, 'index.html');
  }
  const real = await realpath(file);
  if (real === null || !real.startsWith(root + path.sep)) return notFound(response);
  const stat = await statOf(real);
  if (!stat?.isFile()) return notFound(response);
  const body = await fs.promises.readFile(real);
  response.writeHead(200, {
    'content-type': TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
    'content-length': body.length,
    'cache-control': 'no-cache',
  });
  response.end(headOnly ? undefined : body);
}

async function realpath(file: string): Promise<string | null> {
  try {
    return await fs.promises.realpath(file);
  } catch {
    return null;
  }
}

/** The stat of `file` (links followed), or null when there is nothing usable there (missing, a link loop, …). */
async function statOf(file: string): Promise<fs.Stats | null> {
  try {
    return await fs.promises.stat(file);
  } catch {
    return null;
  }
}

function notFound(response: ServerResponse): void {
  response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
  response.end('Not found');
}

/** The contract's error object, as the API answers, for a path that cannot name a file. */
function badRequest(response: ServerResponse, message: string): void {
  const body = JSON.stringify({ ok: false, error: { code: 'invalid_input', message } });
  response.writeHead(400, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  response.end(body);
}
