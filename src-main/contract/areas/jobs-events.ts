/**
 * Events main sends about cluster jobs (merged into ../events.ts), and their names.
 * Browser-safe: types and names only, no zod.
 */

export interface JobEvents {
  /** A job folder being imported (jobs.import): its files copied so far. */
  'job.importProgress': {
    /** The job folder, as given to jobs.import. */
    path: string;
    done: number;
    total: number;
  };
}
export const jobEventNames: (keyof JobEvents)[] = ['job.importProgress'];
