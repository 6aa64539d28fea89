// A file the browser (or Electron) saves, made from text in the page.
/** Saves `text` as a file the browser (or Electron) downloads under `name`. */
export function download(name: string, text: string, type = 'text/csv'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
