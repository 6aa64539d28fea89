/**
 * Capture: run a model of any family over known sequences (teacher forcing, one forward
 * pass per batch, the decode graph of generate.ts with an empty cache and its
 * probes outputs) and stream every layer's residual stream and every head's
 * attention probabilities to files, with the logit lens of the first examples.
 *
 * Layout of a capture folder (little-endian float32, row-major, no header;
 * rows past an example's length are zeros):
 *
 *   capture.json      {format, examples N, seqLen T, layers L+1, heads H, dim C, attention,
 *                      lengths[N], files}: everything needed to read the rest
 *   tokens.jsonl      one line per example: {ids, positions, slots, tokens} (tokens as text)
 *   hidden.<l>.f32    [N, T, C]    residual stream at layer l = 0..L (0 = embeddings, then after
 *                                  each block, before the final norm)
 *   attn.<l>.f32      [N, H, T, T] attention probabilities of block l = 0..L−1 (query × key)
 *   lens.json         the logit lens of the first examples (see LensView)
 *
 * The size is known before starting (captureBytes), so callers can say it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Generator } from '../generate.ts';
import { modelFamily, type ModelArch } from '../models/family.ts';
import { GraphBuilder } from '../onnx/graph.ts';
import { targetFor } from '../target.ts';
import { createSession, ort, type SessionOptions } from '../runtime.ts';
import type { TensorMap } from '../safetensors.ts';
import { longestOf, type ProbeSequence } from './sequences.ts';

export const CAPTURE_FORMAT = 1;

export interface CaptureMeta {
  format: number;
  examples: number;
  seqLen: number;
  /** Residual-stream layers: nLayer + 1. */
  layers: number;
  heads: number;
  dim: number;
  attention: boolean;
  lengths: number[];
  files: { hidden: string[]; attention: string[]; tokens: string; lens: string };
}

/** Bytes a capture of N sequences of at most T tokens writes (the token and lens files aside). */
export function captureBytes(arch: ModelArch, N: number, T: number, attention: boolean): number {
  const { nLayer: L, hiddenSize: C, nHead: H } = modelFamily(arch);
  const hidden = (L + 1) * N * T * C * 4;
  return hidden + (attention ? L * N * H * T * T * 4 : 0);
}

/** The logit lens of one example: per layer × position, the top tokens, their probabilities, and the entropy (bits). */
export interface LensView {
  tokens: string[];
  slots: string[];
  /** [layer][position][k] */
  top: { token: string; p: number }[][][];
  /** [layer][position] */
  entropy: number[][];
}

