/**
 * The errors a procedure call can answer with. Every transport carries them as
 * the same plain object; `createClient` turns them back into a `StepwiseError`.
 */

export const ERROR_CODES = [
  /** The input failed its schema; `issues` says where. Nothing was changed. */
  'invalid_input',
  /** No procedure by that name. */
  'unknown_procedure',
  /** The id names nothing (anymore). */
  'not_found',
  /** The call is valid but the state forbids it (e.g. deleting a running run). */
  'conflict',
  /** A service outside the lab (a teacher's endpoint) did not answer or refused; the message says which and why. */
  'unreachable',
  /** A bug or an I/O failure; the message says what failed. */
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** One field that failed validation. `path` is e.g. ['keys', 0]. */
export interface InputIssue {
  path: (string | number)[];
  message: string;
}

/** The error as it travels: plain JSON. */
export interface ErrorData {
  code: ErrorCode;
  /** Names the procedure and what to change, e.g. "runs.get: id must be a positive integer (got -3)". */
  message: string;
  issues?: InputIssue[];
}

export class StepwiseError extends Error {
  readonly code: ErrorCode;
  readonly issues: InputIssue[] | undefined;

  constructor(code: ErrorCode, message: string, issues?: InputIssue[]) {
    super(message);
    this.name = 'StepwiseError';
    this.code = code;
    this.issues = issues;
  }

  toData(): ErrorData {
    return this.issues ? { code: this.code, message: this.message, issues: this.issues } : { code: this.code, message: this.message };
  }
}
