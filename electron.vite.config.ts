// Desktop build (`npm run build` / `npm run dev`): Electron main, its sandboxed
// preload and the renderer. The renderer section is the same config as the
// browser build in vite.renderer.config.ts.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'electron-vite';
import { rendererConfig } from './vite.renderer.config.ts';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  main: {
    build: {
      outDir: here('./out/main'),
      rolldownOptions: {
        // Named "index" so the output is out/main/index.js, package.json's "main". Training runs in
        // worker threads: each worker is an entry of its own beside it (src-main/engine/worker-url.ts),
        // one for every method's runs (src-main/methods/worker.ts).
        input: {
          index: here('./src-main/electron/main.ts'),
          'method-worker': here('./src-main/methods/worker.ts'),
          'probe-worker': here('./src-main/engine/probes/grid-worker.ts'),
          'preflight-worker': here('./src-main/methods/preflight-worker.ts'),
          'evaluation-worker': here('./src-main/services/evaluation-worker.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      outDir: here('./out/preload'),
      // A sandboxed preload cannot load ES modules or require from
      // node_modules: one self-contained CommonJS file, out/preload/index.cjs.
      externalizeDeps: false,
      isolatedEntries: true,
      rolldownOptions: {
        input: { index: here('./src-main/electron/preload.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: rendererConfig,
});
