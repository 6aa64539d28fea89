/**
 * Teachers: what writes rationales. Either a model from the library run by
 * the engine (TextModel), or any OpenAI-compatible endpoint (a local Ollama,
 * llama.cpp server or vLLM, a hosted API, or another `stepwise serve`),
 * reached with Node's fetch through its completions or chat API.
 *
 * The HTTP teacher keeps at most `concurrency` requests in flight, gives each
 * `timeoutMs`, and retries 429, 5xx, timeouts and dropped connections up to
 * `maxRetries` times with exponential backoff (honouring Retry-After). Other
 * errors fail at once with the endpoint's own message. The key goes in the
 * Authorization header only: it is never part of a message, a log line or a
 * stored description (`describe()` names the endpoint and model), and what
 * the endpoint says back (its errors, its answers) is redacted (./redact.ts).
 *
 * With the chat API the whole prompt is sent as one user message, so the
 * teacher sees the same text Zero-shot-CoT gives a completions model.
 */
import { redactSecrets } from './redact.ts';
import type { CompleteOptions, Completion, TextModel } from './text-model.ts';

export interface Teacher {
  /** e.g. "openai:http://127.0.0.1:8080/v1 model gpt-4o-mini (chat)" or "library:model 3 (4x4 teacher)". */
  describe(): string;
  complete(prompt: string, opts: CompleteOptions): Promise<Completion>;
  close(): Promise<void>;
}

export interface HttpTeacherOptions {
  baseUrl: string;
  model: string;
  api: 'completions' | 'chat';
  /** Sent as `Authorization: Bearer <key>`; never stored or logged. */
  key?: string;
  concurrency: number;
  timeoutMs: number;
  maxRetries: number;
  /** First backoff (ms); doubled at each retry, with jitter. */
  backoffMs?: number;
  fetch?: typeof fetch;
}

/** An error from a teacher; `retryable` says whether trying again may help. */
export class TeacherError extends Error {
  readonly retryable: boolean;
  readonly status: number | null;
  constructor(message: string, retryable: boolean, status: number | null = null) {
    super(message);
    this.name = 'TeacherError';
    this.retryable = retryable;
    this.status = status;
  }
}

/** At most n tasks at once. */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly n: number;
  constructor(n: number) {
    this.n = n;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.n) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new TeacherError('stopped', false));
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new TeacherError('stopped', false));
    }, { once: true });
  });

export class HttpTeacher implements Teacher {
  private readonly opts: HttpTeacherOptions;
  private readonly slots: Semaphore;
  private readonly url: string;

