/**
 * The CLI's view of one training run: a listener of the lab's events, like
 * the UI. On a terminal it redraws one status line on stderr (step/total, a
 * bar, ETA, tokens/s, loss, CoT tokens removed) and prints a line per epoch
 * with the validation accuracy above it; elsewhere (CI, pipes, files) it
 * prints the status as plain lines now and then instead of redrawing.
 */
import type { EventName, EventPayloads } from '../contract/events.ts';
import type { EventBus } from '../services/events.ts';

export interface RunProgressOptions {
  stream?: NodeJS.WriteStream;
  /** Epochs of the run, to number the epoch lines. */
  epochs?: number;
  /** Without a terminal: seconds between status lines (the first and last step always get one). */
  plainEverySeconds?: number;
}

export interface RunProgress {
  /** Prints a line above the status line. */
  say(line: string): void;
  /** Stops listening and clears the status line. */
  stop(): void;
}

type Progress = EventPayloads['run.progress'];

export function runProgress(runId: number, events: EventBus, options: RunProgressOptions = {}): RunProgress {
  const stream = options.stream ?? process.stderr;
  const tty = Boolean(stream.isTTY);
  const plainEveryMs = (options.plainEverySeconds ?? 10) * 1000;
  let last: Progress | null = null;
  let drawn = false;
  let lastDrawAt = 0;
  let lastPlainAt = 0;

  const clear = () => {
    if (drawn) stream.write('\r\x1b[K');
    drawn = false;
  };
  const draw = () => {
    if (!last) return;
    const line = statusLine(last, tty);
    const width = stream.columns ?? 120;
    stream.write(`\r${line.length > width - 1 ? `${line.slice(0, width - 2)}…` : line}\x1b[K`);
    drawn = true;
    lastDrawAt = Date.now();
  };
  const say = (line: string) => {
    clear();
    stream.write(`${line}\n`);
    if (tty) draw();
  };

  const epochOf = (step: number): number | null => {
    if (!last?.totalSteps || !options.epochs) return null;
    return Math.max(1, Math.ceil((step * options.epochs) / last.totalSteps - 1e-9));
  };

  const listener = (event: EventName, payload: EventPayloads[EventName]) => {
    if ((payload as { runId: number }).runId !== runId) return;
    if (event === 'run.progress') {
      const p = payload as Progress;
      const pauseChanged = last !== null && Boolean(last.paused) !== Boolean(p.paused);
      last = p;
      const final = p.totalSteps !== null && p.step >= p.totalSteps;
      if (tty) {
        if (final || pauseChanged || Date.now() - lastDrawAt >= 100) draw();
      } else if (final || pauseChanged || lastPlainAt === 0 || Date.now() - lastPlainAt >= plainEveryMs) {
        lastPlainAt = Date.now();
        stream.write(`${statusLine(p, false)}\n`);
      }
    } else if (event === 'run.metric') {
      const { step, values } = payload as EventPayloads['run.metric'];
      if (values.val_accuracy !== undefined) {
        const epoch = epochOf(step);
        const parts = [
          `${epoch === null ? 'epoch' : `epoch ${epoch}${options.epochs ? `/${options.epochs}` : ''}`} (step ${step})`,
          `validation accuracy ${percent(values.val_accuracy)}`,
        ];
        if (values.cot_removed !== undefined) parts.push(`CoT tokens removed ${values.cot_removed}`);
        if (values.val_cot_tokens !== undefined) parts.push(`CoT generated ${values.val_cot_tokens.toFixed(1)} tokens`);
        say(parts.join(' · '));
      }
      if (values.test_accuracy !== undefined) {
        const speed = values.test_examples_per_s !== undefined ? ` · ${values.test_examples_per_s.toFixed(1)} examples/s` : '';
        say(`test accuracy ${percent(values.test_accuracy)}${speed}`);
      }
    } else if (event === 'run.log') {
      const { level, message } = payload as EventPayloads['run.log'];
      if (level === 'warn' || level === 'error') say(`${level}: ${message}`);
    }
  };
  const unsubscribe = events.subscribe(listener);
  return {
    say,
    stop() {
      unsubscribe();
      clear();
    },
  };
}

/** "step 120/400 [#########...........] 30% · ETA 1m02s · 12.3k tok/s · loss 1.2340 · CoT removed 8". */
export function statusLine(p: Progress, bar: boolean): string {
  const parts: string[] = [];
  const total = p.totalSteps;
  if (total) {
    const fraction = Math.min(1, p.step / total);
    const width = 20;
    const filled = Math.round(fraction * width);
    parts.push(`step ${p.step}/${total}${bar ? ` [${'#'.repeat(filled)}${'.'.repeat(width - filled)}]` : ''} ${Math.floor(fraction * 100)}%`);
  } else {
    parts.push(`step ${p.step}`);
  }
  if (p.paused) parts.push('paused');
  else if (p.etaSeconds !== null && total && p.step < total) parts.push(`ETA ${duration(p.etaSeconds)}`);
  if (p.tokensPerSecond != null) parts.push(`${compact(p.tokensPerSecond)} tok/s`);
  if (p.loss != null) parts.push(`loss ${p.loss.toFixed(4)}`);
  if (p.note) parts.push(p.note);
  return parts.join(' · ');
}

/** 42s, 3m05s, 2h07m. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** 950, 12.3k, 4.56M. */
function compact(n: number): string {
  if (n < 1000) return n.toFixed(0);
  if (n < 1e6) return `${(n / 1e3).toFixed(n < 1e4 ? 2 : 1)}k`;
  return `${(n / 1e6).toFixed(2)}M`;
}

function percent(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}