export interface CaptureRequest {
  /** Any family's architecture (GPT-2, Llama). */
  arch: ModelArch;
  params: TensorMap;
  sequences: ProbeSequence[];
  dir: string;
  attention: boolean;
  /** Token id → text, for tokens.jsonl and the lens. */
  tokenText: (id: number) => string;
  batchSize?: number;
  /** Examples whose logit lens is kept (default 8), with this many top tokens (default 5). */
  lensExamples?: number;
  lensTop?: number;
  session?: SessionOptions;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export class CaptureCancelled extends Error {
  constructor() {
    super('capture cancelled');
    this.name = 'CaptureCancelled';
  }
}

/** Runs the capture; the folder is created (and emptied of an earlier capture's files first). */
export async function capture(req: CaptureRequest): Promise<CaptureMeta> {
  const { arch, sequences, dir } = req;
  const N = sequences.length;
  if (N === 0) throw new Error('capture: no sequences');
  const T = longestOf(sequences);
  const { nLayer: L, nHead: H, hiddenSize: C, maxPositions } = modelFamily(arch);
  if (T > maxPositions) throw new Error(`capture: a sequence has ${T} tokens, more than the model's ${maxPositions} positions`);
  fs.mkdirSync(dir, { recursive: true });
  const meta: CaptureMeta = {
    format: CAPTURE_FORMAT, examples: N, seqLen: T, layers: L + 1, heads: H, dim: C, attention: req.attention,
    lengths: sequences.map((s) => s.ids.length),
    files: {
      hidden: Array.from({ length: L + 1 }, (_, l) => `hidden.${l}.f32`),
      attention: req.attention ? Array.from({ length: L }, (_, l) => `attn.${l}.f32`) : [],
      tokens: 'tokens.jsonl',
      lens: 'lens.json',
    },
  };
  fs.writeFileSync(
    path.join(dir, meta.files.tokens),
    sequences.map((s) => JSON.stringify({ ids: s.ids, positions: s.positions, slots: s.slots, tokens: s.ids.map(req.tokenText) })).join('\n') + '\n',
  );
  const open = (name: string, bytes: number) => {
    const fd = fs.openSync(path.join(dir, name), 'w');
    fs.ftruncateSync(fd, bytes);
    return fd;
  };
  const hiddenFds = meta.files.hidden.map((f) => open(f, N * T * C * 4));
  const attnFds = meta.files.attention.map((f) => open(f, N * H * T * T * 4));
  const gen = Generator.create(arch, req.params, req.session);
  const lensCount = Math.min(N, req.lensExamples ?? 8);
  const lensRows: Float32Array[][] = []; // [example][layer] → [len, C]
  try {
    const B = req.batchSize ?? 16;
    for (let start = 0; start < N; start += B) {
      if (req.signal?.aborted) throw new CaptureCancelled();
      const rows = sequences.slice(start, start + B);
      const Tb = Math.max(...rows.map((r) => r.ids.length));
      const ids = rows.map((r) => [...r.ids, ...new Array<number>(Tb - r.ids.length).fill(0)]);
      const positions = rows.map((r) => [...r.positions, ...Array.from({ length: Tb - r.ids.length }, (_, i) => Math.min(maxPositions - 1, (r.positions.at(-1) ?? 0) + 1 + i))]);
      // Right padding under a causal mask: a real token never sees the padding after it.
      const mask = new Uint8Array(rows.length * Tb * Tb); // [B, 1, Tb, Tb]
      rows.forEach((r, b) => {
        for (let t = 0; t < Tb; t++) for (let s = 0; s <= t && s < r.ids.length; s++) mask[(b * Tb + t) * Tb + s] = 1;
      });
      const out = await gen.step({ ids, positions, mask, past: null }, { probes: true });
      rows.forEach((r, b) => {
        const n = start + b;
        const len = r.ids.length;
        for (let l = 0; l <= L; l++) {
          const src = out.hidden![l].subarray(b * Tb * C, (b * Tb + len) * C); // [len, C]
          fs.writeSync(hiddenFds[l], src, 0, src.byteLength, n * T * C * 4);
          if (n < lensCount) (lensRows[n] ??= [])[l] = Float32Array.from(src);
        }
        for (let l = 0; l < attnFds.length; l++) {
          const a = new Float32Array(H * T * T); // [H, T, T]
          const src = out.attention![l]; // [B, H, Tb, Tb]
          for (let h = 0; h < H; h++) for (let t = 0; t < len; t++) {
            const base = ((b * H + h) * Tb + t) * Tb;
            a.set(src.subarray(base, base + len), (h * T + t) * T);
          }
          fs.writeSync(attnFds[l], a, 0, a.byteLength, n * H * T * T * 4);
        }
      });
      req.onProgress?.(Math.min(N, start + B), N);
    }
    const lens = await logitLens(arch, req.params, lensRows, req.lensTop ?? 5, req.session);
    const views: LensView[] = lens.map((layers, n) => ({
      tokens: sequences[n].ids.map(req.tokenText),
      slots: sequences[n].slots,
      top: layers.map((pos) => pos.map((p) => p.top.map((x) => ({ token: req.tokenText(x.id), p: x.p })))),
      entropy: layers.map((pos) => pos.map((p) => p.entropy)),
    }));
    fs.writeFileSync(path.join(dir, meta.files.lens), JSON.stringify(views));
    fs.writeFileSync(path.join(dir, 'capture.json'), JSON.stringify(meta, null, 2));
    return meta;
  } finally {
    for (const fd of [...hiddenFds, ...attnFds]) fs.closeSync(fd);
    await gen.release();
  }
}

/**
 * The logit lens (nostalgebraist 2020): each layer's residual stream read through the final
 * norm and the output projection, as if the model stopped there. One small ONNX graph:
 * h [R, C] → the family's readout (GPT-2: ln_f and the tied wte; Llama: the final RMSNorm and
 * lm_head, or the input embedding when tied) → logits [R, V] → log-softmax → top-k and entropy.
 */
export async function logitLens(
  arch: ModelArch,
  params: TensorMap,
  rows: Float32Array[][],
  k: number,
  session: SessionOptions = {},
): Promise<{ top: { id: number; p: number }[]; entropy: number }[][][]> {
  if (rows.length === 0) return [];
  const family = modelFamily(arch);
  const C = family.hiddenSize;
  const K = Math.min(k, family.vocabSize);
  const shapes = family.paramShapes();
  const readoutParams = family.readoutParams.map((name) => {
    const shape = shapes.get(name)!;
    const t = params.get(name);
    if (!t) throw new Error(`logit lens: the ${family.name === 'gpt2' ? 'GPT-2' : 'Llama-family'} model's parameters lack '${name}' [${shape.join(', ')}], which its final norm and output projection read`);
    if (t.shape.join(',') !== shape.join(',')) throw new Error(`logit lens: parameter '${name}' has shape [${t.shape.join(', ')}], the model needs [${shape.join(', ')}]`);
    return { name, shape, data: t.data };
  });
  const g = new GraphBuilder({ target: targetFor(session.provider) });
  const p = Object.fromEntries(readoutParams.map(({ name, shape }) => [name, g.input(`p.${name}`, 'float32', shape)]));
  const h = g.input('h', 'float32', ['R', C]);
  const logits = family.readout(g, p, h); // [R, V]
  const logp = g.logSoftmax(logits, -1, 'logp'); // [R, V]
  const ent = g.neg(g.reduceSum(g.mul(g.exp(logp), logp), [-1]), 'entropy'); // [R] nats
  const [topV, topI] = g.node('TopK', [logp, g.ints([K])], [{ dtype: 'float32', shape: ['R', K], hint: 'top_v' }, { dtype: 'int64', shape: ['R', K], hint: 'top_i' }], { axis: { i: -1 } });
  const model = g.toModel([g.named(topV, 'top_logp'), g.named(topI, 'top_id'), g.named(ent, 'entropy')], { name: 'logit_lens' });
  const s = await createSession(model, session);
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const { name, shape, data } of readoutParams) feeds[`p.${name}`] = new ort.Tensor('float32', data, shape);
    const result: { top: { id: number; p: number }[]; entropy: number }[][][] = [];
    for (const layers of rows) {
      const perLayer: { top: { id: number; p: number }[]; entropy: number }[][] = [];
      for (const hl of layers) {
        const R = hl.length / C;
        const out = await s.run({ ...feeds, h: new ort.Tensor('float32', hl, [R, C]) });
        const v = out.top_logp.data as Float32Array; // [R, K]
        const ids = out.top_id.data as BigInt64Array; // [R, K]
        const e = out.entropy.data as Float32Array; // [R]
        perLayer.push(Array.from({ length: R }, (_, r) => ({
          top: Array.from({ length: K }, (_, j) => ({ id: Number(ids[r * K + j]), p: Math.exp(v[r * K + j]) })),
          entropy: e[r] / Math.LN2,
        })));
      }
      result.push(perLayer);
    }
    return result;
  } finally {
    await s.release();
  }
}

