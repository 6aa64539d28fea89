/**
 * Linear probes on captured hidden states, one per target × layer × position:
 * multinomial logistic regression for class targets (held-out accuracy),
 * ridge regression for value targets (held-out R²), on features standardised
 * with the training rows' mean and deviation.
 *
 * Held-out rows are chosen by problem, never by token: every example of one
 * input (the problem) is on the same side, so a probe never sees the problem
 * it is scored on. Each seed draws its own split and its own control labels;
 * scores are reported as the mean and standard deviation over seeds, beside:
 * - the majority baseline (the most frequent training class; for values, the
 *   training mean, whose held-out R² is about 0);
 * - the control task of Hewitt & Liang (2019): every input type gets a label
 *   drawn at random from the target's training distribution, and the same
 *   probe is fitted to those labels. Selectivity = score − control score.
 *   The input type is, by choice, the problem (`input`: its text) or the
 *   token at the probed position (`token`, H&L's word type).
 * The same cells on a randomly initialised model of the same shape are the
 * caller's to fit (the same function on that model's capture).
 */
import { Rng } from '../init.ts';
import { fitLogistic, fitRidge, predictLogistic, predictRidge } from './solvers.ts';
import type { TargetKind } from './targets.ts';

export interface FitOptions {
  /** Seeds: splits and control draws (default 3). */
  seeds: number;
  /** Fraction of problems held out (default 0.2). */
  heldOut: number;
  /** L2 strength on standardised features: logistic (1e-3) and ridge (1e-2) by default. */
  lambda?: number;
  controlType: 'input' | 'token';
}

export interface CellScore {
  /** Held-out accuracy (classes) or R² (values), mean over seeds. */
  score: number;
  /** Standard deviation over seeds (0 with one seed). */
  std: number;
  majority: number;
  control: number;
  controlStd: number;
  /** score − control. */
  selectivity: number;
  /** Rows (examples) the cell was fitted on. */
  n: number;
}

export interface CellData {
  /** Rows [n, d]. */
  X: Float32Array;
  d: number;
  labels: (string | number)[];
  /** Problem of each row (rows of one problem are held out together). */
  groups: string[];
  /** Input type of each row, for the control task. */
  types: string[];
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
};

function shuffle<T>(xs: T[], rng: Rng): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** Standardised copies of the rows `idx` (train statistics from `fitIdx`). */
function standardise(X: Float32Array, d: number, fitIdx: number[], idx: number[][]): Float64Array[] {
  const mu = new Float64Array(d);
  const sq = new Float64Array(d);
  for (const i of fitIdx) for (let j = 0; j < d; j++) mu[j] += X[i * d + j];
  for (let j = 0; j < d; j++) mu[j] /= fitIdx.length;
  for (const i of fitIdx) for (let j = 0; j < d; j++) sq[j] += (X[i * d + j] - mu[j]) ** 2;
  const inv = Float64Array.from(sq, (s) => 1 / Math.max(1e-6, Math.sqrt(s / fitIdx.length)));
  return idx.map((rows) => {
    const out = new Float64Array(rows.length * d);
    rows.forEach((i, r) => {
      for (let j = 0; j < d; j++) out[r * d + j] = (X[i * d + j] - mu[j]) * inv[j];
    });
    return out;
  });
}

/** Held-out accuracy of a logistic probe fitted to `y` on the train rows. */
function classScore(train: Float64Array, test: Float64Array, d: number, yTrain: string[], yTest: string[], lambda: number): number {
  const classes = [...new Set(yTrain)].sort();
  const index = new Map(classes.map((c, i) => [c, i]));
  let right = 0;
  if (classes.length === 1) {
    for (const y of yTest) if (y === classes[0]) right++;
    return right / yTest.length;
  }
  const m = fitLogistic(train, yTrain.map((y) => index.get(y)!), yTrain.length, d, classes.length, { lambda, maxIterations: 100, tolerance: 1e-4 });
  yTest.forEach((y, r) => {
    if (classes[predictLogistic(m, test, r * d, d)] === y) right++;
  });
  return right / yTest.length;
}

/** Held-out R² of a ridge probe (1 − SSE/SST around the held-out mean). */
function valueScore(train: Float64Array, test: Float64Array, d: number, yTrain: number[], yTest: number[], lambda: number): number {
  const m = fitRidge(train, yTrain, yTrain.length, d, lambda);
  return rSquared(yTest, yTest.map((_, r) => predictRidge(m, test, r * d, d)));
}

function rSquared(y: number[], pred: number[]): number {
  const my = mean(y);
  let sse = 0;
  let sst = 0;
  y.forEach((v, i) => {
    sse += (v - pred[i]) ** 2;
    sst += (v - my) ** 2;
  });
  return sst > 0 ? 1 - sse / sst : sse === 0 ? 1 : 0;
}

/** One cell: every seed's split, probe, majority and control. */
export function fitCell(data: CellData, kind: TargetKind, opts: FitOptions): CellScore {
  const { X, d, labels, groups, types } = data;
  const n = labels.length;
  const problems = [...new Set(groups)].sort();
  if (problems.length < 2) throw new Error(`probes need at least two distinct problems, got ${problems.length}`);
  const lambda = opts.lambda ?? (kind === 'class' ? 1e-3 : 1e-2);
  const scores: number[] = [];
  const majorities: number[] = [];
  const controls: number[] = [];
  for (let s = 0; s < opts.seeds; s++) {
    const order = shuffle(problems, new Rng(1009 + s));
    const heldCount = Math.min(problems.length - 1, Math.max(1, Math.round(opts.heldOut * problems.length)));
    const held = new Set(order.slice(0, heldCount));
    const trainIdx: number[] = [];
    const testIdx: number[] = [];
    for (let i = 0; i < n; i++) (held.has(groups[i]) ? testIdx : trainIdx).push(i);
    const [train, test] = standardise(X, d, trainIdx, [trainIdx, testIdx]);
    // Control labels: one draw from the training labels per input type.
    const rng = new Rng(7919 + s);
    const controlOf = new Map<string, string | number>();
    const control = (i: number) => {
      let c = controlOf.get(types[i]);
      if (c === undefined) {
        c = labels[trainIdx[Math.floor(rng.next() * trainIdx.length)]];
        controlOf.set(types[i], c);
      }
      return c;
    };
    const cTrain = trainIdx.map(control);
    const cTest = testIdx.map(control);
    if (kind === 'class') {
      const yTrain = trainIdx.map((i) => String(labels[i]));
      const yTest = testIdx.map((i) => String(labels[i]));
      scores.push(classScore(train, test, d, yTrain, yTest, lambda));
      const counts = new Map<string, number>();
      for (const y of yTrain) counts.set(y, (counts.get(y) ?? 0) + 1);
      const top = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0][0];
      majorities.push(yTest.filter((y) => y === top).length / yTest.length);
      controls.push(classScore(train, test, d, cTrain.map(String), cTest.map(String), lambda));
    } else {
      const yTrain = trainIdx.map((i) => Number(labels[i]));
      const yTest = testIdx.map((i) => Number(labels[i]));
      scores.push(valueScore(train, test, d, yTrain, yTest, lambda));
      majorities.push(rSquared(yTest, yTest.map(() => mean(yTrain))));
      controls.push(valueScore(train, test, d, cTrain.map(Number), cTest.map(Number), lambda));
    }
  }
  const score = mean(scores);
  const control = mean(controls);
  return { score, std: sd(scores), majority: mean(majorities), control, controlStd: sd(controls), selectivity: score - control, n };
}
