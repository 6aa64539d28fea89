// The lab's training methods as the main process lists them (methods.list):
// every page names a run's method by its title from here, and the New run form
// describes the methods it has no section for. Asked for once, on first use.
import type { MethodInfo } from '../../src-main/contract/index.ts';
import { client } from './client.ts';

class Methods {
  list = $state<MethodInfo[]>([]);
  #asked = false;

  /** Asks methods.list (once; again after a failure). */
  load(): void {
    if (this.#asked) return;
    this.#asked = true;
    client.call('methods.list').then(
      (r) => (this.list = r.items),
      () => (this.#asked = false),
    );
  }

  /** A method's title, e.g. "ICoT-SI"; its id until the list has come (or for a method this lab lacks). */
  title(id: string): string {
    this.load();
    return this.list.find((m) => m.id === id)?.title ?? id;
  }
}

export const labMethods = new Methods();
