/**
 * Secrets out of text an endpoint wrote: an HTTP teacher's error body (or
 * even its answer) may quote the key it was sent ("Incorrect API key
 * provided: Bearer sk-…"). Every such text is redacted before it is stored,
 * logged or returned: the key itself wherever it appears, `Bearer …`, and
 * anything shaped like a key of the common providers.
 */

export const REDACTED = '[redacted]';

/** Bearer tokens, and the shapes of OpenAI (sk-…), Hugging Face (hf_…), Anthropic, GitHub, Slack, AWS and Google keys. */
const KEY_SHAPES: readonly RegExp[] = [
  /\bBearer\s+[^\s"',;]*[^\s"',;.]/gi,
  /\bsk-[A-Za-z0-9_-]{6,}/g,
  /\bhf_[A-Za-z0-9]{6,}/g,
  /\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{10,}/g,
  /\bgithub_pat_[A-Za-z0-9_]{10,}/g,
  /\bxox[abprs]-[A-Za-z0-9-]{10,}/g,
  /\bAKIA[0-9A-Z]{16}\b/g,
  /\bAIza[0-9A-Za-z_-]{20,}/g,
];

/** `text` with every `keys` value (of 4 characters or more) and every key-shaped word replaced by [redacted]. */
export function redactSecrets(text: string, keys: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const key of keys) if (key && key.length >= 4) out = out.split(key).join(REDACTED);
  for (const shape of KEY_SHAPES) out = out.replace(shape, (match) => (/^bearer/i.test(match) ? `Bearer ${REDACTED}` : REDACTED));
  return out;
}
