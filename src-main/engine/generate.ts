/**
 * Text generation with a key/value cache.
 *
 * One decode graph with dynamic dims (batch B, new tokens T, cached length P)
 * serves both phases: the prefill runs every prompt token at once with an
 * empty cache (P = 0), then each decode step runs one token per row (T = 1)
 * against the cache the previous call returned. The graph is the model
 * family's forward pass itself (models/family.ts: GPT-2, Llama), fed per-row
 * positions [B, T] and a per-row mask [B, 1, T, P+T].
 *
 * Batched prompts of different lengths are left-padded to the longest one, so
 * every row's newest token sits in the last column. Each row gets its own
 * positions (0 at its first real token) and a mask that hides its padding
 * columns, so a row's tokens are the same as when it is generated alone: a
 * masked key gets exactly zero probability.
 *
 * Trade-off: the cache grows by concatenation inside the graph, so step n
 * copies n cached positions per layer. For the context lengths these models
 * use (≤ 1024) that copy is small next to the matmuls, and it keeps the graph
 * free of in-place state. The present tensors ORT returns are fed back as the
 * next step's past as they are, without copying them in JavaScript.
 */
import { float16Tensor, toHalf } from './half.ts';
import { modelFamily, paramInputs, type ModelArch, type ModelFamily, type WeightDtype } from './models/family.ts';
import type { GPT2Config } from './models/gpt2.ts';
import { GraphBuilder, type Value } from './onnx/graph.ts';
import { targetFor, type ProviderName } from './target.ts';
import { createSession, ort, type SessionOptions } from './runtime.ts';
import type { TensorMap } from './safetensors.ts';
import { sampleToken, seededRng, validateSampling, type Rng, type SamplingOptions } from './sampling.ts';

// ------------------------------------------------------------------ graph

export interface DecodeGraphOptions {
  /** Output logits for every new position ([B, T, V]) instead of the last one only ([B, V]). */
  allLogits?: boolean;
  /** Also output `hidden.<l>` [B, T, C] (l = 0..nLayer) and `attn.<l>` [B, nHead, T, P+T] (l < nLayer). */
  probes?: boolean;
  /** Parameters fed as float16 and widened to float32 where used (half the weight memory; float32 arithmetic). */
  weightDtype?: WeightDtype;
  /** The provider that will run the graph (target.ts). Default 'cpu'. */
  provider?: ProviderName;
}

export interface DecodeGraph {
  model: Uint8Array;
  /** Parameter names; each is fed as `p.<name>`. */
  paramNames: string[];
  outputs: string[];
}

/**
 * The decode graph. Inputs:
 * - `p.<name>`: the parameters (Hugging Face names), float32 or (weightDtype) float16;
 * - `input_ids` int64 [B, T]; `position_ids` int64 [B, T];
 * - `mask` bool [B, 1, T, P+T]: new token t of row b may attend to cache column s;
 * - `past.<l>.key`, `past.<l>.value` float32 [B, K, P, D] (P may be 0; K key/value heads of size D).
 * Outputs: `logits` ([B, V], or [B, T, V] with allLogits), `present.<l>.key|value`
 * [B, K, P+T, D], and with probes `hidden.<l>` and `attn.<l>`.
 */
