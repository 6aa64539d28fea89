/**
 * Probe jobs: resolve what to probe (a model folder, a library model, a run's
 * best model or checkpoints) and on what (a dataset split, a file, a typed
 * input), then for each point capture the hidden states (engine/probes/capture.ts)
 * with the CoT tokens the curriculum had removed at that point, capture the
 * same sequences on a randomly initialised model of the same shape, and fit the
 * probe grid (engine/probes/grid.ts). Rows in the store index the files:
 *
 *   <data folder>/probes/<id>/point-<k>/          capture of point k (capture.ts's layout)
 *   <data folder>/probes/<id>/point-<k>/random/   the random model's capture (hidden states only)
 *   <data folder>/probes/<id>/point-<k>/results.json   the probe grid (ProbeResults)
 *
 * Jobs run in this process: captures through ONNX Runtime's own threads, the
 * fitting (plain JavaScript) in a worker thread, so the app stays responsive.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Handlers } from '../contract/dispatcher.ts';
import type { JsonObject } from '../contract/entities.ts';
import { StepwiseError } from '../contract/errors.ts';
import type { Probe, ProbeOutputs, ProbePoint, ProbeRequest, ProbeResults, ProbeSummary, ProbeTargetInfo } from '../contract/areas/probes.ts';
import { listCheckpoints, loadCheckpoint } from '../engine/checkpoint.ts';
import { loadModelFolder } from '../engine/hf/model-folder.ts';
import { initModel, Rng } from '../engine/init.ts';
import { modelFamily, type ModelArch } from '../engine/models/family.ts';
import { capture, CaptureCancelled, captureBytes, readAttention, readCaptureMeta, readTokens, type LensView } from '../engine/probes/capture.ts';
import { GridCancelled, probeGridInWorker } from '../engine/probes/grid.ts';
import { fitCell } from '../engine/probes/fit.ts';
import { longestOf, type ProbeSequence } from '../engine/probes/sequences.ts';
import { patternTarget, type Target } from '../engine/probes/targets.ts';
import type { ProviderName } from '../engine/runtime.ts';
import type { TensorMap } from '../engine/safetensors.ts';
import type { SeqTokenizer } from '../engine/tokenizers/seq-tokenizer.ts';
import { folderTokenizer, tokenizerFromSpec } from '../engine/tokenizers/spec.ts';
import { forEachExample, parseLine, type CotExample } from '../methods/shared/examples.ts';
import { InputFileError, checkInputFile, checkInputFolder } from '../methods/input-file.ts';
import { cotLength, encodeExample } from '../methods/icot/layout.ts';
import { probeSequence, slotOrder, typedSequence, type Removal } from '../methods/icot/probes/sequences.ts';
import { multTargets } from '../methods/icot/probes/targets.ts';
import type { IcotRunConfig } from '../methods/icot/recipe.ts';
import { loadDatasetSplit } from './dataset-library.ts';
import { bytesOf, removeFromDataDir } from './files.ts';
import type { LabContext } from './lab.ts';
import { insideDataDir, runFolder } from './paths.ts';

type ProbeProcedures = keyof ProbeOutputs;

/** Seed of the randomly initialised baseline model. */
const RANDOM_MODEL_SEED = 4242;
/** probe.progress is sent at most this often (and at every phase change). */
const PROGRESS_MS = 200;

interface PointSpec {
  label: string;
  step: number | null;
  progress: number | null;
  removal: Removal;
  load(): { arch: ModelArch; params: TensorMap };
}

interface Resolved {
  tok: SeqTokenizer;
  /** Any family's (GPT-2, Llama). */
  arch: ModelArch;
  runId: number | null;
  description: string;
  points: PointSpec[];
  provider?: ProviderName;
  threads?: number;
}

interface Plan {
  resolved: Resolved;
  examples: CotExample[];
  /** Per point, every example's sequence. */
  sequences: ProbeSequence[][];
  available: Target[];
  targets: Target[];
  slots: string[];
  cotLength: number;
  typed: boolean;
}

