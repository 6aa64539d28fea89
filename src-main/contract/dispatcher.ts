/**
 * The one place inputs are validated. Both transports hand every call here:
 * the name is looked up, the input parsed against the procedure's schema, and
 * only a valid input reaches the handler. An invalid call answers
 * `invalid_input` before any handler runs, so it changes nothing.
 */
import type { z } from 'zod';
import type { CallResult } from './client.ts';
import { StepwiseError } from './errors.ts';
import { MAX_MESSAGE, inputShapeProblem, quote } from './limits.ts';
import type { InputIssue } from './errors.ts';
import { PROCEDURE_NAMES, isProcedureName, procedures } from './procedures.ts';
import type { ProcedureName, ProcedureOutput, ValidInput } from './procedures.ts';

export type Handlers = {
  [N in ProcedureName]: (input: ValidInput<N>) => ProcedureOutput<N> | Promise<ProcedureOutput<N>>;
};

export type Dispatch = (name: string, input: unknown) => Promise<CallResult>;

/**
 * `onInternalError` sees failures that are bugs or I/O errors (not contract errors), e.g. to log them.
 * Nothing escapes: whatever a schema or handler throws comes back as a typed error, its message cut to MAX_MESSAGE.
 */
export function createDispatcher(handlers: Handlers, onInternalError: (name: string, error: unknown) => void = () => {}): Dispatch {
  return async (name, input) => {
    try {
      return await dispatch(name, input);
    } catch (error) {
      onInternalError(String(name), error);
      return fail(new StepwiseError('internal', `${quote(String(name), 100)} failed: ${internalReason(error)}`));
    }
  };

  async function dispatch(name: string, input: unknown): Promise<CallResult> {
    if (typeof name !== 'string' || !isProcedureName(name)) {
      const known = PROCEDURE_NAMES.join(', ');
      return fail(new StepwiseError('unknown_procedure', `There is no procedure "${quote(String(name), 100)}". Known procedures: ${known}.`));
    }
    const shape = inputShapeProblem(input);
    if (shape) return fail(new StepwiseError('invalid_input', `${name}: ${shape.message}`, [shape]));
    const parsed = procedures[name].input.safeParse(input, { reportInput: true });
    if (!parsed.success) {
      const issues = parsed.error.issues.slice(0, 50).map(toIssue);
      const more = parsed.error.issues.length - issues.length;
      const message = `${name}: ${issues.map((i) => i.message).join('; ')}${more > 0 ? `; and ${more} more` : ''}`;
      return fail(new StepwiseError('invalid_input', message, issues));
    }
    try {
      const handler = handlers[name] as (input: unknown) => unknown;
      return { ok: true, result: await handler(parsed.data) };
    } catch (error) {
      if (error instanceof StepwiseError) return fail(error);
      onInternalError(name, error);
      return fail(new StepwiseError('internal', `${name} failed: ${internalReason(error)}`));
    }
  }
}

/** A bug's own words are no use to a researcher: a stack overflow says what it was, other errors their (cut) message. */
function internalReason(error: unknown): string {
  if (error instanceof RangeError && /call stack/i.test(error.message)) return 'the input nests too deeply to process';
  return error instanceof Error ? error.message : String(error);
}

/** Messages are cut to MAX_MESSAGE characters, and each issue's too: an error never echoes a whole input. */
function fail(error: StepwiseError): CallResult {
  const data = error.toData();
  data.message = quote(data.message, MAX_MESSAGE);
  if (data.issues) data.issues = data.issues.map((i) => ({ path: i.path.slice(0, 20), message: quote(i.message, MAX_MESSAGE) }));
  return { ok: false, error: data };
}

/** "id must be a positive integer (got -3)", "unknown field \"x\"", "input must be an object (got null)". */
function toIssue(issue: z.core.$ZodIssue): InputIssue {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  const field = path.length === 0 ? 'input' : path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
  let message: string;
  if (issue.code === 'unrecognized_keys') {
    message = `${path.length === 0 ? '' : `${field}: `}unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  } else if (issue.code === 'custom') {
    // A field's own rule ("must be text without NUL …") says which field; a whole-input rule names its fields itself.
    message = path.length > 0 && issue.message.startsWith('must ') ? `${field} ${issue.message}` : issue.message;
  } else if (issue.code === 'invalid_type' && path.length === 0) {
    message = `input must be an object (got ${preview(issue.input)})`;
  } else {
    message = `${field} ${issue.message} (got ${preview(issue.input)})`;
  }
  return { path, message };
}

function preview(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Array.isArray(value) ? 'an array' : typeof value;
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
