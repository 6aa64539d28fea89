/**
 * Field schemas shared by every procedure file, each with the message a user
 * sees when it fails.
 */
import { z } from 'zod';
import { DATASET_SPLITS } from './entities.ts';
import { wellFormedText } from './limits.ts';
import type { JsonObject } from './entities.ts';


export const id = () =>
  z
    .int({ error: 'must be a positive integer' })
    .positive({ error: 'must be a positive integer' });

/** A run's tag: a short label, trimmed, without commas (the runs table's filter takes one). */
export const tag = () =>
  text(40).refine((v) => !v.includes(','), { error: 'must not contain a comma' });

/** A metric's key as runs record it, e.g. val_accuracy or mc_acc.choices. */
export const metricKey = () =>
  z.string({ error: 'must be a metric key' }).regex(/^[A-Za-z0-9_.\-]{1,100}$/, { error: 'must be a metric key such as val_accuracy' });

/** A training method's id (which ids exist is the lab's to say: methods.list). */
export const methodId = () =>
  z
    .string({ error: 'must be a method id such as "icot-si" (methods.list lists them)' })
    .regex(/^[a-z][a-z0-9-]{0,39}$/, { error: 'must be a method id such as "icot-si": lowercase letters, digits and hyphens (methods.list lists them)' });

export const limit = (max: number) =>
  z
    .int({ error: `must be an integer from 1 to ${max}` })
    .min(1, { error: `must be an integer from 1 to ${max}` })
    .max(max, { error: `must be an integer from 1 to ${max}` });

/** Steps, offsets, log ids. */
export const nonNegativeInt = () =>
  z.int({ error: 'must be a non-negative integer' }).nonnegative({ error: 'must be a non-negative integer' });

/** Text a person typed: no NUL character and no unpaired surrogate (a broken UTF-16 half), which would break files and tokenizers later. */
const wellFormed = wellFormedText;
const WELL_FORMED = { error: 'must be text without NUL characters or broken Unicode (unpaired surrogates)' };

export const text = (max: number) =>
  z
    .string({ error: 'must be a string' })
    .trim()
    .min(1, { error: 'must not be empty' })
    .max(max, { error: `must be at most ${max} characters` })
    .refine(wellFormed, WELL_FORMED);

export const jsonObject = () =>
  z.record(z.string(), z.json(), { error: 'must be a JSON object' }) as unknown as z.ZodType<JsonObject, JsonObject>;

export const pagination = { limit: limit(1000).default(100), offset: nonNegativeInt().default(0) };

/** A file on the machine main runs on (relative paths would depend on main's working folder). */
export const absolutePath = () =>
  z
    .string({ error: 'must be a string' })
    .min(1, { error: 'must not be empty' })
    .max(4096, { error: 'must be at most 4096 characters' })
    .regex(/^(\/|[A-Za-z]:[\\/]|\\\\)/, { error: 'must be an absolute path' })
    .refine(wellFormed, { error: 'must be a path without NUL characters or broken Unicode' });

export const datasetSplit = () => z.enum(DATASET_SPLITS, { error: `must be one of ${DATASET_SPLITS.join(', ')}` });

/** Operand lengths of generated multiplication (the paper goes up to 9×9; files grow as the square). */
export const multDigits = () =>
  z.int({ error: 'must be an integer from 1 to 30' }).min(1, { error: 'must be an integer from 1 to 30' }).max(30, { error: 'must be an integer from 1 to 30' });

export const exampleCount = () =>
  z
    .int({ error: 'must be an integer from 0 to 10000000' })
    .min(0, { error: 'must be an integer from 0 to 10000000' })
    .max(10_000_000, { error: 'must be an integer from 0 to 10000000' });

/** Procedures whose input is nothing take `{}` (or no argument at all from the client). */
export const empty = () => z.strictObject({}).default({});


/** One procedure: a line for `stepwise` users and the schema its input must satisfy. */
export interface ProcedureSpec {
  summary: string;
  input: z.ZodType;
}
