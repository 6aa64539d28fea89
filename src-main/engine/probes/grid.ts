/**
 * The probe grid of one capture: for each target, a probe per layer × slot
 * (fit.ts), and the same cells on a randomly initialised model's capture of
 * the same sequences when one is given. Yields to the event loop between
 * cells, reports progress and stops when asked. `probeGridInWorker` runs it
 * in a worker thread (grid-worker.ts), as the app does.
 */
import { Worker } from 'node:worker_threads';
import { workerUrl } from '../worker-url.ts';
import { readCaptureMeta, readHiddenAt, readTokens } from './capture.ts';
import { fitCell, type CellScore, type FitOptions } from './fit.ts';
import type { ProbeExample, Target, TargetKind } from './targets.ts';

export interface TargetGrid {
  name: string;
  kind: TargetKind;
  description: string;
  cotSlot?: string;
  metric: 'accuracy' | 'r2';
  /** [layer][slot]; null where too few examples have the slot and a label. */
  cells: (CellScore | null)[][];
  /** The same on the randomly initialised model; null when none was captured. */
  random: (CellScore | null)[][] | null;
}

export interface GridResult {
  /** Residual-stream layers (0 = embeddings). */
  layers: number;
  slots: string[];
  targets: TargetGrid[];
}

export interface GridRequest {
  /** The trained model's capture folder, and a random model's capture of the same sequences. */
  dir: string;
  randomDir?: string;
  /** Only their inputs are read: one input is one problem (held out together) and, with controlType 'input', one control type. */
  examples: Pick<ProbeExample, 'input'>[];
  targets: Target[];
  slots: string[];
  options: FitOptions;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Fewest labelled examples a cell is fitted on. */
export const MIN_CELL_ROWS = 10;

export class GridCancelled extends Error {
  constructor() {
    super('probing cancelled');
    this.name = 'GridCancelled';
  }
}

export async function probeGrid(req: GridRequest): Promise<GridResult> {
  const meta = readCaptureMeta(req.dir);
  const tokens = readTokens(req.dir, meta);
  const randomMeta = req.randomDir ? readCaptureMeta(req.randomDir) : null;
  if (meta.examples !== req.examples.length) throw new Error(`${req.dir} holds ${meta.examples} examples, expected ${req.examples.length}`);
  const slotIndex = tokens.map((t) => new Map(t.slots.map((s, i) => [s, i])));
  const total = req.targets.length * meta.layers * req.slots.length * (randomMeta ? 2 : 1);
  let done = 0;
  const grids: TargetGrid[] = [];
  for (const target of req.targets) {
    const grid = (): (CellScore | null)[][] => Array.from({ length: meta.layers }, () => new Array<CellScore | null>(req.slots.length).fill(null));
    const g: TargetGrid = {
      name: target.name, kind: target.kind, description: target.description, cotSlot: target.cotSlot,
      metric: target.kind === 'class' ? 'accuracy' : 'r2', cells: grid(), random: randomMeta ? grid() : null,
    };
    for (let l = 0; l < meta.layers; l++) {
      for (let s = 0; s < req.slots.length; s++) {
        const slot = req.slots[s];
        const at = (n: number) => (target.labels[n] === null ? null : (slotIndex[n].get(slot) ?? null));
        for (const [which, dir, m] of [['trained', req.dir, meta], ['random', req.randomDir, randomMeta]] as const) {
          if (!dir || !m) continue;
          if (req.signal?.aborted) throw new GridCancelled();
          const { X, rows } = readHiddenAt(dir, m, l, at);
          if (rows.length >= MIN_CELL_ROWS && new Set(rows.map((n) => req.examples[n].input)).size >= 2) {
            const cell = fitCell(
              {
                X, d: m.dim,
                labels: rows.map((n) => target.labels[n]!),
                groups: rows.map((n) => req.examples[n].input),
                types: rows.map((n) => (req.options.controlType === 'token' ? String(tokens[n].ids[slotIndex[n].get(slot)!]) : req.examples[n].input)),
              },
              target.kind,
              req.options,
            );
            (which === 'trained' ? g.cells : g.random!)[l][s] = cell;
          }
          done++;
          req.onProgress?.(done, total);
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
    }
    grids.push(g);
  }
  return { layers: meta.layers, slots: req.slots, targets: grids };
}

/** probeGrid in a worker thread: the caller's event loop stays free; aborting terminates the worker. */
export function probeGridInWorker(req: GridRequest): Promise<GridResult> {
  const { onProgress, signal, ...data } = req;
  if (signal?.aborted) return Promise.reject(new GridCancelled());
  const worker = new Worker(workerUrl(import.meta.url, './grid-worker.ts', 'probe-worker'), { workerData: data });
  return new Promise<GridResult>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = () => {
      settle(() => reject(new GridCancelled()));
      void worker.terminate();
    };
    signal?.addEventListener('abort', onAbort);
    worker.on('message', (m: { type: 'progress'; done: number; total: number } | { type: 'done'; result: GridResult } | { type: 'error'; message: string }) => {
      if (m.type === 'progress') onProgress?.(m.done, m.total);
      else if (m.type === 'done') settle(() => resolve(m.result));
      else settle(() => reject(new Error(m.message)));
    });
    worker.on('error', (err) => settle(() => reject(err)));
    worker.on('exit', (code) => settle(() => reject(new Error(`the probe worker exited with code ${code} before finishing`))));
  });
}
