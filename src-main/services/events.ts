/**
 * The event bus of main: whatever happens to a run is emitted here once, and
 * each transport (IPC, the local server's WebSocket) is just a listener that
 * forwards it to its renderers.
 */
import type { EventName, EventPayloads } from '../contract/events.ts';

export type EventListener = (event: EventName, payload: EventPayloads[EventName]) => void;

export interface EventBus {
  emit<E extends EventName>(event: E, payload: EventPayloads[E]): void;
  /** Returns a function that removes the listener. */
  subscribe(listener: EventListener): () => void;
}

export function createEventBus(): EventBus {
  const listeners = new Set<EventListener>();
  return {
    emit(event, payload) {
      for (const listener of listeners) {
        // One broken listener (a closed socket, a destroyed window) must not silence the others.
        try {
          listener(event, payload);
        } catch (error) {
          console.error(`stepwise: a listener of ${event} failed:`, error);
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
