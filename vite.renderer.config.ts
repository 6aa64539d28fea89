// The renderer as a plain web build. `npm run build:renderer` writes it to
// out/renderer, which `stepwise serve` hands to browsers; electron.vite.config.ts
// reuses `rendererConfig` so the desktop app gets the very same bundle.
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin, type UserConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

const root = fileURLToPath(new URL('./src-renderer', import.meta.url));
const outDir = fileURLToPath(new URL('./out/renderer', import.meta.url));

// The renderer runs sandboxed with no Node: anything that would drag Node,
// Electron or a native module into the bundle is a mistake, caught at build time.
const FORBIDDEN = /^(node:|electron(\/|$)|better-sqlite3|onnxruntime-node|ws$|fs$|path$|child_process$)/;

function rendererOnly(): Plugin {
  return {
    name: 'stepwise:renderer-only',
    enforce: 'pre',
    resolveId(source, importer) {
      if (FORBIDDEN.test(source)) {
        throw new Error(
          `${importer ?? 'renderer'} imports "${source}", which cannot run in the renderer. ` +
            'Import only types from src-main (import type …) and talk to main through the contract client.',
        );
      }
      return null;
    },
  };
}

// The built page carries its own policy, whoever serves it (Electron's file://
// or `stepwise serve`, which add theirs as headers): our own scripts, styles and
// connections only; no inline script, nothing remote. Build only: the dev
// server injects styles inline for hot reload.
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self' ws://127.0.0.1:* ws://localhost:*",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

function contentSecurityPolicy(): Plugin {
  return {
    name: 'stepwise:content-security-policy',
    apply: 'build',
    transformIndexHtml: () => [
      {
        tag: 'meta',
        attrs: { 'http-equiv': 'Content-Security-Policy', content: CONTENT_SECURITY_POLICY },
        injectTo: 'head-prepend',
      },
    ],
  };
}

export const rendererConfig: UserConfig = {
  root,
  base: './',
  publicDir: false,
  plugins: [rendererOnly(), contentSecurityPolicy(), svelte({ configFile: false })],
  build: {
    outDir,
    emptyOutDir: true,
    target: 'chrome128',
    minify: true, // electron-vite would otherwise leave the desktop renderer unminified
    sourcemap: true,
    rolldownOptions: {
      input: fileURLToPath(new URL('./src-renderer/index.html', import.meta.url)),
    },
  },
};

export default defineConfig(rendererConfig);