  constructor(opts: HttpTeacherOptions) {
    let base: URL;
    try {
      base = new URL(opts.baseUrl);
    } catch {
      throw new TeacherError(`the teacher's base URL "${opts.baseUrl}" is not a URL (expected e.g. http://127.0.0.1:11434/v1)`, false);
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TeacherError(`the teacher's base URL must be http:// or https://, got ${base.protocol}`, false);
    this.opts = opts;
    this.slots = new Semaphore(Math.max(1, opts.concurrency));
    this.url = `${opts.baseUrl.replace(/\/+$/, '')}/${opts.api === 'chat' ? 'chat/completions' : 'completions'}`;
  }

  describe(): string {
    return `openai:${this.opts.baseUrl} model ${this.opts.model} (${this.opts.api})`;
  }

  /** The answer and every error with the key (and anything shaped like one) redacted: an endpoint may echo what it was sent. */
  async complete(prompt: string, opts: CompleteOptions): Promise<Completion> {
    try {
      const c = await this.slots.run(() => this.withRetries(prompt, opts));
      return { ...c, text: redactSecrets(c.text, [this.opts.key]) };
    } catch (err) {
      if (err instanceof TeacherError) throw new TeacherError(redactSecrets(err.message, [this.opts.key]), err.retryable, err.status);
      throw new TeacherError(redactSecrets(String((err as Error)?.message ?? err), [this.opts.key]), false);
    }
  }

  private async withRetries(prompt: string, opts: CompleteOptions): Promise<Completion> {
    const backoff = this.opts.backoffMs ?? 500;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once(prompt, opts);
      } catch (err) {
        const e = err instanceof TeacherError ? err : new TeacherError(String((err as Error).message ?? err), true);
        if (!e.retryable || attempt >= this.opts.maxRetries || opts.signal?.aborted) {
          if (e.retryable && attempt > 0) throw new TeacherError(`${e.message} (after ${attempt + 1} attempts)`, true, e.status);
          throw e;
        }
        const after = (e as TeacherError & { retryAfterMs?: number }).retryAfterMs;
        await sleep(after ?? backoff * 2 ** attempt * (0.75 + Math.random() / 2), opts.signal);
      }
    }
  }

  private async once(prompt: string, opts: CompleteOptions): Promise<Completion> {
    const { model, api, key } = this.opts;
    const common: Record<string, unknown> = { model, max_tokens: opts.maxTokens, temperature: opts.temperature };
    if (opts.topP !== undefined) common.top_p = opts.topP;
    if (opts.stop?.length) common.stop = opts.stop;
    if (opts.seed !== undefined) common.seed = opts.seed;
    const body = api === 'chat' ? { ...common, messages: [{ role: 'user', content: prompt }] } : { ...common, prompt };
    const timeout = AbortSignal.timeout(this.opts.timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    let response: Response;
    try {
      response = await (this.opts.fetch ?? fetch)(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body: JSON.stringify(body),
        signal,
      });
    } catch (err) {
      if (opts.signal?.aborted) throw new TeacherError('stopped', false);
      if (timeout.aborted) throw new TeacherError(`${this.url}: no answer within ${this.opts.timeoutMs} ms`, true);
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new TeacherError(`${this.url}: cannot connect (${cause?.code ?? cause?.message ?? (err as Error).message})`, true);
    }
    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      throw new TeacherError(`${this.url}: the answer broke off (${(err as Error).message})`, true);
    }
    if (!response.ok) {
      const said = errorMessage(text);
      const retryable = response.status === 429 || response.status >= 500;
      const e = new TeacherError(`${this.url}: HTTP ${response.status}${said ? `: ${said}` : ''}`, retryable, response.status) as TeacherError & { retryAfterMs?: number };
      const ra = Number(response.headers.get('retry-after'));
      if (Number.isFinite(ra) && ra > 0) e.retryAfterMs = Math.min(ra * 1000, 60_000);
      throw e;
    }
    let json: { choices?: { text?: string; message?: { content?: string }; finish_reason?: string }[]; usage?: { prompt_tokens?: number; completion_tokens?: number } };
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      throw new TeacherError(`${this.url}: the answer is not JSON (${text.slice(0, 120)})`, false);
    }
    const choice = json.choices?.[0];
    const out = api === 'chat' ? choice?.message?.content : choice?.text;
    if (typeof out !== 'string') throw new TeacherError(`${this.url}: the answer has no choices[0].${api === 'chat' ? 'message.content' : 'text'}`, false);
    return {
      text: out,
      finish: choice?.finish_reason === 'length' ? 'length' : 'stop',
      promptTokens: json.usage?.prompt_tokens ?? 0,
      completionTokens: json.usage?.completion_tokens ?? 0,
    };
  }

  async close(): Promise<void> {}
}

function errorMessage(body: string): string {
  try {
    const j = JSON.parse(body) as { error?: { message?: string } | string };
    const m = typeof j.error === 'string' ? j.error : j.error?.message;
    if (m) return m.slice(0, 300);
  } catch {
    // not JSON
  }
  return body.trim().slice(0, 300);
}

/** A library model run by the engine, one prompt at a time per slot (decoding is batched per call). */
export class LibraryTeacher implements Teacher {
  private readonly model: TextModel;
  private readonly label: string;
  constructor(model: TextModel, label: string) {
    this.model = model;
    this.label = label;
  }
  describe(): string {
    return `library:${this.label}`;
  }
  async complete(prompt: string, opts: CompleteOptions): Promise<Completion> {
    return (await this.model.complete([prompt], opts))[0];
  }
  close(): Promise<void> {
    return this.model.release();
  }
}
