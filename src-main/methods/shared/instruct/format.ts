/**
 * Instruction–answer data for instruction tuning (Bitune, LoRA): JSONL files
 * with one example per line. The prompt comes from `question`, `instruction`
 * or `prompt` (plus an optional `input`, appended after a blank line, as
 * Alpaca-style files have it); the answer from `answer`, `output` or
 * `response`. The default template is the Bitune paper's
 *
 *   Question: {question}\n\nAnswer: {answer}
 *
 * and the loss is taken on the answer tokens (and the end-of-sequence token).
 * Where the base model's folder has a chat template (tokenizer_config.json's
 * `chat_template`, or chat_template.jinja), the example is rendered through it
 * instead, as one user turn and one assistant turn (`chatInstructTemplate`).
 */
import { readInputTextSync } from '../../input-file.ts';
import type { ChatTemplate } from '../../../engine/hf/chat-template.ts';
import { readExamples } from '../examples.ts';

export interface InstructExample {
  question: string;
  answer: string;
}

const QUESTION_KEYS = ['question', 'instruction', 'prompt'] as const;
const ANSWER_KEYS = ['answer', 'output', 'response'] as const;

/** Parse JSONL instruction data; every bad line is named by file and line number. */
export function parseInstructJsonl(text: string, file = '<data>'): InstructExample[] {
  const out: InstructExample[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${file}:${i + 1}`;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line);
    } catch (err) {
      throw new Error(`${where}: not valid JSON (${(err as Error).message})`);
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new Error(`${where}: expected a JSON object`);
    const qKey = QUESTION_KEYS.find((k) => typeof row[k] === 'string');
    const aKey = ANSWER_KEYS.find((k) => typeof row[k] === 'string' || typeof row[k] === 'number');
    if (!qKey) throw new Error(`${where}: no question (a string field ${QUESTION_KEYS.join(', ')})`);
    if (!aKey) throw new Error(`${where}: no answer (a string field ${ANSWER_KEYS.join(', ')})`);
    const input = typeof row.input === 'string' && row.input.trim() !== '' ? `\n\n${row.input}` : '';
    out.push({ question: `${row[qKey] as string}${input}`, answer: String(row[aKey]) });
  });
  if (out.length === 0) throw new Error(`${file}: holds no examples`);
  return out;
}

/**
 * An instruction file: JSONL, or the paper's `input||cot #### answer` lines
 * (GSM8K-Aug, multiplication), read as the question and the answer
 * `cot #### answer` (the answer compared GSM8K-style, after ####).
 */
export function readInstructFile(file: string): InstructExample[] {
  let text: string;
  // A FIFO, a device or an oversized file is refused before it is opened; bad UTF-8 is named by its line.
  text = readInputTextSync(file, 'evaluation file');
  const first = text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  if (first !== '' && !first.trimStart().startsWith('{')) {
    return readExamples(file, 'lines').map((e) => ({ question: e.input, answer: `${e.cot ? `${e.cot} ` : ''}#### ${e.answer}` }));
  }
  return parseInstructJsonl(text, file);
}

/** The prompt as the model reads it (the default `Question: …\n\nAnswer:` template). */
export function promptText(question: string): string {
  return `Question: ${question}\n\nAnswer:`;
}

/** The answer as it follows the prompt. */
export function answerText(answer: string): string {
  return ` ${answer}`;
}

/** How an instruction example becomes the text a model reads (prompt) and is trained to write (answer). */
export interface InstructTemplate {
  /** 'question-answer', or 'chat template of <file>'. */
  name: string;
  /** The prompt, ending where the answer begins. */
  prompt(question: string): string;
  /** The answer as it follows the prompt, with the template's end-of-turn text. */
  answer(question: string, answer: string): string;
  /** A multiple-choice continuation as it follows the prompt (no end-of-turn text). */
  choice(text: string): string;
  /** The answer part of a generated text: what comes before the template's end-of-turn text. */
  cut(generated: string): string;
}

/** The Bitune paper's `Question: …\n\nAnswer: …`. */
export const QUESTION_ANSWER: InstructTemplate = {
  name: 'question-answer',
  prompt: promptText,
  answer: (_question, answer) => answerText(answer),
  choice: answerText,
  cut: (generated) => generated,
};

/**
 * An instruction example through a model's chat template: the prompt is the
 * user turn with the generation prompt (where the assistant's reply begins);
 * the answer is what the template adds after it for the assistant's turn
 * (the reply and its end-of-turn text). A template whose two-turn rendering
 * does not start with its one-turn rendering cannot be split so, and is refused.
 */
export function chatInstructTemplate(t: ChatTemplate): InstructTemplate {
  const user = (question: string) => ({ role: 'user', content: question });
  const prompt = (question: string) => t.render([user(question)], { addGenerationPrompt: true });
  const answer = (question: string, reply: string) => {
    const head = prompt(question);
    const full = t.render([user(question), { role: 'assistant', content: reply }], { addGenerationPrompt: false });
    if (!full.startsWith(head)) {
      throw new Error(`${t.origin}: the chat template renders a question and its answer as text that does not start with the question's prompt, so the answer cannot be told apart (prompt ${JSON.stringify(head.slice(-40))})`);
    }
    return full.slice(head.length);
  };
  // The end-of-turn text: what follows the reply in the assistant's turn.
  const probe = 'stepwise-probe-answer';
  const turn = answer('?', probe);
  const end = turn.slice(turn.lastIndexOf(probe) + probe.length).trim();
  return {
    name: `chat template of ${t.origin}`,
    prompt,
    answer,
    choice: (text) => text,
    cut: (generated) => {
      const i = end === '' ? -1 : generated.indexOf(end);
      return i >= 0 ? generated.slice(0, i) : generated;
    },
  };
}
