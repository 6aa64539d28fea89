/**
 * The Electron main process, kept thin: open the lab, serve its contract over
 * IPC, and show the renderer in a locked-down window. Everything that trains,
 * stores or evaluates lives outside src-main/electron and never imports
 * Electron; this file and preload.ts are the only ones that do.
 *
 * The window: context isolation, sandbox, no Node integration, a strict
 * Content-Security-Policy, no navigation, no new windows, no permissions,
 * no remote content.
 */
import { BrowserWindow, app, dialog, ipcMain, safeStorage, session, shell } from 'electron';
import type { IpcMainInvokeEvent } from 'electron';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { contentSecurityPolicy } from '../services/content-security-policy.ts';
import { encryptedKeyFile, KEY_FILE } from '../services/finetune-keyfile.ts';
import { setKeyStore } from '../services/finetune-keys.ts';
import { openLab } from '../services/lab.ts';
import type { Lab } from '../services/lab.ts';
import { insideDataDir, resolveDataDir } from '../services/paths.ts';
import { IPC_CALL, IPC_CHOOSE_FOLDER, IPC_EVENT, IPC_REVEAL } from './channels.ts';

/** Set by electron-vite in `npm run dev`: the renderer's dev server. */
const DEV_SERVER_URL = process.env.ELECTRON_RENDERER_URL;
const PRELOAD = fileURLToPath(new URL('../preload/index.cjs', import.meta.url));
const RENDERER_HTML = fileURLToPath(new URL('../renderer/index.html', import.meta.url));
const ICON = fileURLToPath(new URL('../../resources/icon.png', import.meta.url));

const CONTENT_SECURITY_POLICY = contentSecurityPolicy(
  DEV_SERVER_URL ? [new URL(DEV_SERVER_URL).origin, `ws://${new URL(DEV_SERVER_URL).host}`] : [],
);

app.setName('Stepwise');
// Pin the folder to the product name (e.g. ~/.config/Stepwise), not the npm package's name.
app.setPath('userData', path.join(app.getPath('appData'), 'Stepwise'));
app.enableSandbox();

/** Only our own page may call: the packaged renderer's file, or the dev server. */
function fromOurPage(event: IpcMainInvokeEvent): boolean {
  const url = event.senderFrame?.url ?? '';
  if (DEV_SERVER_URL) return url.startsWith(new URL(DEV_SERVER_URL).origin + '/');
  return url.startsWith('file://') && fileURLToPath(url.split(/[?#]/)[0]) === RENDERER_HTML;
}

function lockDown(): void {
  const remote = /^(https?|wss?|ftp):/;
  session.defaultSession.webRequest.onBeforeRequest((details, callback) => {
    const allowed = !remote.test(details.url) || (DEV_SERVER_URL !== undefined && details.url.startsWith(new URL(DEV_SERVER_URL).origin));
    callback({ cancel: !allowed });
  });
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } });
  });
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  app.on('web-contents-created', (_event, contents) => {
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
    contents.on('will-navigate', (event) => event.preventDefault());
    contents.on('will-redirect', (event) => event.preventDefault());
    contents.on('will-attach-webview', (event) => event.preventDefault());
  });
}

function serveContract(lab: Lab): void {
  ipcMain.handle(IPC_CALL, (event, name: unknown, input: unknown) => {
    if (!fromOurPage(event)) {
      return { ok: false, error: { code: 'internal', message: 'Refused: the call did not come from the Stepwise window.' } };
    }
    return lab.dispatch(String(name), input);
  });
  // The desktop-only hooks: a folder dialog, and a data-folder file shown in the file manager.
  ipcMain.handle(IPC_CHOOSE_FOLDER, async (event) => {
    if (!fromOurPage(event)) return null;
    const window = BrowserWindow.fromWebContents(event.sender);
    const options = { title: 'Choose a Hugging Face GPT-2 folder', properties: ['openDirectory' as const] };
    const chosen = window ? await dialog.showOpenDialog(window, options) : await dialog.showOpenDialog(options);
    return chosen.canceled ? null : (chosen.filePaths[0] ?? null);
  });
  ipcMain.handle(IPC_REVEAL, (event, relative: unknown) => {
    if (!fromOurPage(event)) return;
    shell.showItemInFolder(insideDataDir(lab.dataDir, String(relative)));
  });
  lab.events.subscribe((event, payload) => {
    for (const window of BrowserWindow.getAllWindows()) {
      if (!window.webContents.isDestroyed()) window.webContents.send(IPC_EVENT, event, payload);
    }
  });
}

function openWindow(): BrowserWindow {
  const window = new BrowserWindow({
    width: 1280,
    height: 820,
    minWidth: 900,
    minHeight: 600,
    title: 'Stepwise',
    icon: ICON,
    show: false,
    webPreferences: {
      preload: PRELOAD,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      webviewTag: false,
      spellcheck: false,
    },
  });
  window.once('ready-to-show', () => window.show());
  if (DEV_SERVER_URL) void window.loadURL(DEV_SERVER_URL);
  else void window.loadFile(RENDERER_HTML);
  return window;
}

app.whenReady().then(() => {
  // STEPWISE_DATA_DIR moves the desktop app's data as it does the CLI's.
  let lab: Lab;
  try {
    lab = openLab(resolveDataDir(undefined, process.env, app.getPath('userData')));
  } catch (error) {
    dialog.showErrorBox('Stepwise cannot open its data folder', error instanceof Error ? error.message : String(error));
    app.exit(1);
    return;
  }
  // Teachers' API keys, sealed with the system keychain, in the data folder (never in the database).
  if (safeStorage.isEncryptionAvailable()) setKeyStore(encryptedKeyFile(path.join(lab.dataDir, KEY_FILE), { encrypt: (s) => safeStorage.encryptString(s), decrypt: (b) => safeStorage.decryptString(b) }));
  lockDown();
  serveContract(lab);
  openWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) openWindow();
  });
  app.on('will-quit', () => lab.close());
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
