/**
 * A compiled training step of the unrolled continuous-thought graph
 * (latent-passes.ts) bound to its state, shaped like TrainStep so the trainer
 * drives it unchanged. A batch says where its thoughts go by a marker token:
 * every position holding `latentId` is a latent position (as
 * facebookresearch/coconut finds `<|latent|>` in input_ids), and every row
 * must hold the same number of them. One graph is compiled per (T, n) on
 * first use.
 */
import { trainLayout } from './compile.ts';
import { BoundStep, FlatState, type StepResult } from './flat-state.ts';
import { compileLatentModel } from './latent-passes.ts';
import { modelFamily, type ModelArch } from './models/family.ts';
import type { AdamWConfig } from './optim.ts';
import { createSession, ort, type SessionOptions } from './runtime.ts';
import type { TensorMap } from './safetensors.ts';

/** Where each row's latent positions are ([B, n] row-major) and n; an error when rows differ in n or a row starts with one. */
export function latentPositions(inputIds: BigInt64Array, B: number, T: number, latentId: number): { index: BigInt64Array; n: number } {
  const rows: number[][] = [];
  const id = BigInt(latentId);
  for (let b = 0; b < B; b++) {
    const at: number[] = [];
    for (let t = 0; t < T; t++) if (inputIds[b * T + t] === id) at.push(t);
    if (at[0] === 0) throw new Error(`row ${b} starts with a latent token: a thought needs a position before it`);
    rows.push(at);
  }
  const n = rows[0].length;
  const odd = rows.findIndex((r) => r.length !== n);
  if (odd >= 0) throw new Error(`every row of a batch must hold the same number of latent thoughts: row 0 has ${n}, row ${odd} has ${rows[odd].length}`);
  return { index: BigInt64Array.from(rows.flat(), BigInt), n };
}

export class LatentStep extends BoundStep {
  readonly arch: ModelArch;
  readonly batch: number;
  readonly seq: number;
  readonly latentId: number;
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();
  private readonly opts: { adamw: AdamWConfig } & SessionOptions;

  private constructor(arch: ModelArch, batch: number, seq: number, latentId: number, init: TensorMap, opts: { adamw: AdamWConfig } & SessionOptions) {
    super(new FlatState(trainLayout(modelFamily(arch).paramShapes()), init, 'the model'));
    this.arch = arch;
    this.batch = batch;
    this.seq = seq;
    this.latentId = latentId;
    this.opts = opts;
  }

  static create(opts: { arch: ModelArch; batch: number; seq: number; latentId: number; adamw: AdamWConfig; init: TensorMap } & SessionOptions): LatentStep {
    const { arch, batch, seq, latentId, init, ...rest } = opts;
    if (!(Number.isInteger(latentId) && latentId >= 0 && latentId < modelFamily(arch).vocabSize)) throw new Error(`the latent token id ${latentId} is outside the vocabulary`);
    return new LatentStep(arch, batch, seq, latentId, init, rest);
  }

  private sessionFor(T: number, n: number): Promise<ort.InferenceSession> {
    const key = `${T}/${n}`;
    let s = this.sessions.get(key);
    if (!s) {
      const { adamw, ...session } = this.opts;
      s = createSession(compileLatentModel({ arch: this.arch, batch: this.batch, seq: T, latents: n, mode: 'step', adamw, provider: session.provider }).model, session);
      this.sessions.set(key, s);
    }
    return s;
  }

  /** One optimizer step on a [batch, T] batch; its latent positions are where `latentId` stands. Positions default to 0..T−1. */
  async run(inputIds: BigInt64Array, labels: BigInt64Array, lr: number, T = this.seq, positionIds?: BigInt64Array): Promise<StepResult> {
    const B = this.batch;
    if (!(Number.isInteger(T) && T >= 2 && T <= this.seq)) throw new Error(`sequence length ${T} must be between 2 and ${this.seq}`);
    if (inputIds.length !== B * T || labels.length !== B * T) throw new Error(`batch must be ${B}×${T} tokens, got ${inputIds.length} ids and ${labels.length} labels`);
    const positions = positionIds ?? BigInt64Array.from({ length: B * T }, (_, i) => BigInt(i % T));
    const { index, n } = latentPositions(inputIds, B, T, this.latentId);
    return this.state.step(await this.sessionFor(T, n), {
      input_ids: new ort.Tensor('int64', inputIds, [B, T]),
      labels: new ort.Tensor('int64', labels, [B, T]),
      position_ids: new ort.Tensor('int64', positions, [B, T]),
      latent_index: new ort.Tensor('int64', index, [B, n]),
    }, lr);
  }

  async release(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
  }
}
