// How the renderer names failures: contract errors keep their code and issues,
// transport failures get one of their own.
import { describe, expect, test } from 'vitest';
import { StepwiseError } from '../../src-main/contract/index.ts';
import { ConnectionError, describeError, layoutError, toShownError } from '../../src-renderer/lib/errors.ts';

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

describe('layoutError', () => {
  test('the headline is said without the name of the call that failed (a researcher reads what went wrong, not where)', () => {
    expect(layoutError({ code: 'invalid_input', message: 'datasets.generateMult: counts must ask for at least one example' }).headline).toBe('counts must ask for at least one example');
    expect(layoutError({ code: 'transport', message: 'runs.list: no answer from Stepwise (Failed to fetch).' }).headline).toBe('no answer from Stepwise (Failed to fetch).');
    // A path that starts like one is left alone.
    expect(layoutError({ code: 'invalid_input', message: '/data/x.txt: not a file' }).headline).toBe('/data/x.txt: not a file');
  });

  test('a message that repeats every issue is cut before the first, and the issues are listed by field', () => {
    const laid = layoutError({
      code: 'invalid_input',
      message: 'runs.start: config is not a valid ICoT-SI run configuration: config.model: Invalid input; config.data: Invalid input',
      issues: [
        { path: ['config', 'model'], message: 'config.model: Invalid input' },
        { path: ['config', 'data'], message: 'config.data: Invalid input' },
      ],
    });
    expect(laid).toEqual({
      headline: 'config is not a valid ICoT-SI run configuration',
      issues: [
        { path: 'config.model', text: 'Invalid input' },
        { path: 'config.data', text: 'Invalid input' },
      ],
    });
  });

  test('one issue the message already states is not listed again', () => {
    const message = 'datasets.import: /tmp/bad.txt:2: expected one ||';
    expect(layoutError({ code: 'invalid_input', message, issues: [{ path: ['path'], message: '/tmp/bad.txt:2: expected one ||' }] })).toEqual({
      headline: '/tmp/bad.txt:2: expected one ||',
      issues: [],
    });
  });

  test('issues the message does not mention are listed under it whole', () => {
    expect(layoutError({ code: 'invalid_input', message: 'runs.create: bad input', issues: [{ path: ['name'], message: 'must not be empty' }] })).toEqual({
      headline: 'bad input',
      issues: [{ path: 'name', text: 'must not be empty' }],
    });
  });
});
