/**
 * The lab's training methods: the one list every layer above reads (the run
 * service, the CLI, the contract's `methods.list`, the preflight check and
 * the generic worker). A new method is a folder with an index.ts that exports
 * its definition (./method.ts), and one line here.
 *
 * `registerMethod` adds a method at run time (a method outside this list, e.g.
 * a test's toy method): the worker imports its `module` to find it.
 * `loadMethodModules` registers the methods of modules named in the
 * STEPWISE_METHODS environment variable (the CLI and `stepwise serve` do), so
 * a researcher can try a method folder of their own without changing the app.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { bitune, lora } from './bitune/index.ts';
import { coconut } from './coconut/index.ts';
import { fineTuneCot } from './finetune-cot/index.ts';
import { icotSi } from './icot/index.ts';
import type { MethodDefinition } from './method.ts';

/** The built-in methods, in the order the lab shows them. */
export const BUILT_IN_METHODS: readonly MethodDefinition[] = [icotSi, fineTuneCot, bitune, lora, coconut];

const registered = new Map<string, MethodDefinition>(BUILT_IN_METHODS.map((m) => [m.id, m]));

/** Every method this process knows, built-in ones first. */
export function methods(): MethodDefinition[] {
  return [...registered.values()];
}

/** The method with this id; undefined when there is none. */
export function methodById(id: string): MethodDefinition | undefined {
  return registered.get(id);
}

/** Adds a method (its id must be new, lowercase letters, digits and hyphens). Answers a function that removes it again. */
export function registerMethod(definition: MethodDefinition): () => void {
  if (!/^[a-z][a-z0-9-]{0,39}$/.test(definition.id)) throw new Error(`a method id is lowercase letters, digits and hyphens, at most 40 (got ${JSON.stringify(definition.id)})`);
  if (registered.has(definition.id)) throw new Error(`there is already a method "${definition.id}"`);
  registered.set(definition.id, definition);
  return () => {
    if (registered.get(definition.id) === definition) registered.delete(definition.id);
  };
}

/**
 * The method a run config is for: the one its `method` field names, else the
 * one definition that recognizes it; an error in words when neither does.
 */
export function methodOfConfig(config: Record<string, unknown>): MethodDefinition {
  const known = () => methods().map((m) => m.id).join(', ');
  if (config.method !== undefined) {
    const named = typeof config.method === 'string' ? methodById(config.method) : undefined;
    if (!named) throw new Error(`method ${JSON.stringify(config.method)} is not one this lab trains (it trains ${known()})`);
    return named;
  }
  const matches = methods().filter((m) => m.recognizes?.(config));
  if (matches.length === 1) return matches[0];
  if (matches.length === 0) throw new Error(`it does not say which method it is for: add "method" (one of ${known()})`);
  throw new Error(`it could be a config of ${matches.map((m) => m.id).join(' or ')}: add "method" to say which`);
}

/**
 * The method `id` in a worker thread (a fresh module graph, where only the built-in methods are
 * registered): the built-in one, else the definition `module` exports under that id.
 */
export async function methodInWorker(id: string, module: string | undefined): Promise<MethodDefinition> {
  const builtIn = methodById(id);
  if (builtIn) return builtIn;
  const found = module ? Object.values((await import(module)) as Record<string, unknown>).find((v) => isDefinition(v) && v.id === id) : undefined;
  if (!found) throw new Error(module ? `${module} exports no method "${id}"` : `there is no method "${id}"`);
  return found as MethodDefinition;
}

/** Whether a module's export is a method definition. */
function isDefinition(v: unknown): v is MethodDefinition {
  const d = v as MethodDefinition | null;
  return typeof d === 'object' && d !== null && typeof d.id === 'string' && typeof d.run === 'function' && typeof d.prepare === 'function' && typeof d.module === 'string' && typeof d.schema?.safeParse === 'function';
}

/**
 * Registers every method definition exported by each module in `list` (paths
 * separated by the platform's path delimiter, as STEPWISE_METHODS holds them);
 * answers their ids. An error names the module and what is wrong with it.
 */
export async function loadMethodModules(list: string, where = 'STEPWISE_METHODS'): Promise<string[]> {
  const ids: string[] = [];
  for (const entry of list.split(path.delimiter).filter((p) => p.trim() !== '')) {
    const file = path.resolve(entry.trim());
    if (!existsSync(file)) throw new Error(`${where}: ${file}: there is no such file (a method module, e.g. my-method/index.ts)`);
    let exports: Record<string, unknown>;
    try {
      exports = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (error) {
      throw new Error(`${where}: ${file} does not load: ${(error as Error).message}`);
    }
    const found = Object.values(exports).filter(isDefinition);
    if (found.length === 0) throw new Error(`${where}: ${file} exports no method definition (see src-main/methods/method.ts: id, title, hint, module, schema, prepare, run, library, capabilities)`);
    for (const d of found) {
      if (methodById(d.id) === d) continue;
      try {
        registerMethod(d);
      } catch (error) {
        throw new Error(`${where}: ${file}: ${(error as Error).message}`);
      }
      ids.push(d.id);
    }
  }
  return ids;
}