const invalid = (procedure: string, field: string, message: string) =>
  new StepwiseError('invalid_input', `${procedure}: ${message}`, [{ path: field.split('.'), message }]);

/** What a run's job wrote beside its checkpoints (methods/shared/supervised-run.ts): an ICoT-SI config has a recipe, a Fine-tune-CoT student's none. */
interface RunJson {
  config: Partial<Pick<IcotRunConfig, 'recipe'>> & Omit<IcotRunConfig, 'recipe'>;
  tokenizer: unknown;
  arch: ModelArch;
}

function resolveSource(context: LabContext, procedure: string, source: ProbeRequest['source']): Resolved {
  const { store, dataDir } = context;
  if ('dir' in source || 'modelId' in source) {
    let dir: string;
    let name: string;
    if ('modelId' in source) {
      const model = store.models.get(source.modelId);
      if (!model) throw new StepwiseError('not_found', `${procedure}: there is no model ${source.modelId}`);
      dir = insideDataDir(dataDir, model.path);
      name = `model ${model.id} (${model.name})`;
    } else {
      dir = path.resolve(source.dir);
      name = `the model in ${dir}`;
    }
    let folder;
    let tok: SeqTokenizer;
    try {
      folder = loadModelFolder(dir);
      tok = folderTokenizer(dir, folder.tokenizer);
    } catch (error) {
      throw invalid(procedure, 'source', (error as Error).message);
    }
    const params = folder.params;
    return {
      tok, arch: folder.config, runId: 'modelId' in source ? (store.models.get(source.modelId)?.runId ?? null) : null, description: name,
      points: [{ label: name, step: null, progress: null, removal: { count: 0, side: 'left', keepPosition: false }, load: () => ({ arch: folder.config, params }) }],
    };
  }
  const runId = source.runId;
  if (!store.runs.get(runId)) throw new StepwiseError('not_found', `${procedure}: there is no run ${runId}`);
  const runDir = path.join(dataDir, runFolder(runId));
  let info: RunJson;
  try {
    info = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as RunJson;
  } catch {
    throw new StepwiseError('not_found', `${procedure}: run ${runId} has no run.json: it never started, so there is no model to probe`);
  }
  let tok: SeqTokenizer;
  try {
    tok = tokenizerFromSpec(info.tokenizer, path.join(runDir, 'run.json'));
  } catch (error) {
    throw invalid(procedure, 'source', (error as Error).message);
  }
  // A run that never removes CoT (explicit CoT, or a Fine-tune-CoT student, whose config has no recipe) is probed with all of it.
  const recipe = info.config.recipe ?? 'cot';
  const side = info.config.curriculum?.side ?? 'left';
  const keepPosition = recipe !== 'cot' && info.config.curriculum?.keepPosition === true;
  const checkpoints = listCheckpoints(path.join(runDir, 'checkpoints'));
  const lastStep = checkpoints.at(-1)?.step ?? null;
  const progressOf = (step: number) => (lastStep ? step / lastStep : null);
  const removedAt = (scheduled: number | undefined) => (recipe === 'cot' ? 0 : recipe === 'nocot' || scheduled === undefined || scheduled < 0 ? Infinity : scheduled);
  const checkpointPoint = (c: { step: number; path: string }): PointSpec => {
    const record = JSON.parse(fs.readFileSync(c.path, 'utf8')) as { extra?: { curriculum?: { scheduled?: number } } };
    const scheduled = recipe === 'icot-si' ? (record.extra?.curriculum?.scheduled ?? 0) : undefined;
    return {
      label: `step ${c.step}`, step: c.step, progress: progressOf(c.step),
      removal: { count: removedAt(scheduled), side, keepPosition },
      load: () => ({ arch: info.arch, params: loadCheckpoint(c.path).params }),
    };
  };
  const base = { tok, arch: info.arch, runId, provider: info.config.runtime?.provider, threads: info.config.runtime?.threads };
  const which = source.checkpoints;
  if (which === 'best') {
    const bestDir = path.join(runDir, 'best');
    if (!fs.existsSync(path.join(bestDir, 'config.json'))) {
      throw new StepwiseError('not_found', `${procedure}: run ${runId} has no best model yet (it is kept once all CoT is removed); probe checkpoints 'all' or 'latest'`);
    }
    const bestStep = (() => {
      try {
        const rec = JSON.parse(fs.readFileSync(checkpoints.at(-1)!.path, 'utf8')) as { extra?: { best?: { step?: number } | null } };
        return rec.extra?.best?.step ?? lastStep;
      } catch {
        return lastStep;
      }
    })();
    return {
      ...base, description: `run ${runId}, best model`,
      points: [{
        label: `best model${bestStep !== null ? ` (step ${bestStep})` : ''}`, step: bestStep, progress: bestStep !== null ? progressOf(bestStep) : null,
        removal: { count: recipe === 'cot' ? 0 : Infinity, side, keepPosition },
        load: () => { const f = loadModelFolder(bestDir); return { arch: f.config, params: f.params }; },
      }],
    };
  }
  if (checkpoints.length === 0) throw new StepwiseError('not_found', `${procedure}: run ${runId} has no checkpoints yet`);
  let chosen: { step: number; path: string }[];
  if (which === 'all') chosen = checkpoints;
  else if (which === 'latest') chosen = [checkpoints.at(-1)!];
  else {
    chosen = which.map((step) => {
      const c = checkpoints.find((x) => x.step === step);
      if (!c) throw invalid(procedure, 'source.checkpoints', `run ${runId} has no checkpoint at step ${step}; it has steps ${checkpoints.map((x) => x.step).join(', ')}`);
      return c;
    });
  }
  return { ...base, description: `run ${runId}`, points: chosen.map(checkpointPoint) };
}

