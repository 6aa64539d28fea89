// What only the desktop app can do (the Electron preload's
// `window.stepwiseDesktop`): choose a folder in a system dialog, show a file
// in the file manager, and read the path of a dropped file. In a browser it
// is null, and pages offer a path field instead.

export interface Desktop {
  /** An absolute folder path, or null when the dialog was cancelled. */
  chooseFolder(): Promise<string | null>;
  /** Shows a file or folder, given relative to the data folder, in the file manager. */
  reveal(relativePath: string): Promise<void>;
  /** The absolute path of a file or folder dropped on the window. */
  pathForFile(file: File): string;
}

declare global {
  interface Window {
    /** Set by the Electron preload; absent in a browser. */
    stepwiseDesktop?: Desktop;
  }
}

export const desktop: Desktop | null = window.stepwiseDesktop ?? null;