export function compileDecodeGraph(arch: ModelArch, opts: DecodeGraphOptions = {}): DecodeGraph {
  const family = modelFamily(arch);
  const K = family.kvHeads;
  const D = family.headDim;
  const g = new GraphBuilder({ target: targetFor(opts.provider) });
  const shapes = family.paramShapes();
  const paramNames = [...shapes.keys()];
  const params = paramInputs(g, shapes, opts.weightDtype);
  const inputIds = g.tokenInput('input_ids', ['B', 'T']);
  const positions = g.tokenInput('position_ids', ['B', 'T']);
  const mask = g.input('mask', 'bool', ['B', 1, 'T', 'P+T']);
  const past: { key: Value; value: Value }[] = [];
  for (let l = 0; l < family.nLayer; l++) {
    past.push({
      key: g.input(`past.${l}.key`, 'float32', ['B', K, 'P', D]),
      value: g.input(`past.${l}.value`, 'float32', ['B', K, 'P', D]),
    });
  }

  const fwd = family.forward(g, params, { inputIds, positions, mask, past });

  const outs: Value[] = [];
  const outputs: string[] = [];
  const emit = (name: string, v: Value) => {
    outs.push(g.named(v, name));
    outputs.push(name);
  };
  if (opts.allLogits) emit('logits', fwd.logits); // [B, T, V]
  else emit('logits', g.squeeze(g.slice(fwd.logits, [-1], [Number.MAX_SAFE_INTEGER], [1], 'last'), [1])); // [B, V]
  fwd.present.forEach((kv, l) => {
    emit(`present.${l}.key`, kv.key); // [B, K, P+T, D]
    emit(`present.${l}.value`, kv.value);
  });
  if (opts.probes) {
    fwd.hidden.forEach((h, l) => emit(`hidden.${l}`, h)); // [B, T, C]
    fwd.attention.forEach((a, l) => emit(`attn.${l}`, a)); // [B, nHead, T, P+T]
  }
  return { model: g.toModel(outs, { name: `${family.name}_decode` }), paramNames, outputs };
}

// ------------------------------------------------------------------ one call

/** Keys and values per layer, [B, K, P, D] each (K key/value heads), exactly as ORT returned them. */
export type KvCache = { key: ort.Tensor; value: ort.Tensor }[];

export interface StepInput {
  /** Token ids, B rows of T. */
  ids: number[][];
  /** Position of each token, B rows of T. */
  positions: number[][];
  /** Attention allowed, [B, T, P+T] flattened (1 = may attend). */
  mask: Uint8Array;
  /** The cache from the previous call; null for a prefill. */
  past: KvCache | null;
}

export interface StepOutput {
  /** [B, V] (last position), or [B, T, V] with allLogits. */
  logits: Float32Array;
  present: KvCache;
  /** With probes: per layer 0..nLayer, [B, T, C]. */
  hidden?: Float32Array[];
  /** With probes: per layer, [B, H, T, P+T]. */
  attention?: Float32Array[];
}

// ------------------------------------------------------------------ generation

export interface GenerateOptions extends SamplingOptions {
  /** Tokens to generate per row at most. */
  maxNewTokens: number;
  /** Seed of the sampling streams (row r uses stream r). Default 0. */
  seed?: number;
  /** End-of-sequence token id(s): a row stops after emitting `eosCount` of them. */
  eosTokenId?: number | number[];
  /** EOS tokens a row emits before it stops (default 1; ICoT-SI decodes until the 2nd: CoT EOS, answer EOS). */
  eosCount?: number;
  /**
   * Per row: how far positions jump from the prompt's last token on (0 by default). A model trained
   * with ICoT-SI's kept positions saw the tokens after removed CoT at their original positions.
   */
  positionSkip?: number[];
  /**
   * Per row: how many generated tokens keep their own positions before the jump (default 0: the
   * jump starts at the prompt's last token). ICoT-SI's removal from the right leaves the first
   * CoT tokens in place and moves what follows them: the jump starts at the last CoT token kept.
   */
  positionSkipAfter?: number[];
  /** Id written into padding columns (never attended to). Default: the first EOS id, else 0. */
  padTokenId?: number;
  /** A row stops once its generated tokens end with one of these id sequences. */
  stopTokens?: number[][];
  /** A row stops once its generated text contains one of these strings (needs `decode`). */
  stopStrings?: string[];
  /** Token ids → text, for stop strings (e.g. the folder's tokenizer). */
  decode?: (ids: number[]) => string;
  /** Also return every layer's residual stream and attention for each row (see ProbeRow). */
  probes?: boolean;
  /** Called after each step with the token chosen for every row (null for finished rows). */
  onStep?: (step: number, tokens: (number | null)[]) => void;
  /** Stop early between steps; rows not yet finished end with 'aborted'. */
  signal?: AbortSignal;
}

export type FinishReason = 'eos' | 'stop' | 'length' | 'context' | 'aborted';

