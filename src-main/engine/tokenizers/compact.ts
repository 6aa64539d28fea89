/**
 * The compact tokenizer, for models trained from scratch: text is split on
 * whitespace and every symbol is one token. Multiplication in the paper's
 * format is then exactly one token per digit or sign, from a fixed
 * vocabulary of 17; any other data set gets a vocabulary of the symbols it
 * contains (the multiplication ones first, so ids agree), stored with a run
 * as its spec. Decoding joins symbols with single spaces.
 */
import type { SeqTokenizer } from './seq-tokenizer.ts';

export const PAD = '<pad>';
export const EOS = '<eos>';

/** The fixed multiplication vocabulary; a symbol's id is its index. */
export const MULT_SYMBOLS: readonly string[] = [PAD, EOS, '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '+', '(', ')', '####'];

export interface CompactSpec {
  kind: 'compact';
  /** Symbol of each id; '<pad>' is 0 and '<eos>' is 1. */
  symbols: string[];
}

class CompactTokenizer implements SeqTokenizer {
  readonly kind = 'compact' as const;
  readonly eosId = 1;
  readonly padId = 0;
  readonly vocabSize: number;
  private readonly symbols: readonly string[];
  private readonly ids: Map<string, number>;

  constructor(symbols: readonly string[]) {
    this.symbols = symbols;
    this.ids = new Map(symbols.map((s, i) => [s, i]));
    this.vocabSize = symbols.length;
  }

  encode(text: string): number[] {
    const out: number[] = [];
    for (const symbol of text.split(/\s+/)) {
      if (symbol === '') continue;
      const id = this.ids.get(symbol);
      if (id === undefined) {
        throw new Error(
          `the compact tokenizer has no symbol "${symbol}" (in "${text.trim().slice(0, 80)}"); it knows ${this.vocabSize}: ${this.symbols.slice(2, 40).join(' ')}${this.vocabSize > 42 ? ' …' : ''}`,
        );
      }
      out.push(id);
    }
    return out;
  }

  decode(ids: number[]): string {
    return ids
      .map((id) => {
        const symbol = this.symbols[id];
        if (symbol === undefined) throw new Error(`token id ${id} is outside the compact vocabulary of ${this.vocabSize}`);
        return symbol;
      })
      .join(' ');
  }

  spec(): CompactSpec {
    return { kind: 'compact', symbols: [...this.symbols] };
  }
}

/** The fixed tokenizer for multiplication in the paper's format. */
export function multTokenizer(): SeqTokenizer {
  return new CompactTokenizer(MULT_SYMBOLS);
}

/** A tokenizer knowing every whitespace-separated symbol of `texts`: the multiplication ones, then the rest in code-point order. */
export function compactTokenizerForTexts(texts: Iterable<string>): SeqTokenizer {
  const known = new Set(MULT_SYMBOLS);
  const extra = new Set<string>();
  for (const text of texts) {
    for (const symbol of text.split(/\s+/)) if (symbol !== '' && !known.has(symbol)) extra.add(symbol);
  }
  return new CompactTokenizer([...MULT_SYMBOLS, ...[...extra].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))]);
}

/** The tokenizer a stored spec describes; throws saying what is wrong with it. */
export function compactTokenizerFromSpec(spec: unknown): SeqTokenizer {
  const { kind, symbols } = (spec ?? {}) as Partial<CompactSpec>;
  if (kind !== 'compact' || !Array.isArray(symbols)) throw new Error('expected a compact tokenizer spec {"kind": "compact", "symbols": [...]}');
  if (symbols[0] !== PAD || symbols[1] !== EOS) throw new Error(`expected the compact tokenizer's symbols to start with "${PAD}", "${EOS}"`);
  const seen = new Set<string>();
  for (const s of symbols) {
    if (typeof s !== 'string' || s === '' || /\s/.test(s)) throw new Error(`expected every compact symbol to be a non-empty string without whitespace, got ${JSON.stringify(s)}`);
    if (seen.has(s)) throw new Error(`the compact symbol "${s}" appears twice`);
    seen.add(s);
  }
  return new CompactTokenizer(symbols);
}