function loadData(context: LabContext, procedure: string, data: ProbeRequest['data']): { examples: CotExample[]; typed: string | null } {
  if ('text' in data) return { examples: [], typed: data.text };
  let all: CotExample[];
  try {
    if ('file' in data) {
      checkInputFile(data.file, 'probe data file');
      all = [];
      forEachExample(data.file, undefined, (ex) => all.push(ex) < data.limit);
    } else {
      const dataset = context.store.datasets.get(data.datasetId);
      if (!dataset) throw new StepwiseError('not_found', `${procedure}: there is no dataset ${data.datasetId}`);
      if (!(data.split in dataset.splitCounts)) throw invalid(procedure, 'data.split', `dataset ${dataset.id} has no ${data.split} split (it has ${Object.keys(dataset.splitCounts).join(', ')})`);
      all = loadDatasetSplit(context.dataDir, dataset, data.split);
    }
  } catch (error) {
    if (error instanceof StepwiseError) throw error;
    throw invalid(procedure, 'data', (error as Error).message);
  }
  if (all.length === 0) throw invalid(procedure, 'data', 'the data has no examples');
  return { examples: all.slice(0, data.limit), typed: null };
}

function targetInfo(t: Target): ProbeTargetInfo {
  return { name: t.name, kind: t.kind, description: t.description, ...(t.cotSlot ? { cotSlot: t.cotSlot } : {}) };
}

/**
 * The paths a request names, checked before anything is opened: a data file
 * must be a regular file within the limit, a model folder only regular files
 * and folders (walked off the event loop). A FIFO or a device is refused here.
 */
