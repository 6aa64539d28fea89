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