export interface GeneratedRow {
  /** Generated tokens (EOS and stop sequences included), prompt excluded. */
  tokens: number[];
  finish: FinishReason;
  /** The stop sequence or string that matched, when finish is 'stop'. */
  stop?: number[] | string;
}

/**
 * Every position of one row (its prompt, then its generated tokens; padding
 * removed), S = prompt length + generated count.
 */
export interface ProbeRow {
  /** Residual stream per layer 0..nLayer (embeddings, then after each block, before ln_f): [S, C] each. */
  hidden: Float32Array[];
  /** Attention probabilities per layer: [H, S, S], query × key, zero above the diagonal. */
  attention: Float32Array[];
}

export interface Generation {
  rows: GeneratedRow[];
  timings: {
    /** The prefill call plus choosing the first tokens. */
    prefillMs: number;
    /** Each decode step (one token per row), including choosing the tokens. */
    stepMs: number[];
    totalMs: number;
    /** Generated tokens over all rows per second of totalMs. */
    tokensPerSecond: number;
  };
  /** With `probes`: one entry per row. */
  probes?: ProbeRow[];
}

/**
 * A model (any family) with its parameters bound, ready to generate. Decode graphs are
 * compiled per variant (last/all logits, probes) on first use. The parameter
 * arrays are referenced, not copied: replace the Generator to use new weights.
 */
export class Generator<A extends ModelArch = GPT2Config> {
  readonly arch: A;
  /** What the engine knows of the architecture, for any family (context length, layers, heads). */
  readonly family: ModelFamily;
  private readonly feedsParams: Record<string, ort.Tensor> = {};
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();
  private readonly sessionOpts: SessionOptions;
  /** How the weights are held and fed (float16: converted once here, half the memory). */
  readonly weightDtype: WeightDtype;

  private constructor(arch: A, sessionOpts: SessionOptions, weightDtype: WeightDtype) {
    this.arch = arch;
    this.family = modelFamily(arch);
    this.sessionOpts = sessionOpts;
    this.weightDtype = weightDtype;
  }

  static create<A extends ModelArch>(arch: A, params: TensorMap, opts: SessionOptions & { weightDtype?: WeightDtype } = {}): Generator<A> {
    const { weightDtype = 'float32', ...sessionOpts } = opts;
    const gen = new Generator<A>(arch, sessionOpts, weightDtype);
    for (const [name, shape] of gen.family.paramShapes()) {
      const t = params.get(name);
      if (!t) throw new Error(`generate: the parameters lack '${name}' (expected [${shape.join(', ')}])`);
      if (t.shape.join(',') !== shape.join(',')) throw new Error(`generate: parameter '${name}' has shape [${t.shape.join(', ')}], the model needs [${shape.join(', ')}]`);
      gen.feedsParams[`p.${name}`] = weightDtype === 'float16' ? float16Tensor(toHalf(t.data), shape) : new ort.Tensor('float32', t.data, shape);
    }
    return gen;
  }

  private session(opts: DecodeGraphOptions): Promise<ort.InferenceSession> {
    const key = `${opts.allLogits ? 'all' : 'last'}${opts.probes ? '+probes' : ''}`;
    let s = this.sessions.get(key);
    if (!s) {
      s = createSession(compileDecodeGraph(this.arch, { ...opts, weightDtype: this.weightDtype, provider: this.sessionOpts.provider }).model, this.sessionOpts);
      this.sessions.set(key, s);
    }
    return s;
  }

  /** Free the ONNX Runtime sessions. */
  async release(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
  }

