/**
 * Fine-tune-CoT: tasks, teachers, rationale generation, students and results (issue 6).
 *
 * Spread into the contract's procedures (../procedures.ts); field schemas come
 * from ../fields.ts. Additive only, like the rest of the contract.
 */
import type { ProcedureSpec } from '../fields.ts';

export const finetuneProcedures = {} as const satisfies Record<string, ProcedureSpec>;

/** What each of these procedures answers. */
export interface FinetuneOutputs {}