async function checkNamedPaths(procedure: string, request: ProbeRequest): Promise<void> {
  try {
    if ('file' in request.data) checkInputFile(request.data.file, 'probe data file');
  } catch (error) {
    if (error instanceof InputFileError) throw invalid(procedure, 'data.file', error.message);
    throw error;
  }
  if (!('dir' in request.source)) return;
  try {
    await checkInputFolder(path.resolve(request.source.dir), 'model folder');
  } catch (error) {
    if (error instanceof InputFileError) throw invalid(procedure, 'source.dir', error.message);
    throw error;
  }
}

/** Everything a job needs to know before it runs; throws contract errors naming the field. */
function plan(context: LabContext, procedure: string, request: ProbeRequest): Plan {
  const resolved = resolveSource(context, procedure, request.source);
  const { examples: loaded, typed } = loadData(context, procedure, request.data);
  let examples = loaded;
  let sequences: ProbeSequence[][];
  try {
    if (typed !== null) {
      const { sequence, example } = typedSequence(resolved.tok, typed, parseLine);
      examples = [example];
      sequences = resolved.points.map(() => [sequence]);
    } else {
      sequences = resolved.points.map((p) => examples.map((ex) => probeSequence(resolved.tok, ex, p.removal)));
    }
  } catch (error) {
    throw invalid(procedure, typed !== null ? 'data.text' : 'data', `cannot lay the examples out with the model's tokenizer: ${(error as Error).message}`);
  }
  const longest = Math.max(0, ...sequences.map(longestOf));
  const { maxPositions } = modelFamily(resolved.arch);
  if (longest > maxPositions) throw invalid(procedure, 'data', `an example has ${longest} tokens, more than the model's ${maxPositions} positions`);
  const available: Target[] = typed !== null ? [] : [...multTargets(examples)];
  for (const [i, spec] of request.patterns.entries()) {
    if (available.some((t) => t.name === spec.name)) throw invalid(procedure, `patterns.${i}.name`, `a target named "${spec.name}" already exists`);
    try {
      available.push(patternTarget(spec, examples));
    } catch (error) {
      throw invalid(procedure, `patterns.${i}.pattern`, (error as Error).message);
    }
  }
  let targets: Target[];
  if (request.targets) {
    targets = request.targets.map((name, i) => {
      const t = available.find((x) => x.name === name);
      if (!t) {
        const known = available.map((x) => x.name);
        throw invalid(procedure, `targets.${i}`, `the data offers no target "${name}"${known.length ? ` (it offers ${known.slice(0, 30).join(', ')}${known.length > 30 ? ', …' : ''})` : ' (a typed input has none)'}`);
      }
      return t;
    });
  } else targets = available.filter((t) => t.kind === 'class' && t.cotSlot !== undefined);
  if (typed !== null) targets = [];
  const allSlots = slotOrder(sequences.flat().map((s) => s.slots));
  let slots = allSlots;
  if (request.slots) {
    for (const [i, s] of request.slots.entries()) {
      if (!allSlots.includes(s)) throw invalid(procedure, `slots.${i}`, `no probed sequence has a position "${s}" (positions: ${allSlots.slice(0, 12).join(', ')}, …)`);
    }
    slots = allSlots.filter((s) => request.slots!.includes(s));
  }
  let cot = 0;
  if (typed === null) for (const ex of examples) cot = Math.max(cot, cotLength(encodeExample(resolved.tok, ex)));
  return { resolved, examples, sequences, available, targets, slots, cotLength: cot, typed: typed !== null };
}

function estimate(p: Plan, request: ProbeRequest): ProbeOutputs['probes.estimate'] {
  const { arch } = p.resolved;
  const N = p.examples.length;
  let bytes = 0;
  for (const seqs of p.sequences) {
    const T = longestOf(seqs);
    bytes += captureBytes(arch, N, T, request.attention);
    if (request.randomBaseline && p.targets.length) bytes += captureBytes(arch, N, T, false);
  }
  const { nLayer, hiddenSize } = modelFamily(arch);
  const cells = p.targets.length * (nLayer + 1) * p.slots.length * p.sequences.length;
  const fits = cells * request.seeds * 2 * (request.randomBaseline ? 2 : 1);
  return {
    examples: N,
    seqLen: Math.max(0, ...p.sequences.map(longestOf)),
    points: p.resolved.points.map((pt) => ({ label: pt.label, step: pt.step, removed: Number.isFinite(pt.removal.count) ? pt.removal.count : null })),
    layers: nLayer + 1,
    slots: p.slots,
    available: p.available.map(targetInfo),
    targets: p.targets.map((t) => t.name),
    fits,
    bytes,
    seconds: fits === 0 ? 0 : fits * secondsPerFit(N, hiddenSize),
  };
}

