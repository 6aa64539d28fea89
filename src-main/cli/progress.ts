/**
 * A one-line progress bar on stderr, redrawn in place; silent when stderr is
 * not a terminal (logs and pipes get only the final summary).
 */
export interface ProgressBar {
  update(done: number, total: number): void;
  /** Clears the bar's line. */
  finish(): void;
}

export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  if (!stream.isTTY) return { update() {}, finish() {} };
  const started = Date.now();
  let drawn = false;
  return {
    update(done, total) {
      const fraction = total > 0 ? Math.min(1, done / total) : 1;
      const width = 30;
      const filled = Math.round(fraction * width);
      const seconds = (Date.now() - started) / 1000;
      const eta = fraction > 0 && fraction < 1 ? ` ETA ${Math.ceil((seconds / fraction) * (1 - fraction))}s` : '';
      stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} (${Math.floor(fraction * 100)}%)${eta}\x1b[K`);
      drawn = true;
    },
    finish() {
      if (drawn) stream.write('\r\x1b[K');
    },
  };
}
