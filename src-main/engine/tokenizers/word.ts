/**
 * A word-level tokenizer for students trained from scratch on English
 * rationales, where GPT-2's 50,257 BPE ids would make a small model mostly
 * embedding table and a character-level one would make sequences 4× longer.
 *
 * Text is cut into pieces as GPT-2's pre-tokenizer does, a leading space
 * belonging to the piece that follows it: ` coin`, ` flips`, `.`, `\n`, and
 * every digit on its own (` 4`, `7`), so numbers of any length are spelled
 * by the 20 digit pieces. The vocabulary is the pieces seen at least
 * `minCount` times in the training text plus every single character seen
 * (and each with a leading space); any other piece is spelled character by
 * character, so every text made of known characters round-trips exactly
 * (`decode(encode(t)) === t`). A character never seen becomes `<unk>`.
 */
import type { SeqTokenizer } from './seq-tokenizer.ts';

export const PAD = '<pad>';
export const EOS = '<eos>';
export const UNK = '<unk>';

export interface WordSpec {
  kind: 'words';
  /** The piece of each id; 0 = <pad>, 1 = <eos>, 2 = <unk>. */
  pieces: string[];
}

const PIECE = / ?[A-Za-z]+| ?\d| ?[^\sA-Za-z\d]|\s/gu;

/** Text → pieces (see the module comment). */
export function pieces(text: string): string[] {
  return text.match(PIECE) ?? [];
}

class WordTokenizer implements SeqTokenizer {
  readonly kind = 'words' as const;
  readonly padId = 0;
  readonly eosId = 1;
  readonly unkId = 2;
  readonly vocabSize: number;
  private readonly table: readonly string[];
  private readonly ids: Map<string, number>;

  constructor(table: readonly string[]) {
    this.table = table;
    this.ids = new Map(table.map((p, i) => [p, i]));
    this.vocabSize = table.length;
  }

  encode(text: string): number[] {
    const out: number[] = [];
    for (const piece of pieces(text)) {
      const id = this.ids.get(piece);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      // Spelled out: a leading space stays with the first character when that pair is known.
      const chars = [...piece];
      let start = 0;
      if (chars[0] === ' ' && chars.length > 1 && this.ids.has(` ${chars[1]}`)) {
        out.push(this.ids.get(` ${chars[1]}`)!);
        start = 2;
      }
      for (const c of chars.slice(start)) out.push(this.ids.get(c) ?? this.unkId);
    }
    return out;
  }

  decode(ids: number[]): string {
    let text = '';
    for (const id of ids) {
      if (id === this.padId || id === this.eosId) continue;
      const piece = this.table[id];
      if (piece === undefined) throw new Error(`token id ${id} is outside the word vocabulary of ${this.vocabSize}`);
      text += id === this.unkId ? '\uFFFD' : piece;
    }
    return text;
  }

  spec(): WordSpec {
    return { kind: 'words', pieces: [...this.table] };
  }
}

/** A word tokenizer for `texts`: pieces seen ≥ minCount times (at most maxVocab ids), and every character. */
export function wordTokenizerFor(texts: Iterable<string>, opts: { minCount?: number; maxVocab?: number } = {}): SeqTokenizer {
  const minCount = opts.minCount ?? 2;
  const maxVocab = opts.maxVocab ?? 8192;
  const counts = new Map<string, number>();
  const chars = new Set<string>();
  for (const text of texts) {
    for (const piece of pieces(text)) {
      counts.set(piece, (counts.get(piece) ?? 0) + 1);
      for (const c of piece) chars.add(c);
    }
  }
  const byCode = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const singles = [...chars].sort(byCode);
  const table = [PAD, EOS, UNK, ...singles, ...singles.filter((c) => c !== ' ').map((c) => ` ${c}`)];
  const known = new Set(table);
  const words = [...counts]
    .filter(([p, n]) => n >= minCount && !known.has(p))
    .sort((a, b) => b[1] - a[1] || byCode(a[0], b[0]))
    .slice(0, Math.max(0, maxVocab - table.length))
    .map(([p]) => p)
    .sort(byCode);
  return new WordTokenizer([...table, ...words]);
}

/** The tokenizer a stored spec describes; throws saying what is wrong with it. */
export function wordTokenizerFromSpec(spec: unknown): SeqTokenizer {
  const { kind, pieces: table } = (spec ?? {}) as Partial<WordSpec>;
  if (kind !== 'words' || !Array.isArray(table)) throw new Error('expected a word tokenizer spec {"kind": "words", "pieces": [...]}');
  if (table[0] !== PAD || table[1] !== EOS || table[2] !== UNK) throw new Error(`expected the word tokenizer's pieces to start with "${PAD}", "${EOS}", "${UNK}"`);
  const seen = new Set<string>();
  for (const p of table) {
    if (typeof p !== 'string' || p === '') throw new Error(`expected every piece to be a non-empty string, got ${JSON.stringify(p)}`);
    if (seen.has(p)) throw new Error(`the piece ${JSON.stringify(p)} appears twice`);
    seen.add(p);
  }
  return new WordTokenizer(table);
}