  /** One call of the decode graph. */
  async step(input: StepInput, opts: DecodeGraphOptions = {}): Promise<StepOutput> {
    const { nLayer, kvHeads: K, headDim: D } = this.family;
    const B = input.ids.length;
    const T = input.ids[0]?.length ?? 0;
    const P = input.past ? input.past[0].key.dims[2] : 0;
    if (input.mask.length !== B * T * (P + T)) throw new Error(`generate: mask has ${input.mask.length} entries, expected B·T·(P+T) = ${B}·${T}·${P + T}`);
    const feeds: Record<string, ort.Tensor> = { ...this.feedsParams };
    feeds.input_ids = int64Matrix(input.ids, B, T);
    feeds.position_ids = int64Matrix(input.positions, B, T);
    feeds.mask = new ort.Tensor('bool', input.mask, [B, 1, T, P + T]);
    for (let l = 0; l < nLayer; l++) {
      const kv = input.past?.[l];
      feeds[`past.${l}.key`] = kv?.key ?? new ort.Tensor('float32', new Float32Array(0), [B, K, 0, D]);
      feeds[`past.${l}.value`] = kv?.value ?? new ort.Tensor('float32', new Float32Array(0), [B, K, 0, D]);
    }
    const out = await (await this.session(opts)).run(feeds);
    const present: KvCache = [];
    for (let l = 0; l < nLayer; l++) present.push({ key: out[`present.${l}.key`], value: out[`present.${l}.value`] });
    const result: StepOutput = { logits: out.logits.data as Float32Array, present };
    if (opts.probes) {
      result.hidden = Array.from({ length: nLayer + 1 }, (_, l) => out[`hidden.${l}`].data as Float32Array);
      result.attention = Array.from({ length: nLayer }, (_, l) => out[`attn.${l}`].data as Float32Array);
    }
    return result;
  }

