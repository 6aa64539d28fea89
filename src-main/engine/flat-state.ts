/**
 * A training step's state, flat: the trainable parameters and AdamW's two
 * moments, each one float32 buffer in the layout of compile.ts, plus a spare
 * set that ONNX Runtime writes the new state into (ping-pong): a step
 * allocates nothing and copies no state. Any compiled 'step' graph
 * (inputs `params`, `adam_m`, `adam_v` — or the same per optimizer group,
 * `params.<key>` … (compile.ts stateName) — `step`, `lr`, `p.<name>` views;
 * outputs `loss`, `grad_norm`, `new_params`, `new_adam_m`, `new_adam_v`, or per
 * group `new_params.<key>` …) runs through `step()`; TrainStep and Bitune's
 * AdapterStep add their batches.
 */
import { isFlatGroup, optimizerGroups, stateName, type FlatLayout } from './compile.ts';
import { ort } from './runtime.ts';
import type { TensorMap } from './safetensors.ts';

interface StateBuffers {
  p: Float32Array;
  m: Float32Array;
  v: Float32Array;
}

export interface StepResult {
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Further scalar outputs a step was asked for (FlatState.step's `scalars`), by name. */
  outputs?: Record<string, number>;
}

export class FlatState {
  readonly layout: FlatLayout;
  /** AdamW's step count t since the last reset (0 = fresh). */
  optimizerStep = 0;
  private state: StateBuffers;
  private spare: StateBuffers;
  /** Who needs the tensors, in shape errors ("the model", "the run"). */
  private readonly owner: string;

  constructor(layout: FlatLayout, init: TensorMap, owner: string) {
    this.layout = layout;
    this.owner = owner;
    const fresh = (): StateBuffers => ({ p: new Float32Array(layout.total), m: new Float32Array(layout.total), v: new Float32Array(layout.total) });
    this.state = fresh();
    this.spare = fresh();
    this.write(this.state.p, init, 'parameter');
  }

  /** Copy named tensors into a flat buffer, checking every name and shape. */
  private write(into: Float32Array, tensors: TensorMap, what: string): void {
    for (const e of this.layout.entries) {
      const t = tensors.get(e.name);
      if (!t) throw new Error(`${what} '${e.name}' is missing`);
      if (t.shape.join(',') !== e.shape.join(',')) throw new Error(`${what} '${e.name}' has shape [${t.shape.join(', ')}], ${this.owner} needs [${e.shape.join(', ')}]`);
      into.set(t.data, e.offset);
    }
  }

  /** Copies of the named tensors of a flat buffer. */
  private read(from: Float32Array): TensorMap {
    const out: TensorMap = new Map();
    for (const e of this.layout.entries) out.set(e.name, { shape: e.shape, data: from.slice(e.offset, e.offset + e.size) });
    return out;
  }

  /** Zero the AdamW moments and restart its step count (Stepwise Internalization does this at each removal). */
  resetOptimizer(): void {
    this.state.m.fill(0);
    this.state.v.fill(0);
    this.optimizerStep = 0;
  }

  /** Restore parameters and optimizer state (from a checkpoint); names and shapes are checked. */
  loadState(params: TensorMap, m: TensorMap, v: TensorMap, t: number): void {
    this.write(this.state.p, params, 'parameter');
    this.write(this.state.m, m, 'optimizer m');
    this.write(this.state.v, v, 'optimizer v');
    this.optimizerStep = t;
  }

  /** Parameters as a TensorMap (copies), for checkpoints, evaluation and export. */
  snapshot(): TensorMap {
    return this.read(this.state.p);
  }

  /** Optimizer moments as TensorMaps (copies), for checkpoints. */
  optimizerSnapshot(): { m: TensorMap; v: TensorMap } {
    return { m: this.read(this.state.m), v: this.read(this.state.v) };
  }

  /** A parameter's current values as a view of the state (no copy; valid until the next step). */
  view(name: string): Float32Array {
    const e = this.layout.entries.find((x) => x.name === name);
    if (!e) throw new Error(`${this.owner} has no parameter '${name}'`);
    return this.state.p.subarray(e.offset, e.offset + e.size);
  }

