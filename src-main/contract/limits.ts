/**
 * Limits every transport applies before an input reaches a schema: how deep
 * JSON may nest (a schema, a preview or JSON.stringify would otherwise
 * overflow the stack on `[[[[…]]]]` 5000 deep), and how much of an input an
 * error message may quote.
 */

/** Deeper nesting than any procedure's input needs (configs nest about 4 levels). */
export const MAX_JSON_DEPTH = 64;
/** The most characters of a caller's input an error message quotes. */
export const MAX_QUOTE = 200;
/** The most characters an error message has in all (beyond: cut, saying how much was left out). */
export const MAX_MESSAGE = 2000;

/** How deep JSON text nests, counted without parsing it; stops counting past `max`. */
export function jsonTextDepth(text: string, max: number = MAX_JSON_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > deepest && (deepest = depth) > max) return deepest;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/** Keys that would reach an object's prototype; no input has them, and a config holding one is refused rather than silently dropped. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * What is wrong with an input's shape before any schema sees it: nesting
 * deeper than `max`, or a forbidden key (with where it is). Walked without
 * recursion; null when neither.
 */
export function inputShapeProblem(value: unknown, max: number = MAX_JSON_DEPTH): { path: (string | number)[]; message: string } | null {
  const stack: [unknown, (string | number)[]][] = [[value, []]];
  while (stack.length > 0) {
    const [v, at] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (at.length >= max) return { path: [], message: `input nests deeper than ${max} levels of arrays and objects; no procedure takes that` };
    if (Array.isArray(v)) {
      v.forEach((child, i) => stack.push([child, [...at, i]]));
      continue;
    }
    for (const key of Object.keys(v)) {
      if (FORBIDDEN_KEYS.has(key)) {
        const where = [...at, key].map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
        return { path: [...at, key], message: `${where}: the key "${key}" is not allowed (it names a JavaScript object's internals, not a setting)` };
      }
      stack.push([(v as Record<string, unknown>)[key], [...at, key]]);
    }
  }
  return null;
}

/** At most `max` characters of `text`, saying how many more there were. */
export function quote(text: string, max: number = MAX_QUOTE): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

// An unpaired high surrogate (not followed by a low one), or a low one not preceded by a high one.
const BROKEN_UNICODE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Text without NUL characters or unpaired surrogates (what a `\ud800` escape in JSON makes), which break files and tokenizers later. */
export function wellFormedText(s: string): boolean {
  return !s.includes('\0') && !BROKEN_UNICODE.test(s);
}
