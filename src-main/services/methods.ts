/**
 * methods.list: the lab's training methods as the renderer needs them (title,
 * one-line hint, what each can do), read from the one list in methods/index.ts;
 * and the check every procedure that takes a method name makes.
 */
import type { Handlers } from '../contract/dispatcher.ts';
import { StepwiseError } from '../contract/errors.ts';
import { methodById, methods } from '../methods/index.ts';
import type { MethodInfo } from '../contract/entities.ts';
import type { MethodDefinition } from '../methods/method.ts';

/** The method named `id`, or an invalid_input error naming the methods there are. */
export function knownMethod(procedure: string, id: string): MethodDefinition {
  const method = methodById(id);
  if (method) return method;
  const message = `method must be one of ${methods().map((m) => m.id).join(', ')} (got ${JSON.stringify(id)})`;
  throw new StepwiseError('invalid_input', `${procedure}: ${message}`, [{ path: ['method'], message }]);
}

function infoOf(d: MethodDefinition): MethodInfo {
  return { id: d.id, title: d.title, hint: d.hint, capabilities: { ...d.capabilities, families: [...d.capabilities.families] } };
}

export function methodHandlers(): Pick<Handlers, 'methods.list'> {
  return { 'methods.list': () => ({ items: methods().map(infoOf) }) };
}
