/**
 * Probe views: hidden-state capture, probes, logit lens, attention (issue 7).
 *
 * Spread into the contract's procedures (../procedures.ts); field schemas come
 * from ../fields.ts. Additive only, like the rest of the contract.
 *
 * A probe job captures a model's residual stream and attention over a set of
 * examples (a dataset split, a file, or one hand-typed input) and fits linear
 * probes per target × layer × position; probing a run's checkpoints does this
 * at each one, with the CoT tokens the curriculum had removed at that point.
 */
import { z } from 'zod';
import type { JsonObject } from '../entities.ts';
import { absolutePath, datasetSplit, id, limit, nonNegativeInt, pagination, text, type ProcedureSpec } from '../fields.ts';

export const PROBE_STATUSES = ['running', 'completed', 'failed', 'cancelled'] as const;
export type ProbeStatus = (typeof PROBE_STATUSES)[number];

const patternTarget = z.strictObject({
  name: text(100),
  source: z.enum(['input', 'cot', 'answer'], { error: 'must be input, cot or answer' }).default('cot'),
  pattern: text(500),
  occurrence: nonNegativeInt().default(0),
  group: nonNegativeInt().default(0),
  kind: z.enum(['class', 'value'], { error: 'must be class or value' }).default('class'),
});

/** What to probe, on what, and how: the input of probes.start and probes.estimate, and `stepwise probe`'s options. */
export const probeRequest = z.strictObject({
  name: text(200).optional(),
  source: z.union(
    [
      z.strictObject({
        runId: id(),
        /** 'all': every saved checkpoint (the curriculum view); 'best', 'latest', or chosen steps. */
        checkpoints: z
          .union([z.enum(['all', 'best', 'latest']), z.array(nonNegativeInt()).min(1).max(1000)], { error: "must be all, best, latest or a list of steps" })
          .default('best'),
      }),
      z.strictObject({ modelId: id() }),
      z.strictObject({ dir: absolutePath() }),
    ],
    { error: 'must be {runId, checkpoints?}, {modelId} or {dir}' },
  ),
  data: z.union(
    [
      z.strictObject({ datasetId: id(), split: datasetSplit().default('test'), limit: limit(100_000).default(1000) }),
      z.strictObject({ file: absolutePath(), limit: limit(100_000).default(1000) }),
      z.strictObject({ text: text(4000) }),
    ],
    { error: 'must be {datasetId, split?, limit?}, {file, limit?} or {text}' },
  ),
  /** Target names to probe (multiplication's `pp0.d1`, `ans.d2`, … and the patterns' names); default: every class target of the CoT. */
  targets: z.array(text(100)).max(1000).optional(),
  patterns: z.array(patternTarget).max(50).default([]),
  /** Slot names (`input.0`, `eos.0`, `cot.5`, `answer.1`, …); default: every position. */
  slots: z.array(text(100)).min(1).max(4096).optional(),
  seeds: z.int({ error: 'must be an integer from 1 to 10' }).min(1, { error: 'must be an integer from 1 to 10' }).max(10, { error: 'must be an integer from 1 to 10' }).default(3),
  heldOut: z.number({ error: 'must be a number between 0 and 1' }).gt(0, { error: 'must be a number between 0 and 1' }).lt(1, { error: 'must be a number between 0 and 1' }).default(0.2),
  /** The control task's input type: the problem, or the token at the probed position. */
  controlType: z.enum(['input', 'token'], { error: 'must be input or token' }).default('input'),
  /** Fit the same probes on a randomly initialised model of the same shape. */
  randomBaseline: z.boolean({ error: 'must be true or false' }).default(true),
  /** Keep every head's attention probabilities. */
  attention: z.boolean({ error: 'must be true or false' }).default(true),
});

export type ProbeRequestInput = z.input<typeof probeRequest>;
export type ProbeRequest = z.output<typeof probeRequest>;

export const probeProcedures = {
  'probes.estimate': {
    summary: 'What a probe job would do before it starts: examples, positions, checkpoints, the targets the data offers, fits, and the bytes its captures take.',
    input: probeRequest,
  },
  'probes.start': {
    summary: 'Capture hidden states and fit linear probes (per target × layer × position, with majority, control-task and random-model baselines); progress comes as probe.progress events.',
    input: probeRequest,
  },
  'probes.cancel': {
    summary: 'Stop a running probe job after its current fit; what it finished is kept.',
    input: z.strictObject({ id: id() }),
  },
  'probes.list': {
    summary: 'Probe jobs, newest first.',
    input: z.strictObject(pagination).default({ limit: 100, offset: 0 }),
  },
  'probes.get': {
    summary: 'One probe job: its request, status, and what it holds (points probed, targets, positions).',
    input: z.strictObject({ id: id() }),
  },
  'probes.results': {
    summary: "One point's probe grid: per target, held-out score per layer × position with its spread over seeds and baselines.",
    input: z.strictObject({ id: id(), point: nonNegativeInt().default(0) }),
  },
  'probes.lens': {
    summary: 'The logit lens of one captured example at one point: per layer × position, the top tokens, their probabilities and the entropy.',
    input: z.strictObject({ id: id(), point: nonNegativeInt().default(0), example: nonNegativeInt().default(0) }),
  },
  'probes.attention': {
    summary: "Every head's attention probabilities of one captured example at one point and layer.",
    input: z.strictObject({ id: id(), point: nonNegativeInt().default(0), example: nonNegativeInt().default(0), layer: nonNegativeInt().default(0) }),
  },
  'probes.delete': {
    summary: "Delete a probe job that is not running, with its captures; answers the bytes freed.",
    input: z.strictObject({ id: id() }),
  },
} as const satisfies Record<string, ProcedureSpec>;

