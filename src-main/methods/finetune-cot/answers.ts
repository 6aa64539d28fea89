/**
 * Answer types and the rules that read an answer out of generated text, as
 * Zero-shot-CoT's `answer_cleansing` does (Kojima et al. 2022, which
 * Fine-tune-CoT's code reuses):
 *
 *   number   every `-?\d+\.?\d*` after commas are removed; the first one
 *            (a trailing '.' dropped). Compared as numbers: "43" = "43.0".
 *   choice   the first choice letter (those the question offers as "(A)",
 *            "(B)", …; A–E when it offers none).
 *   yes-no   the first word that is "yes" or "no", lower-cased.
 *   text     the text with quotes, newlines, periods and spaces removed
 *            (Last Letter Concatenation's rule).
 *
 * Each type also has its Zero-shot-CoT answer trigger (stage 2's prompt ends
 * with it), as in the paper's teacher files.
 */

export const ANSWER_TYPES = ['number', 'choice', 'yes-no', 'text'] as const;
export type AnswerType = (typeof ANSWER_TYPES)[number];

/** The choice letters a question offers: "(A) … (B) … (C)" → A, B, C. */
export function choiceLetters(question: string): string[] {
  const found = [...question.matchAll(/\(([A-Z])\)/g)].map((m) => m[1]);
  return found.length ? [...new Set(found)] : ['A', 'B', 'C', 'D', 'E'];
}

/** Stage 2's trigger for an answer type (Kojima et al.'s direct_answer_trigger_for_zeroshot_cot). */
export function answerTrigger(type: AnswerType, question: string): string {
  switch (type) {
    case 'number':
      return 'Therefore, the answer (arabic numerals) is';
    case 'choice': {
      const letters = choiceLetters(question);
      return `Therefore, among ${letters[0]} through ${letters[letters.length - 1]}, the answer is`;
    }
    case 'yes-no':
      return 'Therefore, the answer (Yes or No) is';
    case 'text':
      return 'Therefore, the answer is';
  }
}

/** The answer in `text` by the type's rule; null when there is none. */
export function extractAnswer(type: AnswerType, text: string, question = ''): string | null {
  switch (type) {
    case 'number': {
      const found = text.replaceAll(',', '').match(/-?\d+\.?\d*/g);
      if (!found) return null;
      return normalizeNumber(found[0]);
    }
    case 'choice': {
      const letters = new Set(choiceLetters(question));
      for (const m of text.matchAll(/[A-Z]/g)) if (letters.has(m[0])) return m[0];
      return null;
    }
    case 'yes-no': {
      const words = text.toLowerCase().replace(/["'\n.\s:,]/g, ' ').split(' ');
      return words.find((w) => w === 'yes' || w === 'no') ?? null;
    }
    case 'text': {
      const cleaned = text.replace(/["'\n.\s]/g, '');
      return cleaned === '' ? null : cleaned;
    }
  }
}

/** A gold answer in the form extractAnswer gives (e.g. "1,200" → "1200", "Yes" → "yes"). */
export function normalizeGold(type: AnswerType, gold: string, question = ''): string {
  return extractAnswer(type, gold, question) ?? gold.trim();
}

/** Whether a predicted answer matches the gold one under the type's rule. */
export function sameAnswer(type: AnswerType, predicted: string | null, gold: string, question = ''): boolean {
  if (predicted === null) return false;
  const g = normalizeGold(type, gold, question);
  if (type === 'number') return Number(predicted) === Number(g) && Number.isFinite(Number(g));
  return predicted === g;
}

function normalizeNumber(s: string): string {
  const t = s.endsWith('.') ? s.slice(0, -1) : s;
  return t;
}
