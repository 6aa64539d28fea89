// One request's state for a page: loading, the data, or the error to show.
import { toShownError, type ShownError } from './errors.ts';

export class Resource<T> {
  data = $state<T | undefined>(undefined);
  error = $state<ShownError | undefined>(undefined);
  loading = $state(true);
  #load: () => Promise<T>;
  #generation = 0;

  /** Starts loading at once, unless `lazy` (then on the first reload()). */
  constructor(load: () => Promise<T>, { lazy = false }: { lazy?: boolean } = {}) {
    this.#load = load;
    if (!lazy) void this.reload();
  }

  /** Loads again; a slower earlier answer never overwrites a newer one. */
  async reload(): Promise<void> {
    const generation = ++this.#generation;
    this.loading = true;
    try {
      const data = await this.#load();
      if (generation !== this.#generation) return;
      this.data = data;
      this.error = undefined;
    } catch (e) {
      if (generation !== this.#generation) return;
      this.error = toShownError(e);
    } finally {
      if (generation === this.#generation) this.loading = false;
    }
  }
}
