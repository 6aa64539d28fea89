/**
 * Events main sends for this area (merged into ../events.ts), and their names.
 * Browser-safe: types and names only, no zod.
 */
import type { RunStatus } from '../entities.ts';

export interface FinetuneEvents {
  /** Where a rationale generation job stands (sent as samples are stored, at most a few times a second, and on every status change). */
  'finetune.progress': {
    generationId: number;
    status: RunStatus;
    done: number;
    total: number;
    kept: number;
    filtered: number;
    promptTokens: number;
    completionTokens: number;
    /** Set when status is 'failed'. */
    error: string | null;
  };
}
export const finetuneEventNames: (keyof FinetuneEvents)[] = ['finetune.progress'];
