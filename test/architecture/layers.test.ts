/**
 * Layers depend only downward. Every import, `import type`, re-export and
 * dynamic `import('…')` of every .ts and .svelte file under src-main and
 * src-renderer is an arrow `file -> target`; this test fails on each arrow
 * that points the wrong way, naming it:
 *
 *   src-renderer ──▶ contract
 *   cli, server, electron ──▶ services ──▶ methods ──▶ engine
 *                             services ──▶ store, contract
 *
 * - engine imports no methods, services, contract, server, cli, electron,
 *   store or renderer (nor the `electron` package);
 * - methods import no services, server, cli, electron, store or renderer, and
 *   no contract but the arrows listed in METHODS_TO_CONTRACT;
 * - a method folder (methods/<id>/) imports no other method folder: only the
 *   engine, methods/shared/, the top-level methods/*.ts and its own folder;
 *   methods/shared/ imports no method folder;
 * - services import no server, cli, electron or renderer;
 * - the renderer imports nothing of src-main but src-main/contract.
 *
 * contract, store, server, cli and electron have no rule here yet.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

const LAYERS = ['engine', 'methods', 'services', 'contract', 'store', 'server', 'cli', 'electron', 'renderer'] as const;
type Layer = (typeof LAYERS)[number];

/** What each layer must not import. */
const FORBIDDEN: Partial<Record<Layer, readonly Layer[]>> = {
  engine: ['methods', 'services', 'contract', 'server', 'cli', 'electron', 'store', 'renderer'],
  methods: ['services', 'contract', 'server', 'cli', 'electron', 'store', 'renderer'],
  services: ['server', 'cli', 'electron', 'renderer'],
  renderer: ['engine', 'methods', 'services', 'server', 'cli', 'electron', 'store'],
};

/**
 * The arrows from methods into the contract that exist, allowed one by one
 * (contract/* is not the methods' to change): contract/limits.ts imports
 * nothing and holds the text checks every reader of user text shares, and a
 * zero-shot-CoT rationale sample is the contract's stored rationale less its
 * ids (a type, erased at build), and a run's estimate is the contract's
 * RunEstimate (a type too). Any other methods -> contract arrow fails,
 * and so does an entry here once its arrow is gone.
 */
const METHODS_TO_CONTRACT: readonly string[] = [
  'src-main/methods/shared/examples.ts -> src-main/contract/limits.ts',
  'src-main/methods/finetune-cot/tasks.ts -> src-main/contract/limits.ts',
  'src-main/methods/finetune-cot/zero-shot-cot.ts -> src-main/contract/areas/finetune.ts',
  'src-main/methods/shared/estimate.ts -> src-main/contract/entities.ts',
];

/** One import: `from` imports `to`, both paths from the repository root (`to` may be the package 'electron'). */
interface Arrow {
  from: string;
  to: string;
}

/** Where a path sits: its layer and, inside methods/<id>/, the method folder (`shared` for methods/shared/); null outside the app's sources. */
function placeOf(file: string): { layer: Layer | 'unknown'; folder: string | null } | null {
  if (file === 'electron' || file.startsWith('electron/')) return { layer: 'electron', folder: null };
  const parts = file.split('/');
  if (parts[0] === 'src-renderer') return { layer: 'renderer', folder: null };
  if (parts[0] !== 'src-main') return null;
  const layer = parts.length > 2 && (LAYERS as readonly string[]).includes(parts[1]) ? (parts[1] as Layer) : 'unknown';
  return { layer, folder: layer === 'methods' && parts.length > 3 ? parts[2] : null };
}

/** The arrows that point the wrong way, each as `from -> to (the rule it breaks)`. */
function violations(arrows: readonly Arrow[]): string[] {
  const found: string[] = [];
  for (const { from, to } of arrows) {
    const a = placeOf(from);
    const b = placeOf(to);
    if (!a || !b) continue;
    const arrow = `${from} -> ${to}`;
    if (a.layer === 'unknown' || b.layer === 'unknown') {
      found.push(`${arrow} (${a.layer === 'unknown' ? from : to} is in no layer: add its folder to LAYERS and give it rules)`);
      continue;
    }
    if (a.layer === 'methods' && b.layer === 'contract' && METHODS_TO_CONTRACT.includes(arrow)) continue;
    if (FORBIDDEN[a.layer]?.includes(b.layer)) {
      found.push(`${arrow} (${a.layer} must not import ${b.layer})`);
    } else if (a.layer === 'methods' && a.folder !== null && b.layer === 'methods' && b.folder !== null && b.folder !== 'shared' && b.folder !== a.folder) {
      // Only folders are held to this: the top-level methods/*.ts (the list of methods, preflight) import every method.
      found.push(`${arrow} (${a.folder === 'shared' ? 'methods/shared' : `method ${a.folder}`} must not import method ${b.folder})`);
    }
  }
  return found;
}

/**
 * The module specifiers a source file imports: `import … from '…'`, `import type … from '…'`,
 * `export … from '…'`, `import '…'` and `import('…')`. Only statements at the start of a line
 * count for the static forms, so prose in comments does not.
 */
function specifiersOf(text: string): string[] {
  const found: string[] = [];
  const statement = /^\s*(?:import|export)\s+(?:type\s+)?[\w$*{},\s]*?\s*from\s*['"]([^'"]+)['"]/gm;
  const bare = /^\s*import\s*['"]([^'"]+)['"]/gm;
  const dynamic = /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const re of [statement, bare, dynamic]) for (const m of text.matchAll(re)) found.push(m[1]);
  return found;
}

