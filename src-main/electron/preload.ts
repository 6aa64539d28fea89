/**
 * The preload: exposes exactly the contract's Transport to the page as
 * `window.stepwise = { call, on }` and nothing more. It runs sandboxed with
 * context isolation, so the page never touches ipcRenderer itself.
 */
import { contextBridge, ipcRenderer } from 'electron';
import type { IpcRendererEvent } from 'electron';
import type { CallResult, Transport } from '../contract/client.ts';
import { IPC_CALL, IPC_EVENT } from './channels.ts';

const transport: Transport = {
  call(name, input) {
    return ipcRenderer.invoke(IPC_CALL, String(name), input) as Promise<CallResult>;
  },
  on(event, handler) {
    const listener = (_: IpcRendererEvent, name: string, payload: unknown) => {
      if (name === event) handler(payload);
    };
    ipcRenderer.on(IPC_EVENT, listener);
    return () => {
      ipcRenderer.removeListener(IPC_EVENT, listener);
    };
  },
};

contextBridge.exposeInMainWorld('stepwise', transport);
