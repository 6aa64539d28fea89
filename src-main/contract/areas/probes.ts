/**
 * Probe views: hidden-state capture, probes, logit lens, attention (issue 7).
 *
 * Spread into the contract's procedures (../procedures.ts); field schemas come
 * from ../fields.ts. Additive only, like the rest of the contract.
 */
import type { ProcedureSpec } from '../fields.ts';

export const probeProcedures = {} as const satisfies Record<string, ProcedureSpec>;

/** What each of these procedures answers. */
export interface ProbeOutputs {}