/**
 * One probe fit's seconds at N rows of width d: a ten-class fit (the digits' kind, the slowest) of
 * up to 100 random rows timed here, scaled linearly to N rows (a fit's cost grows with its rows).
 * The sample is small, so the server is held for a few milliseconds only.
 */
function secondsPerFit(N: number, d: number): number {
  const n = Math.max(20, Math.min(100, N));
  const rng = new Rng(5);
  const X = Float32Array.from({ length: n * d }, () => rng.normal());
  const labels = Array.from({ length: n }, (_, i) => i % 10);
  const groups = labels.map((_, i) => String(i));
  const t0 = performance.now();
  fitCell({ X, d, labels, groups, types: groups.map(() => 'x') }, 'class', { seeds: 1, heldOut: 0.2, controlType: 'input' });
  return ((performance.now() - t0) / 1000 / 2) * (N / n); // a cell's seed fits the probe and its control
}

/** Jobs alive in this process, by data folder and id. */
const LIVE = new Map<string, { abort: AbortController; done: Promise<Probe> }>();
const liveKey = (dataDir: string, id: number) => `${dataDir}\0${id}`;

/** Resolves when a probe job running in this process ends; undefined when none runs here. */
export function probeDone(dataDir: string, id: number): Promise<Probe> | undefined {
  return LIVE.get(liveKey(dataDir, id))?.done;
}