/** One model probed by a job: a checkpoint of a run, a run's best model, or a model folder. */
export interface ProbePoint {
  /** Index in the job's points (pass to probes.results). */
  index: number;
  /** In words: "step 120", "best model (step 400)", "the model in …". */
  label: string;
  /** The training step of the weights, when they come from a run. */
  step: number | null;
  /** Fraction of the run's training done at that step (0..1), when known. */
  progress: number | null;
  /** CoT tokens the curriculum had removed from the start of the CoT (null: all of it). */
  removed: number | null;
  /** The longest CoT of the probed examples, in tokens. */
  cotLength: number;
  /** Whether its probes are fitted. */
  done: boolean;
}

export interface ProbeTargetInfo {
  name: string;
  kind: 'class' | 'value';
  description: string;
  /** Where the CoT writes it, e.g. `cot.6`. */
  cotSlot?: string;
}

export interface ProbeSummary {
  points: ProbePoint[];
  targets: ProbeTargetInfo[];
  /** Every position probed, in reading order. */
  slots: string[];
  /** Residual-stream layers (embeddings + blocks). */
  layers: number;
  examples: number;
}

export interface Probe {
  id: number;
  name: string;
  /** The run whose weights were probed, if any. */
  runId: number | null;
  /** The request, as validated. */
  config: JsonObject;
  status: ProbeStatus;
  /** `probes/<id>`, relative to the data folder. */
  path: string;
  bytes: number;
  summary: ProbeSummary;
  error: string | null;
  createdAt: number;
  finishedAt: number | null;
}

export interface ProbeCell {
  score: number;
  std: number;
  majority: number;
  control: number;
  controlStd: number;
  selectivity: number;
  n: number;
}

export interface ProbeGrid {
  name: string;
  kind: 'class' | 'value';
  description: string;
  cotSlot?: string;
  /** Held-out accuracy (classes) or R² (values). */
  metric: 'accuracy' | 'r2';
  /** [layer][slot] */
  cells: (ProbeCell | null)[][];
  /** The same on a randomly initialised model of the same shape. */
  random: (ProbeCell | null)[][] | null;
}

export interface ProbeResults {
  probeId: number;
  point: ProbePoint;
  layers: number;
  slots: string[];
  /** The token at each slot in the first example (for axis labels). */
  slotTokens: string[];
  targets: ProbeGrid[];
}

/** What each of these procedures answers. */
export interface ProbeOutputs {
  'probes.estimate': {
    examples: number;
    /** Longest sequence, in tokens. */
    seqLen: number;
    points: { label: string; step: number | null; removed: number | null }[];
    layers: number;
    slots: string[];
    /** Every target the data offers (multiplication's digits and values, and the patterns'). */
    available: ProbeTargetInfo[];
    /** The targets the request would probe. */
    targets: string[];
    /** Probes to fit (targets × layers × positions × points × seeds × 2 for the control, ×2 with the random model). */
    fits: number;
    bytes: number;
    /**
     * Seconds the fits take, from one fit of the same width timed here (on up to 100 rows, scaled to
     * the job's rows); capturing the hidden states adds a forward pass per example and point.
     */
    seconds: number;
  };
  'probes.start': Probe;
  'probes.cancel': Probe;
  'probes.list': { items: Probe[]; total: number };
  'probes.get': Probe;
  'probes.results': ProbeResults;
  'probes.lens': {
    probeId: number;
    point: ProbePoint;
    example: number;
    /** How many examples have a lens. */
    examples: number;
    tokens: string[];
    slots: string[];
    /** [layer][position][k] */
    top: { token: string; p: number }[][][];
    /** [layer][position], bits. */
    entropy: number[][];
  };
  'probes.attention': {
    probeId: number;
    point: ProbePoint;
    example: number;
    layer: number;
    /** Blocks with attention (layers − 1). */
    blocks: number;
    heads: number;
    tokens: string[];
    slots: string[];
    /** [head][query][key], each query row summing to 1 over keys ≤ query. */
    weights: number[][][];
  };
  'probes.delete': { id: number; bytesFreed: number };
}
