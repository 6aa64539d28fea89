/** The two IPC channels between main and the preload; nothing else crosses. */

/** invoke(IPC_CALL, name, input) → CallResult */
export const IPC_CALL = 'stepwise:call';
/** send(IPC_EVENT, eventName, payload), main → renderer */
export const IPC_EVENT = 'stepwise:event';

/**
 * Desktop-only hooks (no counterpart in a browser, so not in the contract):
 * invoke(IPC_CHOOSE_FOLDER) → an absolute folder path or null;
 * invoke(IPC_REVEAL, relativePath) shows a file under the data folder in the file manager.
 */
export const IPC_CHOOSE_FOLDER = 'stepwise:choose-folder';
export const IPC_REVEAL = 'stepwise:reveal';
