/**
 * OpenAI-compatible endpoints of `stepwise serve`, so a lab model can teach
 * another run or be used from other tools. Same server, same token: OpenAI
 * clients send it as `Authorization: Bearer <token>` (their API key).
 *
 *   GET  /v1/models             the library's models: `{object: "list", data: [{id, object: "model", …}]}`
 *   POST /v1/completions        {model, prompt (string or array), max_tokens (16), temperature (1),
 *                                top_p, n (1), stop (string or array), seed}
 *   POST /v1/chat/completions   {model, messages, …}: the messages' contents joined by newlines
 *                                are the prompt (lab models have no chat template)
 *
 * `model` is a library model's id ("3") or name. Answers follow OpenAI's
 * shapes (`choices[].text` / `choices[].message`, `finish_reason` stop or
 * length, `usage` with token counts); errors are `{error: {message, type}}`
 * with 400, 404 or 500. Streaming is not offered (`stream: true` is refused).
 * Loaded models are kept, by folder, until the server closes.
 */
import type { ProviderName } from '../engine/target.ts';
import { MAX_JSON_DEPTH, MAX_MESSAGE, jsonTextDepth, quote } from '../contract/limits.ts';
import type http from 'node:http';
import path from 'node:path';
import { z } from 'zod';
import type { Model } from '../contract/entities.ts';
import { TextModel, type Completion } from '../methods/finetune-cot/text-model.ts';
import type { Store } from '../store/store.ts';

export interface OpenAiEndpoints {
  /** Answers the request if its path is under /v1/; false otherwise. */
  handle(request: http.IncomingMessage, response: http.ServerResponse, pathname: string): Promise<boolean>;
  close(): Promise<void>;
}

const MAX_BODY = 1 << 20;

const stopField = z.union([z.string(), z.array(z.string()).max(4)]).optional();
const common = {
  model: z.union([z.string().min(1), z.number().int().positive()]),
  max_tokens: z.number().int().min(0).max(8192).optional(),
  max_completion_tokens: z.number().int().min(0).max(8192).optional(),
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().gt(0).max(1).optional(),
  n: z.number().int().min(1).max(16).optional(),
  stop: stopField,
  seed: z.number().int().optional(),
  stream: z.boolean().optional(),
  user: z.string().optional(),
};
const CompletionRequest = z.looseObject({ ...common, prompt: z.union([z.string(), z.array(z.string()).min(1).max(64)]) });
const ChatRequest = z.looseObject({
  ...common,
  messages: z.array(z.looseObject({ role: z.string(), content: z.union([z.string(), z.array(z.looseObject({ type: z.string(), text: z.string().optional() }))]) })).min(1),
});

class ApiError extends Error {
  readonly status: number;
  readonly type: string;
  constructor(status: number, message: string, type = 'invalid_request_error') {
    super(message);
    this.status = status;
    this.type = type;
  }
}

