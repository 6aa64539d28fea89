/**
 * Rationale generation with Zero-shot-CoT (Kojima et al. 2022), as
 * Fine-tune-CoT uses it (Ho et al. 2023, §3.1):
 *
 *   stage 1  `Q: {question}\nA: Let's think step by step.` → rationale (sampled
 *            at temperature T; greedy when T = 0)
 *   stage 2  `{stage 1}{rationale}\n{answer trigger}` → answer text (greedy),
 *            read by the task's answer rule
 *
 * A rationale is kept only if that answer matches the gold one. Diverse
 * reasoning draws D samples per question; a sample whose rationale repeats
 * one already kept for that question is dropped as a duplicate. Every sample
 * comes back with its provenance: the prompts, temperature, sample index,
 * token counts, and kept or why not.
 *
 * Resumable: samples the caller already has (`done`) are skipped, and a
 * question's samples run in order, so duplicates are judged the same way
 * after a restart. Questions run `concurrency` at a time.
 */
import type { FtCotRationale } from '../../contract/areas/finetune.ts';
import { answerTrigger, extractAnswer, sameAnswer, type AnswerType } from './answers.ts';
import { stage1Prompt, stage2Prompt } from './layout.ts';
import type { Teacher } from './teachers.ts';

export interface ZeroShotCotSettings {
  /** D: samples per question. */
  samples: number;
  /** T for stage 1 (the paper: 0 for one sample, 0.7 for diverse reasoning). */
  temperature: number;
  /** Stage 1 budget (the paper: 128). */
  maxTokens: number;
  /** Stage 2 budget. */
  answerMaxTokens: number;
  /** Stage 1 stops at these (default: the answer trigger's start, so the rationale leaves the answer to stage 2). */
  stop: string[];
  /** Sample s of question i is drawn with seed `seed + 1000·i + s`. */
  seed: number;
  /** Questions in flight at once. */
  concurrency: number;
}

export type SampleReason = 'kept' | 'wrong answer' | 'no answer' | 'duplicate' | 'empty rationale';

/** A sample as the job makes it: stored as a rationale of its generation. */
export type RationaleSample = Omit<FtCotRationale, 'generationId' | 'createdAt' | 'reason'> & { reason: SampleReason };

export interface GenerationQuestion {
  index: number;
  question: string;
  answer: string;
}

export interface GenerateRationalesOptions {
  questions: GenerationQuestion[];
  answerType: AnswerType;
  teacher: Teacher;
  settings: ZeroShotCotSettings;
  /** Samples already stored, by question index: skipped, and their kept rationales count for duplicates. */
  done?: Map<number, { sample: number; rationale: string; kept: boolean }[]>;
  /** Each finished sample, in order within a question. */
  onSample: (s: RationaleSample) => void;
  /** A sample that failed (after the teacher's retries): not recorded, so a restart tries it again. */
  onError?: (index: number, sample: number, error: Error) => void;
  signal?: AbortSignal;
}

export interface GenerateRationalesResult {
  samples: number;
  failed: number;
  /** True when the signal stopped it before every sample was tried. */
  stopped: boolean;
}

const sameText = (s: string) => s.replace(/\s+/g, ' ').trim();

export async function generateRationales(opts: GenerateRationalesOptions): Promise<GenerateRationalesResult> {
  const { settings: st, teacher, answerType } = opts;
  let samples = 0;
  let failed = 0;
  const queue = opts.questions.filter((q) => (opts.done?.get(q.index)?.length ?? 0) < st.samples);
  let next = 0;

  async function one(q: GenerationQuestion): Promise<void> {
    const prior = opts.done?.get(q.index) ?? [];
    const have = new Set(prior.map((p) => p.sample));
    const keptTexts = new Set(prior.filter((p) => p.kept).map((p) => sameText(p.rationale)));
    const trigger = answerTrigger(answerType, q.question);
    const prompt = stage1Prompt(q.question);
    for (let s = 0; s < st.samples; s++) {
      if (have.has(s)) continue;
      if (opts.signal?.aborted) return;
      try {
        const r1 = await teacher.complete(prompt, { maxTokens: st.maxTokens, temperature: st.temperature, stop: st.stop, seed: st.seed + 1000 * q.index + s, signal: opts.signal });
        const rationale = r1.text.trim();
        let answerText = '';
        let p2 = 0;
        let c2 = 0;
        if (rationale !== '') {
          const r2 = await teacher.complete(stage2Prompt(q.question, r1.text, trigger), { maxTokens: st.answerMaxTokens, temperature: 0, seed: st.seed, signal: opts.signal });
          answerText = r2.text;
          p2 = r2.promptTokens;
          c2 = r2.completionTokens;
        }
        const answer = rationale === '' ? null : extractAnswer(answerType, answerText, q.question);
        const right = sameAnswer(answerType, answer, q.answer, q.question);
        const duplicate = right && keptTexts.has(sameText(rationale));
        const reason: SampleReason = rationale === '' ? 'empty rationale' : answer === null ? 'no answer' : !right ? 'wrong answer' : duplicate ? 'duplicate' : 'kept';
        if (reason === 'kept') keptTexts.add(sameText(rationale));
        samples++;
        opts.onSample({
          index: q.index, sample: s, question: q.question, gold: q.answer, prompt, rationale, answerPrompt: trigger, answerText, answer,
          kept: reason === 'kept', reason, temperature: st.temperature, promptTokens: r1.promptTokens + p2, completionTokens: r1.completionTokens + c2,
        });
      } catch (err) {
        if (opts.signal?.aborted) return;
        failed++;
        opts.onError?.(q.index, s, err as Error);
      }
    }
  }

  const workers = Array.from({ length: Math.max(1, Math.min(st.concurrency, queue.length)) }, async () => {
    while (next < queue.length && !opts.signal?.aborted) await one(queue[next++]);
  });
  await Promise.all(workers);
  return { samples, failed, stopped: Boolean(opts.signal?.aborted) };
}