/** Reads a capture folder's description; errors name the folder. */
export function readCaptureMeta(dir: string): CaptureMeta {
  const file = path.join(dir, 'capture.json');
  let meta: CaptureMeta;
  try {
    meta = JSON.parse(fs.readFileSync(file, 'utf8')) as CaptureMeta;
  } catch (error) {
    throw new Error(`${file}: cannot read the capture's description (${(error as Error).message})`);
  }
  if (meta.format !== CAPTURE_FORMAT) throw new Error(`${file}: capture format ${meta.format} is not ${CAPTURE_FORMAT}`);
  return meta;
}

/** The residual stream of layer l at position t of every example: [N, C] (zeros where an example is shorter). */
export function readHiddenAt(dir: string, meta: CaptureMeta, layer: number, positionOf: (n: number) => number | null): { X: Float32Array; rows: number[] } {
  const { examples: N, seqLen: T, dim: C } = meta;
  const fd = fs.openSync(path.join(dir, meta.files.hidden[layer]), 'r');
  try {
    const rows: number[] = [];
    const X = new Float32Array(N * C);
    let r = 0;
    for (let n = 0; n < N; n++) {
      const t = positionOf(n);
      if (t === null) continue;
      fs.readSync(fd, new Uint8Array(X.buffer, r * C * 4, C * 4), 0, C * 4, (n * T + t) * C * 4);
      rows.push(n);
      r++;
    }
    return { X: X.subarray(0, r * C), rows };
  } finally {
    fs.closeSync(fd);
  }
}

/** The attention probabilities of one example at block l: [H, len, len]. */
export function readAttention(dir: string, meta: CaptureMeta, layer: number, example: number): Float32Array {
  if (!meta.attention) throw new Error(`${dir}: this capture kept no attention`);
  const { seqLen: T, heads: H } = meta;
  const len = meta.lengths[example];
  const all = new Float32Array(H * T * T);
  const fd = fs.openSync(path.join(dir, meta.files.attention[layer]), 'r');
  try {
    fs.readSync(fd, new Uint8Array(all.buffer), 0, all.byteLength, example * H * T * T * 4);
  } finally {
    fs.closeSync(fd);
  }
  const out = new Float32Array(H * len * len);
  for (let h = 0; h < H; h++) for (let t = 0; t < len; t++) out.set(all.subarray((h * T + t) * T, (h * T + t) * T + len), (h * len + t) * len);
  return out;
}

/** One example's tokens, slots and positions as tokens.jsonl keeps them. */
export function readTokens(dir: string, meta: CaptureMeta): { ids: number[]; positions: number[]; slots: string[]; tokens: string[] }[] {
  return fs.readFileSync(path.join(dir, meta.files.tokens), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}
