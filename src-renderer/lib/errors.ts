// Errors as the pages show them. Contract errors arrive typed as {code, message};
// anything else (a dropped connection, a bug) is folded into the same shape so
// every page has one way to show a failure.

export interface ShownError {
  code: string;
  message: string;
  /** For invalid_input: which fields, and what is wrong with each. */
  issues?: { path: (string | number)[]; message: string }[];
}

/** The transport got no usable answer: the server is gone, or refused us. */
export class ConnectionError extends Error {
  readonly code: 'unauthorized' | 'transport';

  constructor(code: 'unauthorized' | 'transport', message: string) {
    super(message);
    this.name = 'ConnectionError';
    this.code = code;
  }

  static from(procedure: string, e: unknown): ConnectionError {
    const message = e instanceof Error ? e.message : String(e);
    if (/HTTP 40[13]/.test(message)) return new ConnectionError('unauthorized', message);
    return new ConnectionError('transport', `${procedure}: no answer from Stepwise (${message}).`);
  }
}

export function toShownError(e: unknown): ShownError {
  if (typeof e === 'object' && e !== null) {
    const { code, message, issues } = e as { code?: unknown; message?: unknown; issues?: ShownError['issues'] };
    if (typeof code === 'string' && typeof message === 'string') {
      return Array.isArray(issues) ? { code, message, issues } : { code, message };
    }
    if (e instanceof Error) return { code: 'client_error', message: e.message };
  }
  return { code: 'client_error', message: String(e) };
}

const TITLES: Record<string, { title: string; hint?: string }> = {
  not_found: { title: 'Not found', hint: 'It may have been deleted from another window or the command line.' },
  invalid_input: { title: 'The request was not valid' },
  unknown_procedure: {
    title: 'This window is newer than Stepwise',
    hint: 'The app answering does not know this request; restart it so both halves are the same version.',
  },
  conflict: { title: 'Conflicts with the current state' },
  unreachable: { title: 'The service did not answer', hint: 'Check its address, its key and the network; Test connection tries it again.' },
  unauthorized: {
    title: 'Not authorized',
    hint: 'Open the address that `stepwise serve` printed (it carries the access token).',
  },
  unavailable: { title: 'Not available on this machine' },
  internal: { title: 'Something went wrong in Stepwise', hint: 'The log in the data folder has the details.' },
  transport: {
    title: 'Lost contact with Stepwise',
    hint: 'Is `stepwise serve` (or the desktop app) still running?',
  },
  run_failed: { title: 'The run failed' },
  client_error: { title: 'Something went wrong in this window' },
};

export function describeError(e: ShownError): { title: string; hint?: string } {
  return TITLES[e.code.toLowerCase()] ?? { title: 'Request failed' };
}

/**
 * What an error notice prints: the message (without the call's name), and a
 * list of the fields that failed when that list adds something. Servers often repeat every issue in
 * the message; then the message is cut before the first one (the list says
 * them better), and a single issue the message already states is not listed.
 */
export function layoutError(e: ShownError): { headline: string; issues: { path: string; text: string }[] } {
  const { headline, issues } = layout(e);
  return { headline: withoutProcedure(headline), issues };
}

/**
 * The message as a researcher reads it: without the name of the call that
 * failed ("datasets.generateMult: …"), which says where for a developer and a
 * log, not what went wrong.
 */
export function withoutProcedure(message: string): string {
  return message.replace(/^[a-z][A-Za-z]*\.[A-Za-z]+: /, '');
}

function layout(e: ShownError): { headline: string; issues: { path: string; text: string }[] } {
  const issues = (e.issues ?? []).map((issue) => {
    const path = issue.path.join('.');
    const text = issue.message.startsWith(`${path}: `) ? issue.message.slice(path.length + 2) : issue.message;
    return { path: path || '(input)', text, raw: issue.message };
  });
  const first = issues[0];
  if (!first) return { headline: e.message, issues: [] };
  if (issues.length === 1 && e.message.includes(first.raw)) return { headline: e.message, issues: [] };
  const at = e.message.indexOf(first.raw);
  const headline = at > 0 ? e.message.slice(0, at).replace(/[\s:;,]+$/, '') : e.message;
  return { headline, issues: issues.map(({ path, text }) => ({ path, text })) };
}
