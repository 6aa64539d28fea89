/**
 * The typed client the renderer uses, over any transport.
 *
 * A transport moves untyped calls and events; `createClient` gives them the
 * contract's types and turns error answers into thrown `StepwiseError`s. The
 * Electron preload's `window.stepwise` is a Transport as it stands; the local
 * server's is `createHttpTransport` (./http-transport.ts). Code written
 * against the client cannot tell which one it runs on.
 *
 * This file and the ones it imports are safe in a browser: types only, no zod,
 * no Node.
 */
import { StepwiseError } from './errors.ts';
import type { ErrorData } from './errors.ts';
import type { EventName, EventPayloads } from './events.ts';
import type { ProcedureInput, ProcedureName, ProcedureOutput } from './procedures.ts';

/** What every transport answers to a call: the output, or the error as data. */
export type CallResult = { ok: true; result: unknown } | { ok: false; error: ErrorData };

export interface Transport {
  /** `input` is undefined for calls made without one. Never rejects for a contract error; it answers { ok: false }. */
  call(name: string, input: unknown): Promise<CallResult>;
  /** Returns a function that removes the handler. */
  on(event: string, handler: (payload: unknown) => void): () => void;
}

/** Procedures whose every input field is optional may be called with no input. */
export type CallArgs<N extends ProcedureName> = {} extends ProcedureInput<N>
  ? [input?: ProcedureInput<N>]
  : [input: ProcedureInput<N>];

export interface Client {
  /** Rejects with a StepwiseError (code, message naming the procedure and field). */
  call<N extends ProcedureName>(name: N, ...args: CallArgs<N>): Promise<ProcedureOutput<N>>;
  on<E extends EventName>(event: E, handler: (payload: EventPayloads[E]) => void): () => void;
}

export function createClient(transport: Transport): Client {
  return {
    async call<N extends ProcedureName>(name: N, ...args: CallArgs<N>): Promise<ProcedureOutput<N>> {
      const answer = await transport.call(name, args[0]);
      if (!answer.ok) throw new StepwiseError(answer.error.code, answer.error.message, answer.error.issues);
      return answer.result as ProcedureOutput<N>;
    },
    on<E extends EventName>(event: E, handler: (payload: EventPayloads[E]) => void): () => void {
      return transport.on(event, handler as (payload: unknown) => void);
    },
  };
}