  /**
   * Run a compiled step or loop on the current state (views, no copies), the new state written
   * into the spare buffers, which then become current (ping-pong). Each optimizer group's state
   * goes in as views `params.<key>`, `adam_m.<key>`, `adam_v.<key>` (`params.<key>` only where
   * `feedParams` says: a single step reads a large parameter from its `p.<name>` view) and
   * comes out as `new_params.<key>` ….
   */
  private async runOnState(
    session: ort.InferenceSession,
    feeds: Record<string, ort.Tensor>,
    fetches: Record<string, ort.Tensor>,
    feedParams: (key: string) => boolean,
  ): Promise<void> {
    const { state: cur, spare: next } = this;
    const ins: Record<string, ort.Tensor> = { ...feeds };
    const outs: Record<string, ort.Tensor> = { ...fetches };
    for (const grp of optimizerGroups(this.layout)) {
      const view = (a: Float32Array) => new ort.Tensor('float32', a.subarray(grp.offset, grp.offset + grp.size), grp.shape);
      if (feedParams(grp.key)) ins[stateName('params', grp.key)] = view(cur.p);
      ins[stateName('adam_m', grp.key)] = view(cur.m);
      ins[stateName('adam_v', grp.key)] = view(cur.v);
      outs[stateName('new_params', grp.key)] = view(next.p);
      outs[stateName('new_adam_m', grp.key)] = view(next.m);
      outs[stateName('new_adam_v', grp.key)] = view(next.v);
    }
    await session.run(ins, outs);
    this.state = next;
    this.spare = cur;
  }

  /**
   * One optimizer step of a compiled step session; `feeds` are the batch's (and any frozen inputs).
   * `scalars`: further scalar outputs of the graph to fetch (the result's `outputs`).
   */
  async step(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, lr: number, scalars: readonly string[] = []): Promise<StepResult> {
    const t = this.optimizerStep + 1;
    const cur = this.state.p;
    const all: Record<string, ort.Tensor> = {
      ...feeds,
      step: new ort.Tensor('float32', Float32Array.of(t), []),
      lr: new ort.Tensor('float32', Float32Array.of(lr), []),
    };
    // The forward pass reads each parameter as a view of the flat buffer: no copy.
    for (const e of this.layout.entries) all[`p.${e.name}`] = new ort.Tensor('float32', cur.subarray(e.offset, e.offset + e.size), e.shape);
    const loss = new Float32Array(1);
    const gradNorm = new Float32Array(1);
    const extra = scalars.map(() => new Float32Array(1));
    const fetches: Record<string, ort.Tensor> = { loss: new ort.Tensor('float32', loss, []), grad_norm: new ort.Tensor('float32', gradNorm, []) };
    scalars.forEach((name, i) => (fetches[name] = new ort.Tensor('float32', extra[i], [])));
    await this.runOnState(session, all, fetches, isFlatGroup);
    this.optimizerStep = t;
    if (scalars.length === 0) return { loss: loss[0], gradNorm: gradNorm[0] };
    return { loss: loss[0], gradNorm: gradNorm[0], outputs: Object.fromEntries(scalars.map((name, i) => [name, extra[i][0]])) };
  }

  /**
   * K optimizer steps in one run of a compiled training loop (compile.ts compileTrainLoop):
   * `feeds` hold the K batches ([K, …] each), `lrs` one learning rate per step. The state
   * goes in and comes out once for all K steps.
   */
  async steps(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, lrs: readonly number[]): Promise<StepResult[]> {
    const K = lrs.length;
    const loss = new Float32Array(K);
    const gradNorm = new Float32Array(K);
    await this.runOnState(
      session,
      { ...feeds, step: new ort.Tensor('float32', Float32Array.of(this.optimizerStep), []), lr: new ort.Tensor('float32', Float32Array.from(lrs), [K]) },
      { loss: new ort.Tensor('float32', loss, [K]), grad_norm: new ort.Tensor('float32', gradNorm, [K]) },
      () => true,
    );
    this.optimizerStep += K;
    return Array.from(loss, (l, k) => ({ loss: l, gradNorm: gradNorm[k] }));
  }
}

/**
 * A compiled training step bound to its FlatState (TrainStep, AdapterStep): the state keeping
 * the trainer asks of every step, answered by the state.
 */
export abstract class BoundStep {
  /** Parameters and AdamW's moments, flat, with the step that updates them. */
  protected readonly state: FlatState;

  protected constructor(state: FlatState) {
    this.state = state;
  }

  /** Where each trained parameter and its moments sit in the flat vectors. */
  get layout(): FlatLayout {
    return this.state.layout;
  }

  /** AdamW's step count t since the last reset (0 = fresh). */
  get optimizerStep(): number {
    return this.state.optimizerStep;
  }

  /** Zero the AdamW moments and restart its step count (Stepwise Internalization does this at each removal). */
  resetOptimizer(): void {
    this.state.resetOptimizer();
  }

  /** Restore parameters and optimizer state (from a checkpoint); names and shapes are checked. */
  loadState(params: TensorMap, m: TensorMap, v: TensorMap, t: number): void {
    this.state.loadState(params, m, v, t);
  }

  /** The trained parameters as a TensorMap (copies), for checkpoints, evaluation and export. */
  snapshot(): TensorMap {
    return this.state.snapshot();
  }

  /** Optimizer moments as TensorMaps (copies), for checkpoints. */
  optimizerSnapshot(): { m: TensorMap; v: TensorMap } {
    return this.state.optimizerSnapshot();
  }
}
