/**
 * How a Fine-tune-CoT example becomes tokens (Ho, Schmid & Yun 2023, §3):
 *
 *   ft-cot         prompt `{question} ###`, completion ` {rationale} --> {answer}` EOS
 *   vanilla        prompt `{question} ###`, completion ` {answer}` EOS (the baseline)
 *   zero-shot-cot  prompt `Q: {question}\nA: Let's think step by step.`,
 *                  completion ` {rationale}\n{trigger} {answer}.` EOS: the teacher's
 *                  own protocol, for training a lab model that can then teach
 *                  through the OpenAI-compatible endpoint.
 *
 * The loss is taken on the completion only (labels −100 on the prompt). A
 * student's answer is read after the last `-->` (vanilla: the whole
 * completion; zero-shot-cot: after the trigger) by its task's answer rule.
 */
import type { TokenExample } from '../../engine/batches.ts';
import { hasTokenizer, loadTokenizer, type TextTokenizer } from '../../engine/tokenizers/hf.ts';
import type { SeqTokenizer } from '../../engine/tokenizers/seq-tokenizer.ts';
import { folderTokenizer } from '../../engine/tokenizers/spec.ts';
import { answerTrigger, extractAnswer, type AnswerType } from './answers.ts';

export const STUDENT_FORMATS = ['ft-cot', 'vanilla', 'zero-shot-cot'] as const;
export type StudentFormat = (typeof STUDENT_FORMATS)[number];

export interface StudentExample {
  question: string;
  /** Empty for vanilla fine-tuning. */
  rationale: string;
  answer: string;
}

export const SEPARATOR = ' ###';
export const ANSWER_MARK = '-->';
export const STAGE1_TRIGGER = "Let's think step by step.";

/** Zero-shot-CoT's stage 1 prompt. */
export function stage1Prompt(question: string): string {
  return `Q: ${question}\nA: ${STAGE1_TRIGGER}`;
}

/** Zero-shot-CoT's stage 2 prompt: stage 1, the rationale, then the answer trigger on a new line. */
export function stage2Prompt(question: string, rationale: string, trigger: string): string {
  return `${stage1Prompt(question)}${rationale}\n${trigger}`;
}

export function promptText(format: StudentFormat, question: string): string {
  return format === 'zero-shot-cot' ? stage1Prompt(question) : `${question}${SEPARATOR}`;
}

export function completionText(format: StudentFormat, ex: StudentExample, type: AnswerType): string {
  switch (format) {
    case 'ft-cot':
      return ` ${ex.rationale} ${ANSWER_MARK} ${ex.answer}`;
    case 'vanilla':
      return ` ${ex.answer}`;
    case 'zero-shot-cot':
      return ` ${ex.rationale}\n${answerTrigger(type, ex.question)} ${ex.answer}.`;
  }
}

/** prompt + completion + EOS, labels −100 on the prompt. */
export function encodeStudentExample(tok: SeqTokenizer, format: StudentFormat, ex: StudentExample, type: AnswerType): TokenExample {
  const prompt = tok.encode(promptText(format, ex.question));
  const completion = [...tok.encode(completionText(format, ex, type)), tok.eosId];
  return { ids: [...prompt, ...completion], labels: [...prompt.map(() => -100), ...completion] };
}

export function encodeStudentPrompt(tok: SeqTokenizer, format: StudentFormat, question: string): number[] {
  return tok.encode(promptText(format, question));
}

/** What a student wrote: its rationale (before the mark) and its answer by the task's rule. */
export function parseCompletion(format: StudentFormat, text: string, type: AnswerType, question: string): { rationale: string; answer: string | null } {
  if (format === 'vanilla') return { rationale: '', answer: extractAnswer(type, text, question) };
  const mark = format === 'ft-cot' ? ANSWER_MARK : answerTrigger(type, question);
  const at = text.lastIndexOf(mark);
  if (at < 0) return { rationale: text.trim(), answer: null };
  return { rationale: text.slice(0, at).trim(), answer: extractAnswer(type, text.slice(at + mark.length), question) };
}

/**
 * The tokenizer of a model folder of any family, as ICoT reads it: its stored description (word,
 * compact or a Hugging Face tokenizer's), else the folder's own (`hf` when the caller loaded it;
 * else read from the folder's tokenizer files, without its weights).
 */
export function folderCodec(dir: string, hf: TextTokenizer | null = null): SeqTokenizer {
  return folderTokenizer(dir, hf ?? (hasTokenizer(dir) ? loadTokenizer(dir) : null));
}
