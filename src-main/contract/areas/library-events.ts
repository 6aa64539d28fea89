/**
 * Events main sends for the lab's screens (merged into ../events.ts), and their names.
 * Browser-safe: types and names only, no zod.
 */

export interface LibraryEvents {
  /** A dataset being generated or imported: examples written so far. */
  'dataset.progress': {
    /** The name the dataset was asked for, as given to datasets.generateMult. */
    name: string;
    done: number;
    total: number;
  };
  /** A Library model being evaluated (models.evaluate): examples scored so far. */
  'model.evaluation': {
    modelId: number;
    done: number;
    total: number;
  };
}
export const libraryEventNames: (keyof LibraryEvents)[] = ['dataset.progress', 'model.evaluation'];
