/**
 * Answer extraction for generated text, as GSM8K-style evaluation does it:
 * the gold answer is what follows `####` (commas stripped); a generation's
 * answer is what follows its own `####` if it wrote one, else its last number.
 * Numbers compare by value (`42.0` = `42`); other answers by trimmed text.
 */
const NUMBER = /-?\d[\d,]*(?:\.\d+)?/g;

export function goldAnswer(answer: string): string {
  const i = answer.lastIndexOf('####');
  return (i >= 0 ? answer.slice(i + 4) : answer).trim().replace(/,/g, '');
}

/** The answer a generation gives, or null when it gives none. */
export function extractAnswer(generated: string): string | null {
  const i = generated.indexOf('####');
  const text = i >= 0 ? generated.slice(i + 4) : generated;
  const numbers = text.match(NUMBER);
  if (i >= 0) {
    const first = text.trim().split(/\s+/)[0] ?? '';
    return first === '' ? null : first.replace(/,/g, '');
  }
  return numbers ? numbers[numbers.length - 1].replace(/,/g, '') : null;
}

/** Whether a generation's first answer word equals the gold answer (a word or number). */
export function sameAnswer(predicted: string | null, gold: string): boolean {
  if (predicted === null) return false;
  const p = predicted.trim().replace(/[.,;:!?]+$/, '');
  const g = gold.trim();
  const pn = Number(p);
  const gn = Number(g);
  if (p !== '' && g !== '' && Number.isFinite(pn) && Number.isFinite(gn)) return pn === gn;
  return p === g;
}

/** For short answers: the first word of the generation (before any end-of-line). */
export function firstWord(generated: string): string | null {
  const w = generated.trim().split(/\s+/)[0];
  return w ? w : null;
}
