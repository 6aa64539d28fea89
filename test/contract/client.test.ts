import { describe, expect, test } from 'vitest';
import { createClient } from '../../src-main/contract/client.ts';
import type { CallResult, Transport } from '../../src-main/contract/client.ts';

/** A transport that records what it is asked and answers from a script. */
function scripted(answers: CallResult[]) {
  const calls: [string, unknown][] = [];
  const handlers = new Map<string, (payload: unknown) => void>();
  const transport: Transport = {
    call: async (name, input) => {
      calls.push([name, input]);
      return answers.shift()!;
    },
    on: (event, handler) => {
      handlers.set(event, handler);
      return () => handlers.delete(event);
    },
  };
  return { transport, calls, handlers };
}

describe('createClient', () => {
  test('passes the name and input through unchanged and resolves the result', async () => {
    const { transport, calls } = scripted([{ ok: true, result: { items: [], total: 0 } }, { ok: true, result: { id: 4, bytesFreed: 10 } }]);
    const client = createClient(transport);
    expect(await client.call('runs.list')).toEqual({ items: [], total: 0 });
    expect(await client.call('models.delete', { id: 4 })).toEqual({ id: 4, bytesFreed: 10 });
    expect(calls).toEqual([['runs.list', undefined], ['models.delete', { id: 4 }]]);
  });

  test('delivers only the named event to a handler, until unsubscribed', () => {
    const { transport, handlers } = scripted([]);
    const client = createClient(transport);
    const seen: number[] = [];
    const stop = client.on('run.metric', (payload) => seen.push(payload.values.loss));
    handlers.get('run.metric')!({ runId: 1, step: 3, values: { loss: 0.5 }, wallTime: 0 });
    stop();
    expect([seen, handlers.has('run.metric')]).toEqual([[0.5], false]);
  });

  test('is typed by the contract: required inputs, known names and enum values are checked at compile time', async () => {
    const { transport } = scripted([{ ok: true, result: {} }, { ok: true, result: {} }, { ok: true, result: {} }]);
    const client = createClient(transport);
    // @ts-expect-error runs.get needs { id }
    await client.call('runs.get');
    // @ts-expect-error 'paused' is not a run status
    await client.call('runs.list', { status: 'paused' });
    // @ts-expect-error no such procedure
    await client.call('runs.drop', { id: 1 });
    // @ts-expect-error no such event
    expect(typeof client.on('run.finished', () => {})).toBe('function');
  });
});
