/**
 * The preload: exposes the contract's Transport to the page as
 * `window.stepwise = { call, on }`, and three desktop-only hooks as
 * `window.stepwiseDesktop = { chooseFolder, reveal, pathForFile }` (a folder
 * dialog, showing a data-folder file in the file manager, and the path of a
 * dropped file), and nothing more. It runs sandboxed with context isolation,
 * so the page never touches ipcRenderer itself.
 */
import { contextBridge, ipcRenderer, webUtils } from 'electron';
import type { IpcRendererEvent } from 'electron';
import type { CallResult, Transport } from '../contract/client.ts';
import { IPC_CALL, IPC_CHOOSE_FOLDER, IPC_EVENT, IPC_REVEAL } from './channels.ts';

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

contextBridge.exposeInMainWorld('stepwiseDesktop', {
  chooseFolder: (): Promise<string | null> => ipcRenderer.invoke(IPC_CHOOSE_FOLDER) as Promise<string | null>,
  reveal: (relativePath: string): Promise<void> => ipcRenderer.invoke(IPC_REVEAL, String(relativePath)) as Promise<void>,
  pathForFile: (file: File): string => webUtils.getPathForFile(file),
});