export function openAiEndpoints({ store, dataDir, provider }: { store: Store; dataDir: string; provider?: ProviderName }): OpenAiEndpoints {
  const loaded = new Map<string, Promise<TextModel>>();

  function findModel(ref: string | number): Model {
    const all = store.models.list(1000, 0).items;
    const m = all.find((x) => String(x.id) === String(ref)) ?? all.find((x) => x.name === String(ref));
    if (!m) throw new ApiError(404, `The model '${ref}' does not exist: give a library model's id or name (GET /v1/models lists them)`);
    return m;
  }

  function modelOf(m: Model): Promise<TextModel> {
    const dir = path.resolve(dataDir, m.path);
    let p = loaded.get(dir);
    if (!p) {
      p = Promise.resolve().then(() => TextModel.load(dir, { provider }));
      p.catch(() => loaded.delete(dir));
      loaded.set(dir, p);
    }
    return p;
  }

  async function readJson(request: http.IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY) throw new ApiError(413, 'the request body is over 1 MiB');
      chunks.push(chunk);
    }
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
    } catch {
      throw new ApiError(400, 'the request body is not valid UTF-8 text');
    }
    if (jsonTextDepth(text) > MAX_JSON_DEPTH) throw new ApiError(400, `the request body nests deeper than ${MAX_JSON_DEPTH} levels of arrays and objects`);
    try {
      return JSON.parse(text);
    } catch {
      throw new ApiError(400, 'the request body is not JSON');
    }
  }

  function parse<T>(schema: z.ZodType<T>, body: unknown): T {
    const r = schema.safeParse(body);
    if (r.success) return r.data;
    throw new ApiError(400, r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  }

  async function run(body: z.infer<typeof CompletionRequest> | z.infer<typeof ChatRequest>, prompts: string[]): Promise<{ model: Model; outs: Completion[][] }> {
    if (body.stream) throw new ApiError(400, 'stream: true is not supported by Stepwise; leave it out');
    const model = findModel(body.model);
    const tm = await modelOf(model);
    const n = body.n ?? 1;
    const stop = body.stop === undefined ? [] : Array.isArray(body.stop) ? body.stop : [body.stop];
    const opts = { maxTokens: body.max_tokens ?? body.max_completion_tokens ?? 16, temperature: body.temperature ?? 1, topP: body.top_p, stop };
    const outs: Completion[][] = [];
    for (const prompt of prompts) {
      // n samples of one prompt decode as one batch; each row draws its own stream from the seed.
      try {
        outs.push(await tm.complete(new Array<string>(n).fill(prompt), { ...opts, seed: body.seed ?? Math.floor(Math.random() * 2 ** 31) }));
      } catch (err) {
        throw new ApiError(400, quote((err as Error).message));
      }
    }
    return { model, outs };
  }

  const usage = (outs: Completion[][]) => {
    const prompt = outs.reduce((a, o) => a + (o[0]?.promptTokens ?? 0), 0);
    const completion = outs.flat().reduce((a, c) => a + c.completionTokens, 0);
    return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  };
  const created = () => Math.floor(Date.now() / 1000);
  const newId = (kind: string) => `${kind}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;

  async function answer(request: http.IncomingMessage, pathname: string): Promise<unknown> {
    if (pathname === '/v1/models') {
      if (request.method !== 'GET') throw new ApiError(405, 'use GET for /v1/models');
      const items = store.models.list(1000, 0).items;
      return { object: 'list', data: items.map((m) => ({ id: String(m.id), object: 'model', created: Math.floor(m.createdAt / 1000), owned_by: 'stepwise', name: m.name })) };
    }
    if (pathname === '/v1/completions' || pathname === '/v1/chat/completions') {
      if (request.method !== 'POST') throw new ApiError(405, `use POST for ${pathname}`);
      const raw = await readJson(request);
      if (pathname === '/v1/completions') {
        const body = parse(CompletionRequest, raw);
        const prompts = Array.isArray(body.prompt) ? body.prompt : [body.prompt];
        const { model, outs } = await run(body, prompts);
        return {
          id: newId('cmpl'), object: 'text_completion', created: created(), model: String(model.id),
          choices: outs.flatMap((o, p) => o.map((c, k) => ({ index: p * o.length + k, text: c.text, logprobs: null, finish_reason: c.finish }))),
          usage: usage(outs),
        };
      }
      const body = parse(ChatRequest, raw);
      const prompt = body.messages.map((m) => (typeof m.content === 'string' ? m.content : m.content.map((part) => part.text ?? '').join(''))).join('\n');
      const { model, outs } = await run(body, [prompt]);
      return {
        id: newId('chatcmpl'), object: 'chat.completion', created: created(), model: String(model.id),
        choices: outs[0].map((c, k) => ({ index: k, message: { role: 'assistant', content: c.text }, finish_reason: c.finish })),
        usage: usage(outs),
      };
    }
    throw new ApiError(404, `unknown endpoint ${pathname} (Stepwise offers /v1/models, /v1/completions, /v1/chat/completions)`);
  }

  return {
    async handle(request, response, pathname) {
      if (!pathname.startsWith('/v1/')) return false;
      let status = 200;
      let body: unknown;
      try {
        body = await answer(request, pathname);
      } catch (err) {
        const e = err instanceof ApiError ? err : new ApiError(500, (err as Error).message, 'server_error');
        status = e.status;
        // A message quotes at most a short excerpt of what it was given (a 900 KB prompt does not come back).
        body = { error: { message: quote(e.message, MAX_MESSAGE), type: e.type, param: null, code: null } };
      }
      const text = JSON.stringify(body);
      response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
      response.end(text);
      return true;
    },
    async close() {
      for (const p of loaded.values()) await (await p.catch(() => null))?.release();
      loaded.clear();
    },
  };
}
