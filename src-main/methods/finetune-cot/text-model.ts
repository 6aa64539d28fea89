/**
 * A library model as a text-in, text-out completer: the model folder's
 * weights and tokenizer (a Stepwise word or compact tokenizer, or the
 * folder's own BPE), decoding with the engine's KV-cached Generator. Both the
 * OpenAI-compatible endpoints of `stepwise serve` and the in-app library
 * teacher complete text through it, so a model answers the same either way.
 *
 * As OpenAI's completions do, generation stops at end-of-sequence, at
 * `maxTokens`, or at a stop string, which is left out of the text.
 */
import { Generator } from '../../engine/generate.ts';
import { loadModelFolder } from '../../engine/hf/model-folder.ts';
import type { ModelArch } from '../../engine/models/family.ts';
import type { ProviderName } from '../../engine/runtime.ts';
import type { SeqTokenizer } from '../../engine/tokenizers/seq-tokenizer.ts';
import { folderCodec } from './layout.ts';

export interface CompleteOptions {
  maxTokens: number;
  /** 0 = greedy. */
  temperature: number;
  topP?: number;
  stop?: string[];
  seed?: number;
  signal?: AbortSignal;
}

export interface Completion {
  text: string;
  finish: 'stop' | 'length';
  promptTokens: number;
  completionTokens: number;
}

export class TextModel {
  readonly tok: SeqTokenizer;
  /** Any family's (GPT-2, Llama). */
  readonly arch: ModelArch;
  private readonly gen: Generator<ModelArch>;

  private constructor(tok: SeqTokenizer, arch: ModelArch, gen: Generator<ModelArch>) {
    this.tok = tok;
    this.arch = arch;
    this.gen = gen;
  }

  /** Loads a Hugging Face model folder of any family the engine loads (a library model or a run's best/). */
  static load(dir: string, opts: { provider?: ProviderName; threads?: number } = {}): TextModel {
    const folder = loadModelFolder(dir);
    const tok = folderCodec(dir, folder.tokenizer);
    return new TextModel(tok, folder.config, Generator.create(folder.config, folder.params, opts));
  }

  /** Token ids of a prompt; an empty prompt starts from end-of-sequence, as GPT-2's does. */
  encodePrompt(prompt: string): number[] {
    const ids = this.tok.encode(prompt);
    return ids.length ? ids : [this.tok.eosId];
  }

  /** Completes every prompt (decoded together as one batch). */
  async complete(prompts: string[], opts: CompleteOptions): Promise<Completion[]> {
    const context = this.gen.family.maxPositions;
    const ids = prompts.map((p, i) => {
      const e = this.encodePrompt(p);
      if (e.length >= context) throw new Error(`prompt ${i} has ${e.length} tokens; the model's context is ${context}`);
      return e;
    });
    const maxNew = Math.max(0, Math.min(opts.maxTokens, context - Math.min(...ids.map((e) => e.length))));
    const stop = (opts.stop ?? []).filter((s) => s !== '');
    const out = await this.gen.generate(ids, {
      maxNewTokens: maxNew, temperature: opts.temperature, topP: opts.topP, seed: opts.seed ?? 0, eosTokenId: this.tok.eosId, padTokenId: this.tok.padId,
      stopStrings: stop.length ? stop : undefined, decode: stop.length ? (t) => this.tok.decode(t) : undefined, signal: opts.signal,
    });
    return out.rows.map((row, i) => {
      let text = this.tok.decode(row.tokens.filter((t) => t !== this.tok.eosId));
      let finish: Completion['finish'] = row.finish === 'eos' || row.finish === 'stop' ? 'stop' : 'length';
      for (const s of stop) {
        const at = text.indexOf(s);
        if (at >= 0) {
          text = text.slice(0, at);
          finish = 'stop';
        }
      }
      return { text, finish, promptTokens: ids[i].length, completionTokens: row.tokens.length };
    });
  }

  release(): Promise<void> {
    return this.gen.release();
  }
}
