// The one client every page uses. Which transport carries it is decided here,
// once: the Electron preload's `window.stepwise` when present, otherwise HTTP +
// WebSocket to the server that served this page. Pages cannot tell which.
import { createClient, createHttpTransport } from '../../src-main/contract/index.ts';
import type { CallResult, Client, Transport } from '../../src-main/contract/index.ts';
import { connection } from './connection.svelte.ts';
import { ConnectionError } from './errors.ts';

declare global {
  interface Window {
    /** Set by the Electron preload; absent in a browser. */
    stepwise?: Transport;
  }
}

export type TransportKind = 'electron' | 'http';

/** The server trades `?token=` for a cookie; the token has no business staying in the address bar or history. */
function dropTokenFromAddress(): void {
  const url = new URL(window.location.href);
  if (!url.searchParams.has('token')) return;
  url.searchParams.delete('token');
  window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
}

/**
 * Failures of the transport itself (no answer, refused) become errors with a
 * code, like contract errors, and mark the connection lost until a call gets
 * through again.
 */
function withConnectionErrors(transport: Transport): Transport {
  return {
    async call(name: string, input: unknown): Promise<CallResult> {
      try {
        const answer = await transport.call(name, input);
        connection.reachable = true;
        return answer;
      } catch (e) {
        const error = ConnectionError.from(name, e);
        connection.reachable = false;
        connection.lastError = error.message;
        throw error;
      }
    },
    on: (event, handler) => transport.on(event, handler),
  };
}

function connect(): { kind: TransportKind; client: Client } {
  const preload = window.stepwise;
  if (preload) return { kind: 'electron', client: createClient(withConnectionErrors(preload)) };
  dropTokenFromAddress();
  return { kind: 'http', client: createClient(withConnectionErrors(createHttpTransport())) };
}

const chosen = connect();

export const client: Client = chosen.client;
export const transportKind: TransportKind = chosen.kind;
