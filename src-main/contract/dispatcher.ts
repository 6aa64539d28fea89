/**
 * The one place inputs are validated. Both transports hand every call here:
 * the name is looked up, the input parsed against the procedure's schema, and
 * only a valid input reaches the handler. An invalid call answers
 * `invalid_input` before any handler runs, so it changes nothing.
 */
import type { z } from 'zod';
import type { CallResult } from './client.ts';
import { StepwiseError } from './errors.ts';
import type { InputIssue } from './errors.ts';
import { PROCEDURE_NAMES, isProcedureName, procedures } from './procedures.ts';
import type { ProcedureName, ProcedureOutput, ValidInput } from './procedures.ts';

export type Handlers = {
  [N in ProcedureName]: (input: ValidInput<N>) => ProcedureOutput<N> | Promise<ProcedureOutput<N>>;
};

export type Dispatch = (name: string, input: unknown) => Promise<CallResult>;

/** `onInternalError` sees failures that are bugs or I/O errors (not contract errors), e.g. to log them. */
export function createDispatcher(handlers: Handlers, onInternalError: (name: string, error: unknown) => void = () => {}): Dispatch {
  return async (name, input) => {
    if (!isProcedureName(name)) {
      const known = PROCEDURE_NAMES.join(', ');
      return fail(new StepwiseError('unknown_procedure', `There is no procedure "${String(name)}". Known procedures: ${known}.`));
    }
    const parsed = procedures[name].input.safeParse(input, { reportInput: true });
    if (!parsed.success) {
      const issues = parsed.error.issues.map(toIssue);
      const message = `${name}: ${issues.map((i) => i.message).join('; ')}`;
      return fail(new StepwiseError('invalid_input', message, issues));
    }
    try {
      const handler = handlers[name] as (input: unknown) => unknown;
      return { ok: true, result: await handler(parsed.data) };
    } catch (error) {
      if (error instanceof StepwiseError) return fail(error);
      onInternalError(name, error);
      const reason = error instanceof Error ? error.message : String(error);
      return fail(new StepwiseError('internal', `${name} failed: ${reason}`));
    }
  };
}

function fail(error: StepwiseError): CallResult {
  return { ok: false, error: error.toData() };
}

/** "id must be a positive integer (got -3)", "unknown field \"x\"", "input must be an object (got null)". */
function toIssue(issue: z.core.$ZodIssue): InputIssue {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  const field = path.length === 0 ? 'input' : path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
  let message: string;
  if (issue.code === 'unrecognized_keys') {
    message = `${path.length === 0 ? '' : `${field}: `}unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  } else if (issue.code === 'custom') {
    message = issue.message;
  } else if (issue.code === 'invalid_type' && path.length === 0) {
    message = `input must be an object (got ${preview(issue.input)})`;
  } else {
    message = `${field} ${issue.message} (got ${preview(issue.input)})`;
  }
  return { path, message };
}

function preview(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
