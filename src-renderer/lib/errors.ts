// Errors as the pages show them. Contract errors arrive typed as {code, message};
// anything else (a dropped connection, a bug) is folded into the same shape so
// every page has one way to show a failure.

export interface ShownError {
  code: string;
  message: string;
}

export function toShownError(e: unknown): ShownError {
  if (typeof e === 'object' && e !== null) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && typeof message === 'string') return { code, message };
    if (e instanceof Error) return { code: 'client_error', message: e.message };
  }
  return { code: 'client_error', message: String(e) };
}

const TITLES: Record<string, { title: string; hint?: string }> = {
  not_found: { title: 'Not found' },
  invalid_input: { title: 'The request was not valid' },
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
  client_error: { title: 'Something went wrong in this window' },
};

export function describeError(e: ShownError): { title: string; hint?: string } {
  return TITLES[e.code.toLowerCase()] ?? { title: 'Request failed' };
}
