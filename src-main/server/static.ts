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
 */
export function serveStatic(staticDir: string, urlPath: string, response: ServerResponse, headOnly: boolean): void {
  let relative: string;
  try {
    relative = decodeURIComponent(urlPath);
  } catch {
    return notFound(response);
  }
  const root = path.resolve(staticDir);
  let file = path.resolve(root, `.${path.posix.normalize(relative)}`);
  if (file !== root && !file.startsWith(root + path.sep)) return notFound(response);
  if (file === root || fs.statSync(file, { throwIfNoEntry: false })?.isDirectory()) file = path.join(file, 'index.html');
  if (!fs.existsSync(file)) {
    if (path.extname(file) !== '') return notFound(response);
    file = path.join(root, 'index.html');
  }
  const body = fs.readFileSync(file);
  response.writeHead(200, {
    'content-type': TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
    'content-length': body.length,
    'cache-control': 'no-cache',
  });
  response.end(headOnly ? undefined : body);
}

function notFound(response: ServerResponse): void {
  response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
  response.end('Not found');
}
