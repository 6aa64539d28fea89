// How the renderer names failures: contract errors keep their code and issues,
// transport failures get one of their own.
import { describe, expect, test } from 'vitest';
import { StepwiseError } from '../../src-main/contract/index.ts';
import { ConnectionError, describeError, toShownError } from '../../src-renderer/lib/errors.ts';

describe('toShownError', () => {
  test('a contract error keeps its code, message and field issues', () => {
    const e = new StepwiseError('invalid_input', 'runs.create: name must not be empty', [{ path: ['name'], message: 'must not be empty' }]);
    expect(toShownError(e)).toEqual({
      code: 'invalid_input',
      message: 'runs.create: name must not be empty',
      issues: [{ path: ['name'], message: 'must not be empty' }],
    });
    expect(describeError(toShownError(e)).title).toBe('The request was not valid');
  });

  test('anything else becomes a client_error carrying its message', () => {
    expect(toShownError(new TypeError('x is undefined'))).toEqual({ code: 'client_error', message: 'x is undefined' });
    expect(toShownError('plain string')).toEqual({ code: 'client_error', message: 'plain string' });
  });

  test('an unknown code still gets a title', () => {
    expect(describeError({ code: 'something_new', message: 'm' })).toEqual({ title: 'Request failed' });
  });
});

describe('ConnectionError.from', () => {
  test('a refusal (HTTP 401/403) is unauthorized, with a hint to reopen the printed URL', () => {
    const e = ConnectionError.from('runs.list', new Error('The Stepwise server refused the call runs.list (HTTP 401): open the URL…'));
    expect(e.code).toBe('unauthorized');
    expect(describeError(e).hint).toMatch(/stepwise serve/);
  });

  test('no answer at all is a transport error naming the procedure', () => {
    const e = ConnectionError.from('runs.list', new TypeError('Failed to fetch'));
    expect(e.code).toBe('transport');
    expect(e.message).toBe('runs.list: no answer from Stepwise (Failed to fetch).');
  });
});
