/**
 * Generation with continuous thoughts (Coconut's `generate`, batched): the
 * prompt is prefilled, then each of n latent passes feeds the last hidden
 * state (after the final norm) back as the next position's input embedding,
 * then the suffix tokens (e.g. `<eot>`) go in and decoding is greedy until
 * the row has written its EOS tokens. Unlike the paper's code, which reruns
 * the whole prefix for every token, every call here reuses the key/value
 * cache: one pass per thought and per token.
 *
 * One graph serves every call: the family's forward pass over inputs that
 * are, per position, either a token's embedding or a given vector
 * (`use_embeds`), with the per-row positions and mask of generate.ts's decode
 * graph (left-padded rows, padding never attended to).
 */
import { modelFamily, paramInputs, type ModelArch, type ModelFamily } from './models/family.ts';
import { GraphBuilder, type Value } from './onnx/graph.ts';
import { createSession, ort, type SessionOptions } from './runtime.ts';
import type { TensorMap } from './safetensors.ts';
import { targetFor, type ProviderName } from './target.ts';

/**
 * Inputs: `p.<name>`; `input_ids`, `position_ids` [B, T]; `embeds` [B, T, C] with `use_embeds`
 * bool [B, T, 1] (where set, the vector is the input instead of the token's embedding); `mask`
 * [B, 1, T, P+T]; `past.<l>.key|value` [B, K, P, D]. Outputs: `logits` [B, V] and `last_hidden`
 * [B, C] (the final norm's output) at the last position; `present.<l>.key|value`.
 */
export function compileLatentDecodeGraph(arch: ModelArch, provider?: ProviderName): Uint8Array {
  const family = modelFamily(arch);
  const { kvHeads: K, headDim: D, hiddenSize: C } = family;
  const g = new GraphBuilder({ target: targetFor(provider) });
  const p = paramInputs(g, family.paramShapes());
  const inputIds = g.tokenInput('input_ids', ['B', 'T']);
  const positions = g.tokenInput('position_ids', ['B', 'T']);
  const embeds = g.input('embeds', 'float32', ['B', 'T', C]);
  const useEmbeds = g.input('use_embeds', 'bool', ['B', 'T', 1]);
  const mask = g.input('mask', 'bool', ['B', 1, 'T', 'P+T']);
  const past: { key: Value; value: Value }[] = [];
  for (let l = 0; l < family.nLayer; l++) {
    past.push({ key: g.input(`past.${l}.key`, 'float32', ['B', K, 'P', D]), value: g.input(`past.${l}.value`, 'float32', ['B', K, 'P', D]) });
  }
  const tokens = g.gather(p[family.embedParam], inputIds, 0, 'tok_emb'); // [B, T, C]
  const inputEmbeds = g.where(useEmbeds, embeds, tokens, 'inputs'); // [B, T, C]
  const fwd = family.forward(g, p, { inputIds, positions, mask, past, inputEmbeds });
  const lastOf = (x: Value, hint: string) => g.squeeze(g.slice(x, [-1], [Number.MAX_SAFE_INTEGER], [1]), [1], hint); // [B, ·]
  const outs = [
    g.named(lastOf(fwd.logits, 'last_logits'), 'logits'), // [B, V]
    g.named(family.finalNorm(g, p, lastOf(fwd.hidden[fwd.hidden.length - 1], 'last_resid')), 'last_hidden'), // [B, C]
    ...fwd.present.flatMap((kv, l) => [g.named(kv.key, `present.${l}.key`), g.named(kv.value, `present.${l}.value`)]),
  ];
  return g.toModel(outs, { name: `${family.name}_latent_decode` });
}

export interface LatentGenerateOptions {
  /** Continuous thoughts after each prompt (0: none). */
  thoughts: number;
  /** Tokens fed after the thoughts, before decoding (Coconut's `<eot>`). */
  suffix: number[];
  maxNewTokens: number;
  eosTokenId: number;
  /** EOS tokens a row writes before it stops (default 1). */
  eosCount?: number;
  padTokenId: number;
  /** Keep each thought's vector and its logits (the logit lens on it). */
  keepThoughts?: boolean;
}

export interface LatentRow {
  /** Greedy tokens after the suffix (EOS included). */
  tokens: number[];
  /** With keepThoughts: thought k's vector [C], fed back as the input after the prompt's k-th latent position. */
  thoughts?: Float32Array[];
  /** With keepThoughts: the logits [V] read at the position whose last hidden state is thought k (the logit lens on it). */
  thoughtLogits?: Float32Array[];
}

export interface LatentGeneration {
  rows: LatentRow[];
  /** Wall time of the calls, prefill to the last token. */
  totalMs: number;
}

type KvCache = { key: ort.Tensor; value: ort.Tensor }[];

/** A model with its parameters bound, generating through continuous thoughts. */
export class LatentGenerator {
  readonly family: ModelFamily;
  private readonly feeds: Record<string, ort.Tensor> = {};
  private session: Promise<ort.InferenceSession> | null = null;
  private readonly arch: ModelArch;
  private readonly opts: SessionOptions;

  constructor(arch: ModelArch, params: TensorMap, opts: SessionOptions = {}) {
    this.arch = arch;
    this.family = modelFamily(arch);
    this.opts = opts;
    for (const [name, shape] of this.family.paramShapes()) {
      const t = params.get(name);
      if (!t || t.shape.join(',') !== shape.join(',')) throw new Error(`generate: parameter '${name}' is ${t ? `[${t.shape.join(', ')}]` : 'missing'}, the model needs [${shape.join(', ')}]`);
      this.feeds[`p.${name}`] = new ort.Tensor('float32', t.data, shape);
    }
  }