  /**
   * Continue each prompt (token ids; lengths may differ) by up to maxNewTokens
   * tokens, greedily (temperature 0) or sampled.
   */
  async generate(prompts: number[][], opts: GenerateOptions): Promise<Generation> {
    const { vocabSize: V, maxPositions: nPositions, nLayer, nHead: H } = this.family;
    validateSampling(opts);
    if (!(Number.isInteger(opts.maxNewTokens) && opts.maxNewTokens >= 0)) throw new Error(`generate: maxNewTokens must be a whole number ≥ 0, got ${opts.maxNewTokens}`);
    if (prompts.length === 0) throw new Error('generate: no prompts given');
    prompts.forEach((p, r) => {
      if (p.length === 0) throw new Error(`generate: prompt ${r} is empty; start it with at least one token (e.g. the BOS/EOS token)`);
      if (p.length > nPositions) throw new Error(`generate: prompt ${r} has ${p.length} tokens, more than the model's context of ${nPositions}`);
      const bad = p.find((id) => !(Number.isInteger(id) && id >= 0 && id < V));
      if (bad !== undefined) throw new Error(`generate: prompt ${r} contains token id ${bad}, outside the vocabulary [0, ${V})`);
    });
    if (opts.stopStrings?.length && !opts.decode) throw new Error('generate: stopStrings need a decode function (token ids → text), e.g. the tokenizer');
    const eos = new Set(opts.eosTokenId === undefined ? [] : Array.isArray(opts.eosTokenId) ? opts.eosTokenId : [opts.eosTokenId]);
    const pad = opts.padTokenId ?? [...eos][0] ?? 0;
    if (!(Number.isInteger(pad) && pad >= 0 && pad < V)) throw new Error(`generate: the padding token id ${pad} (padTokenId, else the first eosTokenId) is outside the vocabulary [0, ${V})`);
    const stopTokens = (opts.stopTokens ?? []).filter((s) => s.length > 0);
    const eosCount = opts.eosCount ?? 1;
    const skip = prompts.map((_, b) => opts.positionSkip?.[b] ?? 0);
    if (!skip.every((k) => Number.isInteger(k) && k >= 0)) throw new Error('generate: positionSkip must hold non-negative integers');
    const skipAfter = prompts.map((_, b) => opts.positionSkipAfter?.[b] ?? 0);
    if (!skipAfter.every((k) => Number.isInteger(k) && k >= 0)) throw new Error('generate: positionSkipAfter must hold non-negative integers');
    if (!(Number.isInteger(eosCount) && eosCount >= 1)) throw new Error(`generate: eosCount must be a positive integer (got ${eosCount})`);
    const stopStrings = (opts.stopStrings ?? []).filter((s) => s.length > 0);
    // Enough trailing tokens to contain any stop string: each token decodes to at least one UTF-8 byte.
    const tailTokens = Math.max(0, ...stopStrings.map((s) => new TextEncoder().encode(s).length)) + 1;

    const B = prompts.length;
    const lens = prompts.map((p) => p.length);
    const Tp = Math.max(...lens);
    const padLeft = lens.map((L) => Tp - L);
    const rngs: Rng[] = prompts.map((_, r) => seededRng(opts.seed ?? 0, r));
    const rows: GeneratedRow[] = prompts.map(() => ({ tokens: [], finish: 'length' }));
    const done = new Array<boolean>(B).fill(false);
    const graphOpts: DecodeGraphOptions = { probes: opts.probes };
    await this.session(graphOpts); // compile outside the timings
    const t0 = performance.now();

    /** The position of row b's j-th token (prompt and generated tokens counted together). */
    const positionOf = (b: number, j: number) => j + (j >= lens[b] - 1 + skipAfter[b] ? skip[b] : 0);
    // Which cache columns each row may attend to: everything but its left padding.
    const keyValid = (b: number, s: number) => s >= padLeft[b];

    /** Append a chosen token to row b and decide whether the row is finished. */
    const accept = (b: number, tok: number) => {
      const row = rows[b];
      row.tokens.push(tok);
      if (eos.has(tok) && row.tokens.filter((t) => eos.has(t)).length >= eosCount) return finish(b, 'eos');
      for (const seq of stopTokens) if (endsWith(row.tokens, seq)) return finish(b, 'stop', seq);
      if (stopStrings.length) {
        const text = opts.decode!(row.tokens.slice(-tailTokens));
        const hit = stopStrings.find((s) => text.includes(s));
        if (hit !== undefined) return finish(b, 'stop', hit);
      }
      if (row.tokens.length >= opts.maxNewTokens) return finish(b, 'length');
    };
    const finish = (b: number, reason: FinishReason, stop?: number[] | string) => {
      done[b] = true;
      rows[b].finish = reason;
      if (stop !== undefined) rows[b].stop = stop;
    };
    const choose = (logits: Float32Array): (number | null)[] =>
      rows.map((r, b) => {
        if (done[b]) return null;
        if (lens[b] + r.tokens.length + skip[b] >= nPositions) {
          finish(b, 'context'); // no position left for another token
          return null;
        }
        const tok = sampleToken(logits, b * V, V, opts, rngs[b]);
        accept(b, tok);
        return tok;
      });

    const probeSteps: StepOutput[] = [];
    let prefillMs = 0;
    const stepMs: number[] = [];
    if (opts.maxNewTokens === 0) done.fill(true);
    if (opts.maxNewTokens > 0 || opts.probes) {
      // Prefill: [B, Tp] left-padded, causal within each row.
      const ids = prompts.map((p, b) => [...new Array<number>(padLeft[b]).fill(pad), ...p]);
      const positions = prompts.map((_, b) => Array.from({ length: Tp }, (_, t) => {
        const j = Math.max(0, t - padLeft[b]); // index within the row's prompt
        return positionOf(b, j);
      }));
      const mask = new Uint8Array(B * Tp * Tp); // [B, Tp, Tp]
      for (let b = 0; b < B; b++) for (let t = 0; t < Tp; t++) for (let s = 0; s <= t; s++) mask[(b * Tp + t) * Tp + s] = keyValid(b, s) ? 1 : 0;
      let out = await this.step({ ids, positions, mask, past: null }, graphOpts);
      if (opts.probes) probeSteps.push(out);
      // The token each row chose last and the model has not seen yet (null: none).
      let unfed = choose(out.logits);
      opts.onStep?.(0, unfed);
      prefillMs = performance.now() - t0;

      // Decode: one token per row per step, feeding back the previous present tensors.
      // Finished rows ride along (their outputs are ignored). With probes, a last
      // step feeds the final tokens so that their positions are probed too.
      for (let step = 1; ; step++) {
        if (opts.signal?.aborted) rows.forEach((_, b) => !done[b] && finish(b, 'aborted'));
        const probeOnly = done.every(Boolean);
        if (probeOnly && !(opts.probes && unfed.some((t) => t !== null))) break;
        const ts = performance.now();
        const P = Tp + step - 1; // cache columns so far; the new token goes to column P
        const stepIds = unfed.map((t) => [t ?? pad]);
        const stepPos = rows.map((r, b) => [Math.min(positionOf(b, lens[b] + r.tokens.length - 1), nPositions - 1)]);
        const stepMask = new Uint8Array(B * (P + 1)); // [B, 1, P+1]
        for (let b = 0; b < B; b++) for (let s = 0; s <= P; s++) stepMask[b * (P + 1) + s] = keyValid(b, s) ? 1 : 0;
        out = await this.step({ ids: stepIds, positions: stepPos, mask: stepMask, past: out.present }, graphOpts);
        if (opts.probes) probeSteps.push(out);
        if (probeOnly) break;
        unfed = choose(out.logits);
        opts.onStep?.(step, unfed);
        stepMs.push(performance.now() - ts);
      }
    }
    const totalMs = performance.now() - t0;
    const generated = rows.reduce((n, r) => n + r.tokens.length, 0);
    const result: Generation = {
      rows,
      timings: { prefillMs, stepMs, totalMs, tokensPerSecond: totalMs > 0 ? (generated / totalMs) * 1000 : 0 },
    };
    if (opts.probes) result.probes = rows.map((r, b) => probeRow(probeSteps, b, lens[b], padLeft[b], Tp, r.tokens.length, this.family.hiddenSize, H, nLayer));
    return result;
  }
}

