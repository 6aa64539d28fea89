/**
 * A model folder's chat template: the Jinja source Hugging Face tokenizers
 * carry (`chat_template.jinja`, or `chat_template` in tokenizer_config.json),
 * rendered with @huggingface/jinja as transformers' apply_chat_template does:
 * the template sees `messages`, `add_generation_prompt` and the tokenizer's
 * special tokens (`bos_token`, `eos_token`, …); `raise_exception` and
 * `strftime_now` are built in.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Template } from '@huggingface/jinja';
import { HfFolderError, readJson } from './gpt2-folder.ts';

export interface ChatMessage {
  role: string;
  content: string;
}

const SPECIAL_KEYS = ['bos_token', 'eos_token', 'unk_token', 'pad_token', 'sep_token', 'cls_token', 'mask_token'];

export class ChatTemplate {
  /** The Jinja source. */
  readonly source: string;
  /** The file it came from, for messages. */
  readonly origin: string;
  /** Special tokens the template may use, by their tokenizer_config.json key (bos_token → '<s>'). */
  readonly specialTokens: Record<string, string>;
  private readonly template: Template;

  constructor(source: string, specialTokens: Record<string, string> = {}, origin = 'chat template') {
    this.source = source;
    this.origin = origin;
    this.specialTokens = specialTokens;
    try {
      this.template = new Template(source);
    } catch (err) {
      throw new HfFolderError(`${origin}: the chat template does not parse (${(err as Error).message})`);
    }
  }

  /** The conversation as the model saw it in training; with addGenerationPrompt (default) it ends where the assistant's reply begins. */
  render(messages: ChatMessage[], opts: { addGenerationPrompt?: boolean } = {}): string {
    try {
      return this.template.render({ ...this.specialTokens, messages, add_generation_prompt: opts.addGenerationPrompt ?? true });
    } catch (err) {
      throw new HfFolderError(`${this.origin}: the chat template failed on ${messages.length} message(s) (${(err as Error).message})`);
    }
  }
}

/** The folder's chat template: chat_template.jinja, else tokenizer_config.json's chat_template (the "default" of a list); null when it has none. */
export function loadChatTemplate(dir: string): ChatTemplate | null {
  const cfgFile = path.join(dir, 'tokenizer_config.json');
  const cfg = existsSync(cfgFile) ? readJson(cfgFile) : {};
  const tokens: Record<string, string> = {};
  for (const key of SPECIAL_KEYS) {
    const v = cfg[key];
    const content = typeof v === 'string' ? v : (v as { content?: unknown } | null | undefined)?.content;
    if (typeof content === 'string') tokens[key] = content;
  }
  const jinja = path.join(dir, 'chat_template.jinja');
  if (existsSync(jinja)) return new ChatTemplate(readFileSync(jinja, 'utf8'), tokens, jinja);
  const t = cfg.chat_template;
  if (t == null) return null;
  if (typeof t === 'string') return new ChatTemplate(t, tokens, cfgFile);
  if (Array.isArray(t)) {
    const named = t as { name?: unknown; template?: unknown }[];
    const chosen = named.find((x) => x?.name === 'default') ?? named[0];
    if (chosen && typeof chosen.template === 'string') return new ChatTemplate(chosen.template, tokens, `${cfgFile} (chat_template '${String(chosen.name)}')`);
  }
  throw new HfFolderError(`${cfgFile}: chat_template is ${JSON.stringify(t).slice(0, 80)}, expected a string or a list of {name, template}`);
}
