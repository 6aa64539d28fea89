/**
 * The running-sum targets of the auxiliary loss (Bai et al. 2025, "Why Can't
 * Transformers Learn Multiplication?"): for a × b, digits least significant
 * first as the ICoT data writes them,
 *
 *   s_k = Σ_{i+j=k} a_i·b_j,   ĉ_k = s_k + r_{k−1},   c_k = ĉ_k mod 10,   r_k = ⌊ĉ_k / 10⌋  (r_{−1} = 0)
 *
 * one target per answer digit c_k. A probe on the hidden states learns to
 * read ĉ_k at the token of c_k (`at: 'digit'`, where the paper's probe reads
 * it: that token predicts c_{k+1}, which needs the carry r_k) or at the token
 * before it (`at: 'before-digit'`, the one that predicts c_k). Targets are
 * standardized per digit with the training set's mean and deviation, so the
 * loss is about 1 − R² on training data whatever the operands' size.
 */
import type { AuxProbeStep, AuxTargets } from '../../engine/aux-probe.ts';
import type { SeqTokenizer } from '../../engine/tokenizers/seq-tokenizer.ts';
import type { CotExample } from '../shared/examples.ts';
import { parseMultInput, type Digits } from './mult.ts';

export type ProbeAt = 'digit' | 'before-digit';

/** ĉ_0 … ĉ_{A+B−1} of a × b (digits least significant first). */
export function runningSums(a: Digits, b: Digits): number[] {
  const out: number[] = [];
  let carry = 0;
  for (let k = 0; k < a.length + b.length; k++) {
    let s = 0;
    for (let i = Math.max(0, k - b.length + 1); i <= Math.min(k, a.length - 1); i++) s += a[i] * b[k - i];
    const c = s + carry;
    out.push(c);
    carry = Math.floor(c / 10);
  }
  return out;
}

/** ĉ of an example, checked against its answer; `where` names it in errors (file and line). */
export function runningSumsOf(ex: CotExample, where: string): number[] {
  const pair = parseMultInput(ex.input);
  if (!pair) throw new Error(`${where}: the running-sum loss needs multiplication problems ("7 6 9 2 * 1 6 3 6"), got "${ex.input.slice(0, 60)}"`);
  const sums = runningSums(pair.a, pair.b);
  const digits = sums.map((c) => c % 10).join(' ');
  if (ex.answer.trim().split(/\s+/).join(' ') !== digits) {
    throw new Error(`${where}: the answer "${ex.answer}" is not ${ex.input} written least significant digit first (${digits})`);
  }
  return sums;
}

/** What one laid-out row of the batch is, for its targets. */
export interface ProbeRow {
  /** Its tokens, ending with the EOS after the answer. */
  ids: number[];
  /** ĉ of its problem. */
  sums: number[];
  /** Its position ids (kept positions), when not 0, 1, 2 … */
  positions?: number[];
}

export class RunningSumTargets {
  /** Answer digits K (the probe's slots). */
  readonly slots: number;
  readonly mean: number[];
  readonly std: number[];
  private readonly tok: SeqTokenizer;
  private readonly at: ProbeAt;

  /** `train`'s ĉ set the standardization; every problem must have `slots` answer digits. */
  constructor(tok: SeqTokenizer, train: number[][], at: ProbeAt) {
    this.tok = tok;
    this.at = at;
    this.slots = train[0].length;
    train.forEach((s, i) => {
      if (s.length !== this.slots) throw new Error(`training example ${i + 1} has ${s.length} answer digits, the first has ${this.slots}: the running-sum probe needs one size of problem`);
    });
    const n = train.length;
    this.mean = Array.from({ length: this.slots }, (_, k) => train.reduce((acc, s) => acc + s[k], 0) / n);
    this.std = this.mean.map((m, k) => Math.sqrt(train.reduce((acc, s) => acc + (s[k] - m) ** 2, 0) / n) || 1);
  }