/** True when `xs` ends with `suffix`. */
function endsWith(xs: number[], suffix: number[]): boolean {
  if (suffix.length > xs.length) return false;
  const off = xs.length - suffix.length;
  return suffix.every((x, i) => xs[off + i] === x);
}

function int64Matrix(rows: number[][], B: number, T: number): ort.Tensor {
  const data = new BigInt64Array(B * T);
  for (let b = 0; b < B; b++) {
    if (rows[b].length !== T) throw new Error(`generate: row ${b} has ${rows[b].length} entries, expected ${T}`);
    for (let t = 0; t < T; t++) data[b * T + t] = BigInt(rows[b][t]);
  }
  return new ort.Tensor('int64', data, [B, T]);
}

/**
 * Gather one row's probes from the prefill and the decode steps, dropping its
 * padding: sequence index j < L sits in cache column pad + j, generated token
 * i (index L + i) in column Tp + i, and step i fed exactly that token.
 */
function probeRow(steps: StepOutput[], b: number, L: number, pad: number, Tp: number, generated: number, C: number, H: number, nLayer: number): ProbeRow {
  const S = L + generated;
  const column = (j: number) => (j < L ? pad + j : Tp + (j - L));
  // Where query j comes from: (step, t within that step's T).
  const source = (j: number): [number, number] => (j < L ? [0, pad + j] : [1 + (j - L), 0]);
  const hidden: Float32Array[] = [];
  for (let l = 0; l <= nLayer; l++) {
    const h = new Float32Array(S * C); // [S, C]
    for (let j = 0; j < S; j++) {
      const [st, t] = source(j);
      const T = st === 0 ? Tp : 1;
      const src = steps[st].hidden![l]; // [B, T, C]
      h.set(src.subarray((b * T + t) * C, (b * T + t + 1) * C), j * C);
    }
    hidden.push(h);
  }
  const attention: Float32Array[] = [];
  for (let l = 0; l < nLayer; l++) {
    const a = new Float32Array(H * S * S); // [H, S, S]
    for (let j = 0; j < S; j++) {
      const [st, t] = source(j);
      const T = st === 0 ? Tp : 1;
      const Tk = st === 0 ? Tp : Tp + st; // P + T of that call
      const src = steps[st].attention![l]; // [B, H, T, Tk]
      for (let h = 0; h < H; h++) {
        const base = ((b * H + h) * T + t) * Tk;
        for (let k = 0; k <= j; k++) a[(h * S + j) * S + k] = src[base + column(k)];
      }
    }
    attention.push(a);
  }
  return { hidden, attention };
}