  private sessionNow(): Promise<ort.InferenceSession> {
    this.session ??= createSession(compileLatentDecodeGraph(this.arch, this.opts.provider), this.opts);
    return this.session;
  }

  async release(): Promise<void> {
    if (this.session) await (await this.session).release();
    this.session = null;
  }

  /** One call: T new inputs per row after the cache: token ids, or (T = 1) one vector per row where `vectors` gives them. */
  private async call(ids: number[][], vectors: Float32Array[] | null, positions: number[][], valid: (b: number, s: number) => boolean, past: KvCache | null) {
    const { nLayer, kvHeads: K, headDim: D, hiddenSize: C } = this.family;
    const B = ids.length;
    const T = ids[0].length;
    const P = past ? past[0].key.dims[2] : 0;
    const mask = new Uint8Array(B * T * (P + T)); // [B, 1, T, P+T]
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let s = 0; s <= P + t; s++) mask[(b * T + t) * (P + T) + s] = valid(b, s) ? 1 : 0;
    const embeds = new Float32Array(B * T * C);
    const use = new Uint8Array(B * T);
    if (vectors) {
      if (T !== 1) throw new Error('generate: a thought is fed one position at a time');
      vectors.forEach((v, b) => embeds.set(v, b * C));
      use.fill(1);
    }
    const feeds: Record<string, ort.Tensor> = {
      ...this.feeds,
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.flat(), BigInt), [B, T]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from(positions.flat(), BigInt), [B, T]),
      embeds: new ort.Tensor('float32', embeds, [B, T, C]),
      use_embeds: new ort.Tensor('bool', use, [B, T, 1]),
      mask: new ort.Tensor('bool', mask, [B, 1, T, P + T]),
    };
    for (let l = 0; l < nLayer; l++) {
      feeds[`past.${l}.key`] = past?.[l].key ?? new ort.Tensor('float32', new Float32Array(0), [B, K, 0, D]);
      feeds[`past.${l}.value`] = past?.[l].value ?? new ort.Tensor('float32', new Float32Array(0), [B, K, 0, D]);
    }
    const out = await (await this.sessionNow()).run(feeds);
    const present: KvCache = Array.from({ length: nLayer }, (_, l) => ({ key: out[`present.${l}.key`], value: out[`present.${l}.value`] }));
    return { logits: out.logits.data as Float32Array, hidden: out.last_hidden.data as Float32Array, present };
  }

  /** Greedy continuation of each prompt through `thoughts` continuous thoughts and the suffix. */
  async generate(prompts: number[][], opts: LatentGenerateOptions): Promise<LatentGeneration> {
    const { vocabSize: V, hiddenSize: C, maxPositions } = this.family;
    if (prompts.length === 0 || prompts.some((p) => p.length === 0)) throw new Error('generate: every prompt needs at least one token');
    const B = prompts.length;
    const lens = prompts.map((p) => p.length);
    const Tp = Math.max(...lens);
    if (Tp + opts.thoughts + opts.suffix.length > maxPositions) throw new Error(`generate: a prompt of ${Tp} tokens, ${opts.thoughts} thoughts and ${opts.suffix.length} suffix tokens exceed the model's ${maxPositions} positions`);
    const padLeft = lens.map((L) => Tp - L);
    const valid = (b: number, s: number) => s >= padLeft[b];
    const rows: LatentRow[] = prompts.map(() => (opts.keepThoughts ? { tokens: [], thoughts: [], thoughtLogits: [] } : { tokens: [] }));
    await this.sessionNow(); // compile outside the timing
    const t0 = performance.now();
    // The prefill: [B, Tp], left-padded.
    let out = await this.call(
      prompts.map((p, b) => [...new Array<number>(padLeft[b]).fill(opts.padTokenId), ...p]),
      null,
      prompts.map((_, b) => Array.from({ length: Tp }, (_, t) => Math.max(0, t - padLeft[b]))),
      valid, null,
    );
    let next = lens.slice(); // each row's next position
    const rowOf = (a: Float32Array, b: number, width: number) => a.slice(b * width, (b + 1) * width);
    // The thoughts: the last hidden state goes back in as the next input.
    for (let k = 0; k < opts.thoughts; k++) {
      const vectors = rows.map((_, b) => rowOf(out.hidden, b, C));
      if (opts.keepThoughts) rows.forEach((r, b) => (r.thoughts!.push(vectors[b]), r.thoughtLogits!.push(rowOf(out.logits, b, V))));
      out = await this.call(rows.map(() => [0]), vectors, next.map((q) => [q]), valid, out.present);
      next = next.map((q) => q + 1);
    }
    if (opts.suffix.length) {
      out = await this.call(rows.map(() => opts.suffix), null, next.map((q) => opts.suffix.map((_, i) => q + i)), valid, out.present);
      next = next.map((q) => q + opts.suffix.length);
    }
    // Greedy decoding until each row's last EOS.
    const eosCount = opts.eosCount ?? 1;
    const done = new Array<boolean>(B).fill(opts.maxNewTokens === 0);
    const seen = new Array<number>(B).fill(0);
    for (;;) {
      const chosen = rows.map((r, b) => {
        if (done[b]) return opts.padTokenId;
        let best = 0;
        for (let v = 1; v < V; v++) if (out.logits[b * V + v] > out.logits[b * V + best]) best = v;
        r.tokens.push(best);
        if (best === opts.eosTokenId) seen[b]++;
        if (seen[b] >= eosCount || r.tokens.length >= opts.maxNewTokens || next[b] + 1 >= maxPositions) done[b] = true;
        return best;
      });
      if (done.every(Boolean)) break;
      out = await this.call(chosen.map((t) => [t]), null, next.map((q) => [q]), valid, out.present);
      next = next.map((q) => q + 1);
    }
    return { rows, totalMs: performance.now() - t0 };
  }
}
