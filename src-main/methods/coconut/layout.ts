/**
 * How a Coconut example becomes tokens at a stage, in the ICoT layout with
 * Coconut's markers (facebookresearch/coconut `get_cot_latent_dataset`):
 *
 *   input EOS <bot> <latent>×n <eot> steps[k:] EOS #### answer EOS
 *
 * Labels are −100 up to and including `<eot>`: no loss on the question, the
 * markers or the thoughts; the remaining steps and the answer carry it. With
 * the pause-token control the same sequence has `<pause>` tokens (a learned
 * embedding, one pass) where the continuous thoughts would be.
 * Generation starts from `input EOS <bot>`.
 */
import { compactTokenizerForTexts } from '../../engine/tokenizers/compact.ts';
import type { SeqTokenizer } from '../../engine/tokenizers/seq-tokenizer.ts';
import type { CotExample } from '../shared/examples.ts';
import { splitSteps, stageLayout, type CoconutCurriculum } from './curriculum.ts';

export const BOT = '<bot>';
export const EOT = '<eot>';
export const LATENT = '<latent>';
export const PAUSE = '<pause>';

export type Thoughts = 'continuous' | 'pause';

/** The marker ids a layout needs. */
export interface Markers {
  bot: number;
  eot: number;
  /** `<latent>` (continuous thoughts) or `<pause>` (the control). */
  thought: number;
}

export const IGNORE_INDEX = -100;

/** The compact tokenizer for a fresh model: the data's symbols and the markers. */
export function coconutTokenizerFor(examples: Iterable<CotExample>): SeqTokenizer {
  function* texts() {
    for (const ex of examples) yield* [ex.input, ex.cot, ex.answer];
    yield `${BOT} ${EOT} ${LATENT} ${PAUSE}`;
  }
  return compactTokenizerForTexts(texts());
}

/** The markers' ids in a tokenizer; an error naming what it lacks (e.g. a folder model that was not trained with them). */
export function markersOf(tok: SeqTokenizer, thoughts: Thoughts): Markers {
  const one = (symbol: string) => {
    let ids: number[] = [];
    try {
      ids = tok.encode(` ${symbol} `);
    } catch {
      // reported below
    }
    if (ids.length !== 1) throw new Error(`the model's tokenizer has no single token for ${symbol}: start from a fresh model, or from a Coconut run's model (its tokenizer has ${BOT} ${EOT} ${LATENT} ${PAUSE})`);
    return ids[0];
  };
  return { bot: one(BOT), eot: one(EOT), thought: one(thoughts === 'continuous' ? LATENT : PAUSE) };
}

export interface EncodedExample {
  ids: number[];
  labels: number[];
  /** Thoughts in it. */
  thoughts: number;
}

/** An example's steps, tokenized once. */
export interface TokenizedExample {
  input: number[];
  steps: number[][];
  /** ` #### answer ` */
  answer: number[];
}

export function tokenizeExample(tok: SeqTokenizer, ex: CotExample): TokenizedExample {
  return { input: tok.encode(` ${ex.input} `), steps: splitSteps(ex.cot).map((s) => tok.encode(` ${s} `)), answer: tok.encode(` #### ${ex.answer} `) };
}

/** The example at a stage. */
export function encodeAtStage(tok: SeqTokenizer, m: Markers, ex: TokenizedExample, c: CoconutCurriculum, stage: number): EncodedExample {
  const { removed, thoughts } = stageLayout(c, stage, ex.steps.length);
  const head = [...ex.input, tok.eosId, m.bot, ...new Array<number>(thoughts).fill(m.thought), m.eot];
  const tail = [...ex.steps.slice(removed).flat(), tok.eosId, ...ex.answer, tok.eosId];
  return { ids: [...head, ...tail], labels: [...new Array<number>(head.length).fill(IGNORE_INDEX), ...tail], thoughts };
}

/** What generation starts from: `input EOS <bot>`. */
export function promptOf(tok: SeqTokenizer, m: Markers, ex: TokenizedExample): number[] {
  return [...ex.input, tok.eosId, m.bot];
}

/**
 * Reads what the model wrote after `<eot>`: the language steps up to the first EOS, then the
 * answer segment up to the second; the answer is the text after `####`, commas removed (null
 * without a first EOS or a `####`).
 */
export function parseGenerated(tok: SeqTokenizer, ids: number[]): { steps: string; answer: string | null; stepTokens: number } {
  const first = ids.indexOf(tok.eosId);
  if (first < 0) return { steps: tok.decode(ids).trim(), answer: null, stepTokens: ids.length };
  const second = ids.indexOf(tok.eosId, first + 1);
  const segment = tok.decode(ids.slice(first + 1, second < 0 ? ids.length : second));
  const at = segment.indexOf('####');
  return { steps: tok.decode(ids.slice(0, first)).trim(), answer: at < 0 ? null : segment.slice(at + 4).trim().replaceAll(',', ''), stepTokens: first };
}