export function probeHandlers(context: LabContext): Pick<Handlers, ProbeProcedures> {
  const { store, dataDir, events } = context;

  // Jobs left running by a process that died.
  for (const p of store.probes.running()) {
    if (LIVE.has(liveKey(dataDir, p.id))) continue;
    store.probes.finish(p.id, 'failed', 'interrupted: the process running it stopped; start it again', bytesOf(path.join(dataDir, p.path)));
  }

  const existing = (procedure: string, id: number): Probe => {
    const p = store.probes.get(id);
    if (!p) throw new StepwiseError('not_found', `${procedure}: there is no probe job ${id}`);
    return p;
  };
  const pointOf = (procedure: string, p: Probe, index: number): ProbePoint => {
    const point = p.summary.points[index];
    if (!point) throw invalid(procedure, 'point', `probe job ${p.id} has ${p.summary.points.length} point${p.summary.points.length === 1 ? '' : 's'} (0..${p.summary.points.length - 1}), not ${index}`);
    return point;
  };
  const pointDir = (p: Probe, index: number) => path.join(insideDataDir(dataDir, p.path), `point-${index}`);
  const captured = (procedure: string, p: Probe, index: number) => {
    const dir = pointDir(p, index);
    if (!fs.existsSync(path.join(dir, 'capture.json'))) throw new StepwiseError('not_found', `${procedure}: point ${index} of probe job ${p.id} is not captured yet`);
    return { dir, meta: readCaptureMeta(dir) };
  };

  function run(probe: Probe, p: Plan, request: ProbeRequest, abort: AbortController): Promise<Probe> {
    const folder = insideDataDir(dataDir, probe.path);
    const { resolved } = p;
    const summary: ProbeSummary = {
      points: resolved.points.map((pt, index) => ({
        index, label: pt.label, step: pt.step, progress: pt.progress,
        removed: Number.isFinite(pt.removal.count) ? Math.min(pt.removal.count, p.cotLength) : null,
        cotLength: p.cotLength, done: false,
      })),
      targets: p.targets.map(targetInfo),
      slots: p.slots,
      layers: modelFamily(resolved.arch).nLayer + 1,
      examples: p.examples.length,
    };
    store.probes.setSummary(probe.id, summary, 0);
    let last = 0;
    let lastPhase = '';
    const progress = (point: number, phase: 'capture' | 'random' | 'fit', done: number, total: number) => {
      const now = Date.now();
      if (phase === lastPhase && now - last < PROGRESS_MS && done < total) return;
      last = now;
      lastPhase = phase;
      events.emit('probe.progress', { probeId: probe.id, point, points: resolved.points.length, phase, done, total });
    };
    const session = { provider: resolved.provider, threads: resolved.threads };
    const fit = { seeds: request.seeds, heldOut: request.heldOut, controlType: request.controlType };
    return (async () => {
      await Promise.resolve(); // the caller registers the job first
      try {
        for (const [k, pt] of resolved.points.entries()) {
          const dir = path.join(folder, `point-${k}`);
          const { arch, params } = pt.load();
          const sequences = p.sequences[k];
          const tokenText = (id: number) => resolved.tok.decode([id]);
          await capture({
            arch, params, sequences, dir, attention: request.attention, tokenText, session, signal: abort.signal,
            onProgress: (done, total) => progress(k, 'capture', done, total),
          });
          let randomDir: string | undefined;
          if (request.randomBaseline && p.targets.length) {
            randomDir = path.join(dir, 'random');
            await capture({
              arch, params: initModel(arch, RANDOM_MODEL_SEED), sequences, dir: randomDir, attention: false, tokenText, session, signal: abort.signal, lensExamples: 0,
              onProgress: (done, total) => progress(k, 'random', done, total),
            });
          }
          const slots = p.slots.filter((s) => sequences.some((q) => q.slots.includes(s)));
          const grid = p.targets.length
            ? await probeGridInWorker({ dir, randomDir, examples: p.examples, targets: p.targets, slots, options: fit, signal: abort.signal, onProgress: (done, total) => progress(k, 'fit', done, total) })
            : { layers: modelFamily(arch).nLayer + 1, slots, targets: [] };
          const first = readTokens(dir, readCaptureMeta(dir))[0];
          const results: Omit<ProbeResults, 'probeId' | 'point'> = { ...grid, slotTokens: grid.slots.map((s) => first.tokens[first.slots.indexOf(s)] ?? '') };
          fs.writeFileSync(path.join(dir, 'results.json'), JSON.stringify(results));
          summary.points[k].done = true;
          store.probes.setSummary(probe.id, summary, bytesOf(folder));
        }
        return finish('completed', null);
      } catch (error) {
        if (error instanceof CaptureCancelled || error instanceof GridCancelled) return finish('cancelled', null);
        return finish('failed', (error as Error).message);
      } finally {
        LIVE.delete(liveKey(dataDir, probe.id));
      }
    })();

    function finish(status: 'completed' | 'failed' | 'cancelled', error: string | null): Probe {
      let done: Probe;
      try {
        done = store.probes.finish(probe.id, status, error, bytesOf(folder));
      } catch {
        // The lab closed under the job (its store is gone): the next lab marks it interrupted.
        return { ...probe, status, error };
      }
      events.emit('probe.status', { probeId: probe.id, status, error, at: Date.now() });
      return done;
    }
  }

  return {
    'probes.estimate': async (request) => {
      await checkNamedPaths('probes.estimate', request);
      return estimate(plan(context, 'probes.estimate', request), request);
    },
    'probes.start': async (request) => {
      await checkNamedPaths('probes.start', request);
      const p = plan(context, 'probes.start', request);
      const name = request.name ?? `${p.resolved.description} on ${p.typed ? 'a typed input' : `${p.examples.length} examples`}`;
      const probe = store.probes.add({ name, runId: p.resolved.runId, config: request as unknown as JsonObject });
      fs.mkdirSync(insideDataDir(dataDir, probe.path), { recursive: true });
      events.emit('probe.status', { probeId: probe.id, status: 'running', error: null, at: Date.now() });
      const abort = new AbortController();
      const done = run(probe, p, request, abort);
      LIVE.set(liveKey(dataDir, probe.id), { abort, done });
      return store.probes.get(probe.id)!;
    },
    'probes.cancel': async ({ id }) => {
      const p = existing('probes.cancel', id);
      const live = LIVE.get(liveKey(dataDir, id));
      if (!live) {
        if (p.status === 'running') throw new StepwiseError('conflict', `probes.cancel: probe job ${id} runs in another process`);
        throw new StepwiseError('conflict', `probes.cancel: probe job ${id} is ${p.status}, not running`);
      }
      live.abort.abort();
      return live.done;
    },
    'probes.list': ({ limit, offset }) => store.probes.list(limit, offset),
    'probes.get': ({ id }) => existing('probes.get', id),
    'probes.results': ({ id, point }) => {
      const p = existing('probes.results', id);
      const pt = pointOf('probes.results', p, point);
      const file = path.join(pointDir(p, point), 'results.json');
      if (!pt.done || !fs.existsSync(file)) throw new StepwiseError('not_found', `probes.results: point ${point} of probe job ${id} has no probes fitted yet`);
      return { probeId: id, point: pt, ...(JSON.parse(fs.readFileSync(file, 'utf8')) as Omit<ProbeResults, 'probeId' | 'point'>) };
    },
    'probes.lens': ({ id, point, example }) => {
      const p = existing('probes.lens', id);
      const pt = pointOf('probes.lens', p, point);
      const { dir, meta } = captured('probes.lens', p, point);
      const views = JSON.parse(fs.readFileSync(path.join(dir, meta.files.lens), 'utf8')) as LensView[];
      const view = views[example];
      if (!view) throw invalid('probes.lens', 'example', `point ${point} of probe job ${id} keeps the logit lens of examples 0..${views.length - 1}, not ${example}`);
      return { probeId: id, point: pt, example, examples: views.length, ...view };
    },
    'probes.attention': ({ id, point, example, layer }) => {
      const p = existing('probes.attention', id);
      const pt = pointOf('probes.attention', p, point);
      const { dir, meta } = captured('probes.attention', p, point);
      if (!meta.attention) throw new StepwiseError('not_found', `probes.attention: probe job ${id} kept no attention (it ran with attention: false)`);
      if (example >= meta.examples) throw invalid('probes.attention', 'example', `point ${point} of probe job ${id} captured examples 0..${meta.examples - 1}, not ${example}`);
      if (layer >= meta.layers - 1) throw invalid('probes.attention', 'layer', `the model has blocks 0..${meta.layers - 2}, not ${layer}`);
      const flat = readAttention(dir, meta, layer, example);
      const S = meta.lengths[example];
      const tok = readTokens(dir, meta)[example];
      const weights = Array.from({ length: meta.heads }, (_, h) =>
        Array.from({ length: S }, (_, q) => Array.from(flat.subarray((h * S + q) * S, (h * S + q + 1) * S), (w) => Math.round(w * 1e5) / 1e5)),
      );
      return { probeId: id, point: pt, example, layer, blocks: meta.layers - 1, heads: meta.heads, tokens: tok.tokens, slots: tok.slots, weights };
    },
    'probes.delete': ({ id }) => {
      const p = existing('probes.delete', id);
      if (p.status === 'running') throw new StepwiseError('conflict', `probes.delete: probe job ${id} is running; cancel it first`);
      const bytesFreed = removeFromDataDir(dataDir, p.path);
      store.probes.delete(id);
      return { id, bytesFreed };
    },
  };
}
