/**
 * A trained Bitune (or LoRA) model at work: the prompt's mixed cache from the
 * prefill graph (both passes, both adapters, the learned α), then plain cached
 * decoding with the `default` adapter merged into the base (under full
 * fine-tuning: the `default` copy of the model) (the engine's
 * Generator, one token per step against the cache). Multiple-choice scoring
 * runs the whole computation once per (prompt, choice) row and reads the
 * continuation's summed log-likelihood from the graph.
 */
import { Generator, type KvCache } from '../../engine/generate.ts';
import { fullCopyWeights } from '../../engine/full-finetune.ts';
import { mergeAdapter, type Adapter, type WeightLayout } from '../../engine/lora.ts';
import { float16Tensor, toHalf } from '../../engine/half.ts';
import type { ModelArch, ModelFamily, WeightDtype } from '../../engine/models/family.ts';
import { createSession, ort, type SessionOptions } from '../../engine/runtime.ts';
import { argmax } from '../../engine/sampling.ts';
import type { TensorMap } from '../../engine/safetensors.ts';
import { compileBitune, isFullFinetune, type BituneMode } from './graph.ts';
import { layRows, roundUp8, shapeFor, type TokenPair } from './layout.ts';
import type { Variant } from './variant.ts';

export interface BituneModelParts {
  family: ModelFamily;
  variant: Variant;
  adapters: Adapter[];
  base: TensorMap;
  /** Adapters' and mixing parameters. */
  trained: TensorMap;
  layout: WeightLayout;
  /** float16: the base is held and fed as float16, widened in the graphs (see AdapterStep). */
  baseDtype?: WeightDtype;
}

export class BituneModel {
  private readonly parts: BituneModelParts;
  private readonly feeds: Record<string, ort.Tensor> = {};
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();
  private readonly session: SessionOptions;
  private decoder: Generator<ModelArch> | null = null;

  constructor(parts: BituneModelParts, session: SessionOptions = {}) {
    this.parts = parts;
    this.session = session;
    for (const [name, t] of parts.base) this.feeds[`p.${name}`] = parts.baseDtype === 'float16' ? float16Tensor(toHalf(t.data), t.shape) : new ort.Tensor('float32', t.data, t.shape);
    for (const [name, t] of parts.trained) this.feeds[`p.${name}`] = new ort.Tensor('float32', t.data, t.shape);
  }

  private graph(mode: BituneMode, B: number, Pm: number, S: number): Promise<ort.InferenceSession> {
    const key = `${mode}:${B}:${Pm}:${S}`;
    let s = this.sessions.get(key);
    if (!s) {
      const p = this.parts;
      s = createSession(compileBitune({ family: p.family, variant: p.variant, adapters: p.adapters, batch: B, prefix: Pm, rest: S, mode, baseDtype: p.baseDtype, provider: this.session.provider }).model, this.session);
      this.sessions.set(key, s);
    }
    return s;
  }

  private inputs(names: readonly string[]): Record<string, ort.Tensor> {
    const out: Record<string, ort.Tensor> = {};
    for (const n of names) if (this.feeds[n]) out[n] = this.feeds[n];
    return out;
  }

  /** Summed log-likelihood of each pair's answer tokens given its prompt, and their count. */
  async score(pairs: TokenPair[], padId: number): Promise<{ logprob: number[]; tokens: number[] }> {
    const { prefix, rest } = shapeFor(pairs, this.parts.family.maxPositions);
    const B = pairs.length;
    const s = await this.graph('score', B, prefix, rest);
    const { ids, labels, positions } = layRows(pairs, prefix, rest, padId);
    const T = prefix + rest;
    const out = await s.run({
      ...this.inputs(s.inputNames),
      input_ids: new ort.Tensor('int64', ids, [B, T]),
      labels: new ort.Tensor('int64', labels, [B, T]),
      position_ids: new ort.Tensor('int64', positions, [B, T]),
    });
    return { logprob: Array.from(out.logprob_sum.data as Float32Array), tokens: Array.from(out.tokens.data as Float32Array) };
  }

  /** Greedy continuations of the prompts, stopping at EOS (included in the tokens) or after maxNewTokens. */
  async generate(prompts: number[][], opts: { maxNewTokens: number; eosId: number; padId: number }): Promise<number[][]> {
    const { family } = this.parts;
    const B = prompts.length;
    const Pm = roundUp8(Math.max(1, ...prompts.map((p) => p.length - 1)));
    const lens = prompts.map((p) => p.length - 1);
    if (prompts.some((p) => p.length === 0)) throw new Error('generate: a prompt is empty');
    const longest = Math.max(...prompts.map((p) => p.length));
    if (longest > family.maxPositions) throw new Error(`generate: a prompt has ${longest} tokens, more than the model's ${family.maxPositions} positions`);
    const ids = new BigInt64Array(B * Pm).fill(BigInt(opts.padId));
    const positions = new BigInt64Array(B * Pm);
    const keyMask = new Uint8Array(B * Pm);
    prompts.forEach((p, b) => {
      for (let j = 0; j < lens[b]; j++) {
        const col = b * Pm + Pm - lens[b] + j;
        ids[col] = BigInt(p[j]);
        positions[col] = BigInt(j);
        keyMask[col] = 1;
      }
    });
    const pre = await this.graph('prefill', B, Pm, 2);
    const out = await pre.run({
      ...this.inputs(pre.inputNames),
      input_ids: new ort.Tensor('int64', ids, [B, Pm]),
      position_ids: new ort.Tensor('int64', positions, [B, Pm]),
      key_mask: new ort.Tensor('bool', keyMask, [B, Pm]),
    });
    let past: KvCache = Array.from({ length: family.nLayer }, (_, l) => ({ key: out[`mixed.${l}.key`], value: out[`mixed.${l}.value`] }));
    const dec = this.decoderFor();
    const V = family.vocabSize;
    const generated: number[][] = prompts.map(() => []);
    const done = prompts.map(() => opts.maxNewTokens <= 0);
    let feed = prompts.map((p) => p[p.length - 1]);
    for (let step = 0; !done.every(Boolean); step++) {
      const P = Pm + step;
      const mask = new Uint8Array(B * (P + 1));
      for (let b = 0; b < B; b++) for (let s = 0; s <= P; s++) mask[b * (P + 1) + s] = s >= Pm - lens[b] ? 1 : 0;
      const r = await dec.step({ ids: feed.map((t) => [t]), positions: prompts.map((_, b) => [Math.min(lens[b] + step, family.maxPositions - 1)]), mask, past });
      past = r.present;
      feed = feed.map((_, b) => {
        const tok = argmax(r.logits, b * V, V);
        if (!done[b]) {
          generated[b].push(tok);
          if (tok === opts.eosId || generated[b].length >= opts.maxNewTokens || lens[b] + step + 2 >= family.maxPositions) done[b] = true;
        }
        return tok;
      });
    }
    return generated;
  }

  private decoderFor(): Generator<ModelArch> {
    if (!this.decoder) {
      const p = this.parts;
      const def = p.adapters.find((a) => a.name === 'default')!;
      const merged = isFullFinetune(p.adapters) ? fullCopyWeights('default', p.trained, p.family.paramShapes()) : mergeAdapter(p.base, def, p.trained, p.layout);
      this.decoder = Generator.create(p.family.arch, merged, { ...this.session, weightDtype: p.baseDtype });
    }
    return this.decoder;
  }

  async release(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
    await this.decoder?.release();
    this.decoder = null;
  }
}
