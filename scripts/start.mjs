// `npm start`: the desktop app. Before handing over to electron-vite (which
// builds main, preload and renderer, then launches Electron), check that
// Electron can start here at all, and if not, say why and what to run instead.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Why Electron cannot start on this machine, or null if it can. */
function whyElectronCannotStart() {
  // Read where the binary should be rather than require('electron'), which would try to download it.
  const electronDir = path.join(root, 'node_modules', 'electron');
  const pathFile = path.join(electronDir, 'path.txt');
  const binary = process.env.ELECTRON_OVERRIDE_DIST_PATH
    ? path.join(process.env.ELECTRON_OVERRIDE_DIST_PATH, fs.existsSync(pathFile) ? fs.readFileSync(pathFile, 'utf8') : 'electron')
    : fs.existsSync(pathFile) && path.join(electronDir, 'dist', fs.readFileSync(pathFile, 'utf8'));
  if (!binary || !fs.existsSync(binary)) {
    return 'the Electron binary is not installed (node_modules/electron has no dist/; its download may have been blocked). ' +
      'With internet access, `npx install-electron --no` fetches it';
  }
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    return 'there is no display (neither DISPLAY nor WAYLAND_DISPLAY is set)';
  }
  return null;
}

const reason = whyElectronCannotStart();
if (reason) {
  process.stderr.write(
    `Stepwise's desktop app cannot start here: ${reason}.\n\n` +
      'Run `npm run serve` instead: it serves the same lab to a browser on this machine.\n',
  );
  process.exit(1);
}

const electronVite = path.join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'electron-vite.cmd' : 'electron-vite');
const child = spawn(electronVite, ['preview'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
