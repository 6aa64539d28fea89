/**
 * Events main sends for this area (merged into ../events.ts), and their names.
 * Browser-safe: types and names only, no zod.
 */
import type { ProbeStatus } from './probes.ts';

export interface ProbeEvents {
  /** Where a probe job stands: which point (checkpoint), what it is doing, how far. */
  'probe.progress': {
    probeId: number;
    point: number;
    points: number;
    phase: 'capture' | 'random' | 'fit';
    done: number;
    total: number;
  };
  /** A probe job changed status (including its start, as 'running'). */
  'probe.status': { probeId: number; status: ProbeStatus; error: string | null; at: number };
}
export const probeEventNames: (keyof ProbeEvents)[] = ['probe.progress', 'probe.status'];
