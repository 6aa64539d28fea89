/**
 * Events main sends for this area (merged into ../events.ts), and their names.
 * Browser-safe: types and names only, no zod.
 */

export interface ProbeEvents {}
export const probeEventNames: (keyof ProbeEvents)[] = [];
