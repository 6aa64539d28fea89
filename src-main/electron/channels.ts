/** The two IPC channels between main and the preload; nothing else crosses. */

/** invoke(IPC_CALL, name, input) → CallResult */
export const IPC_CALL = 'stepwise:call';
/** send(IPC_EVENT, eventName, payload), main → renderer */
export const IPC_EVENT = 'stepwise:event';