  /** Where the probe reads ĉ_k in a row: the token of answer digit k ('digit') or the one before it. */
  positions(row: ProbeRow): number[] {
    // The answer's digits are the last K tokens before the final EOS (a folder tokenizer may put a space token between).
    let t = row.ids.length - 2;
    while (t >= 0 && this.tok.decode([row.ids[t]]).trim() === '') t--;
    const first = t - this.slots + 1;
    const out: number[] = [];
    for (let k = 0; k < this.slots; k++) {
      const symbol = this.tok.decode([row.ids[first + k]]).trim();
      if (symbol !== String(row.sums[k] % 10)) {
        throw new Error(`the running-sum probe needs one token per answer digit; digit ${k + 1} of the answer is the token "${symbol}", expected "${row.sums[k] % 10}"`);
      }
      out.push(this.at === 'digit' ? first + k : first + k - 1);
    }
    return out;
  }

  /** ĉ_k standardized. */
  z(k: number, c: number): number {
    return (c - this.mean[k]) / this.std[k];
  }

  /** The targets of a [B, T] batch; `rows[b]` null for a padding row (no loss). */
  batch(rows: (ProbeRow | null)[], T: number): AuxTargets {
    const B = rows.length;
    const K = this.slots;
    const select = new Float32Array(B * T * K);
    const target = new Float32Array(B * T);
    const weight = new Float32Array(B * T);
    const supervised = rows.filter((r) => r !== null).length * K;
    rows.forEach((row, b) => {
      if (!row) return;
      this.positions(row).forEach((t, k) => {
        select[(b * T + t) * K + k] = 1;
        target[b * T + t] = this.z(k, row.sums[k]);
        weight[b * T + t] = 1 / supervised; // a mean over the supervised tokens (the engine's over heads)
      });
    });
    return { select, target, weight };
  }
}

/** The probe on problems, teacher-forced: its loss (standardized, as in training) and R² of ĉ_k per digit and on average. */
export interface ProbeScore {
  loss: number;
  /** Mean over the digits of R²_k = 1 − Σ(ĉ̂ − ĉ)² / Σ(ĉ − mean ĉ)², every head's prediction counted. */
  r2: number;
  r2PerDigit: number[];
}

export async function scoreRunningSumProbe(step: AuxProbeStep, targets: RunningSumTargets, rows: ProbeRow[], padId: number): Promise<ProbeScore> {
  const B = step.batch;
  const H = step.heads;
  const K = targets.slots;
  let longest = 0;
  for (const r of rows) longest = Math.max(longest, r.ids.length);
  const T = Math.min(step.seq, Math.ceil(longest / 8) * 8);
  const sse = new Float64Array(K);
  let zLoss = 0;
  for (let from = 0; from < rows.length; from += B) {
    const chunk: (ProbeRow | null)[] = rows.slice(from, from + B);
    while (chunk.length < B) chunk.push(null);
    const inputIds = new BigInt64Array(B * T).fill(BigInt(padId));
    const positionIds = new BigInt64Array(B * T);
    chunk.forEach((r, b) => {
      for (let t = 0; t < T; t++) {
        if (r && t < r.ids.length) inputIds[b * T + t] = BigInt(r.ids[t]);
        positionIds[b * T + t] = BigInt(r?.positions && t < r.positions.length ? r.positions[t] : Math.min(step.seq - 1, t));
      }
    });
    const pred = await step.predict({ inputIds, labels: inputIds, positionIds, aux: targets.batch(chunk, T) }, T); // [H, B·T]
    chunk.forEach((r, b) => {
      if (!r) return;
      targets.positions(r).forEach((t, k) => {
        for (let h = 0; h < H; h++) {
          const z = pred[h * B * T + b * T + t];
          zLoss += (z - targets.z(k, r.sums[k])) ** 2;
          sse[k] += (z * targets.std[k] + targets.mean[k] - r.sums[k]) ** 2;
        }
      });
    });
  }
  const r2PerDigit = Array.from({ length: K }, (_, k) => {
    const mean = rows.reduce((acc, r) => acc + r.sums[k], 0) / rows.length;
    const sst = rows.reduce((acc, r) => acc + (r.sums[k] - mean) ** 2, 0);
    return sst > 0 ? 1 - sse[k] / (H * sst) : Number.NaN;
  });
  const finite = r2PerDigit.filter(Number.isFinite);
  return { loss: zLoss / (rows.length * K * H), r2: finite.reduce((a, b) => a + b, 0) / finite.length, r2PerDigit };
}