/** Every .ts and .svelte file under `dir` (node_modules aside), as paths from the repository root. */
function sourcesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(path.join(ROOT, d), { withFileTypes: true })) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory()) {
        if (e.name !== 'node_modules') walk(p);
      } else if (/\.(ts|svelte)$/.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** The arrows of the app's sources: relative specifiers resolved, the `electron` package kept by name, other packages left out. */
function appArrows(): Arrow[] {
  const arrows: Arrow[] = [];
  for (const from of [...sourcesUnder('src-main'), ...sourcesUnder('src-renderer')]) {
    for (const spec of specifiersOf(fs.readFileSync(path.join(ROOT, from), 'utf8'))) {
      if (spec.startsWith('.')) arrows.push({ from, to: path.posix.normalize(path.posix.join(path.posix.dirname(from), spec)) });
      else if (spec === 'electron' || spec.startsWith('electron/')) arrows.push({ from, to: spec });
    }
  }
  return arrows;
}

describe('import boundaries', () => {
  test('no arrow of src-main or src-renderer points the wrong way', () => {
    const arrows = appArrows();
    expect(arrows.length).toBeGreaterThan(500);
    expect(violations(arrows)).toEqual([]);
  });

  test('every allowed methods -> contract arrow still exists', () => {
    const present = new Set(appArrows().map((a) => `${a.from} -> ${a.to}`));
    expect(METHODS_TO_CONTRACT.filter((a) => !present.has(a))).toEqual([]);
  });

  test('the checker names each wrong arrow and passes the right ones', () => {
    const arrows: Arrow[] = [
      { from: 'src-main/engine/probes/grid.ts', to: 'src-main/methods/icot/format.ts' },
      { from: 'src-main/engine/hf/model-folder.ts', to: 'electron' },
      { from: 'src-main/methods/bitune/run.ts', to: 'src-main/methods/icot/layout.ts' },
      { from: 'src-main/methods/shared/instruct/format.ts', to: 'src-main/methods/icot/format.ts' },
      { from: 'src-main/methods/icot/run.ts', to: 'src-main/contract/entities.ts' },
      { from: 'src-main/methods/icot/run.ts', to: 'src-main/store/runs.ts' },
      { from: 'src-main/services/runs.ts', to: 'src-main/server/server.ts' },
      { from: 'src-renderer/App.svelte', to: 'src-main/engine/generate.ts' },
      { from: 'src-main/widgets/x.ts', to: 'src-main/engine/generate.ts' },
      // Allowed:
      { from: 'src-main/methods/icot/run.ts', to: 'src-main/engine/trainer.ts' },
      { from: 'src-main/methods/icot/run.ts', to: 'src-main/methods/shared/examples.ts' },
      { from: 'src-main/methods/icot/run.ts', to: 'src-main/methods/run-config.ts' },
      { from: 'src-main/methods/icot/probes/targets.ts', to: 'src-main/methods/icot/mult.ts' },
      { from: 'src-main/methods/preflight-worker.ts', to: 'src-main/methods/bitune/run.ts' },
      { from: 'src-main/methods/shared/examples.ts', to: 'src-main/contract/limits.ts' },
      { from: 'src-main/services/probes.ts', to: 'src-main/methods/icot/layout.ts' },
      { from: 'src-main/cli/commands/probe.ts', to: 'src-main/services/probes.ts' },
      { from: 'src-renderer/App.svelte', to: 'src-main/contract/index.ts' },
      { from: 'src-renderer/App.svelte', to: 'resources/icon.svg' },
    ];
    expect(violations(arrows)).toEqual([
      'src-main/engine/probes/grid.ts -> src-main/methods/icot/format.ts (engine must not import methods)',
      'src-main/engine/hf/model-folder.ts -> electron (engine must not import electron)',
      'src-main/methods/bitune/run.ts -> src-main/methods/icot/layout.ts (method bitune must not import method icot)',
      'src-main/methods/shared/instruct/format.ts -> src-main/methods/icot/format.ts (methods/shared must not import method icot)',
      'src-main/methods/icot/run.ts -> src-main/contract/entities.ts (methods must not import contract)',
      'src-main/methods/icot/run.ts -> src-main/store/runs.ts (methods must not import store)',
      'src-main/services/runs.ts -> src-main/server/server.ts (services must not import server)',
      'src-renderer/App.svelte -> src-main/engine/generate.ts (renderer must not import engine)',
      'src-main/widgets/x.ts -> src-main/engine/generate.ts (src-main/widgets/x.ts is in no layer: add its folder to LAYERS and give it rules)',
    ]);
  });

  test('reads every form of import, and no prose', () => {
    const source = [
      "import fs from 'node:fs';",
      "import type { Value } from '../onnx/graph.ts';",
      'import {',
      '  a,',
      '  type B,',
      "} from './multi.ts';",
      "export * from './all.ts';",
      "export { x as y } from './some.ts';",
      "import './side-effect.ts';",
      "const m = await import('./lazy.ts');",
      " * the data comes from 'elsewhere.ts', as a comment says",
      "const s = 'import from here';",
    ].join('\n');
    expect(specifiersOf(source).sort()).toEqual(['../onnx/graph.ts', './all.ts', './lazy.ts', './multi.ts', './side-effect.ts', './some.ts', 'node:fs']);
  });
});
