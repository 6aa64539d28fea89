/**
 * Every compute node on the GPU: each graph the lab runs, compiled for WebGPU, is placed by
 * ONNX Runtime with nothing but control flow on the CPU (read from its verbose placement log),
 * and no node binds more storage buffers than WebGPU's default limit of 8.
 */
import { describe, expect, it } from 'vitest';
import { compileModel, compileTrainLoop } from '../../src-main/engine/compile.ts';
import { compileDecodeGraph } from '../../src-main/engine/generate.ts';
import { loraModules, type Adapter, type LoraConfig, type PeftType } from '../../src-main/engine/lora.ts';
import { modelFamily, type ModelArch } from '../../src-main/engine/models/family.ts';
import type { GPT2Config } from '../../src-main/engine/models/gpt2.ts';
import type { LlamaConfig } from '../../src-main/engine/models/llama.ts';
import { decodeModel } from '../../src-main/engine/onnx/proto.ts';
import { ADAMW_DEFAULTS } from '../../src-main/engine/optim.ts';
import { WEBGPU_DEFAULT_STORAGE_BUFFERS } from '../../src-main/engine/target.ts';
import { compileBitune } from '../../src-main/methods/bitune/graph.ts';
import { DEFAULT_VARIANT, passesOf, type Variant } from '../../src-main/methods/bitune/variant.ts';
import { webgpuPlacement } from '../fixtures/placement.ts';
import { WEBGPU } from '../fixtures/providers.ts';

const gpt2: GPT2Config = { vocabSize: 40, nPositions: 32, nEmbd: 64, nLayer: 2, nHead: 4, layerNormEpsilon: 1e-5 };
const llama: LlamaConfig = {
  family: 'llama', vocabSize: 40, hiddenSize: 32, intermediateSize: 64, nLayer: 2, nHead: 4, nKvHead: 2, headDim: 8, maxPositions: 32,
  rmsNormEps: 1e-6, ropeTheta: 10000, ropeScaling: null, tieWordEmbeddings: true, qkvBias: false, oBias: false, mlpBias: false,
};
const loraOf = (arch: ModelArch): LoraConfig => ({ r: 4, alpha: 8, dropout: 0, targets: 'family' in arch ? ['self_attn.q_proj', 'self_attn.v_proj', 'mlp.down_proj'] : ['attn.c_attn', 'mlp.c_proj'] });

function adapterStep(arch: ModelArch, variant: Variant, type: PeftType = 'lora'): Uint8Array {
  const family = modelFamily(arch);
  const config = { ...loraOf(arch), feedforward: type === 'ia3' ? ['mlp.down_proj', 'mlp.c_proj'] : undefined };
  const modules = type === 'full' ? [] : loraModules(family.paramShapes(), config, 'family' in arch ? 'out_in' : 'in_out');
  const adapters: Adapter[] = passesOf(variant).adapters.map((name) => ({ name, type, config, modules }));
  return compileBitune({ family, variant, adapters, batch: 2, prefix: 6, rest: 10, mode: 'step', adamw: ADAMW_DEFAULTS, provider: 'webgpu' }).model;
}

const GRAPHS: [string, () => Uint8Array][] = [];
for (const [family, arch] of [['GPT-2', gpt2], ['Llama', llama]] as const) {
  GRAPHS.push(
    [`${family} training step`, () => compileModel({ arch, batch: 4, seq: 16, mode: 'step', adamw: ADAMW_DEFAULTS, provider: 'webgpu' }).model],
    [`${family} training loop`, () => compileTrainLoop({ arch, batch: 4, seq: 16, adamw: ADAMW_DEFAULTS, provider: 'webgpu' }).model],
    [`${family} generation with its key/value cache`, () => compileDecodeGraph(arch, { provider: 'webgpu' }).model],
    [`${family} probe capture (hidden states and attention)`, () => compileDecodeGraph(arch, { provider: 'webgpu', probes: true, allLogits: true }).model],
    [`${family} LoRA step`, () => adapterStep(arch, { ...DEFAULT_VARIANT, method: 'lora' })],
    [`${family} Bitune step`, () => adapterStep(arch, DEFAULT_VARIANT)],
    ...(['dora', 'ia3', 'full'] as const).map((type): [string, () => Uint8Array] => [`${family} Bitune step with ${type}`, () => adapterStep(arch, DEFAULT_VARIANT, type)]),
  );
}

/**
 * What may stay on the CPU: ONNX Runtime's WebGPU provider has no Loop, so the training loop's
 * Loop node (control flow: its body's nodes are placed on their own), its trip count (the shape
 * of the learning rates) and its body's condition pass-through (a bool scalar) run there.
 */
const CONTROL_FLOW = (n: { op: string; name: string }) =>
  n.op === 'Loop' || (n.op === 'Reshape' && n.name.startsWith('Reshape_node')) || (n.op === 'Identity' && n.name.startsWith('body/Identity_node'));

/** Inputs ONNX Runtime reads on the host (shapes, axes, split sizes), which bind no storage buffer. */
const HOST_INPUTS: Record<string, number[]> = {
  Split: [1], Reshape: [1], Unsqueeze: [1], Squeeze: [1], Slice: [1, 2, 3, 4], Expand: [1], Pad: [1, 2], TopK: [1], ConstantOfShape: [0],
  ReduceSum: [1], ReduceMean: [1], ReduceMax: [1], ReduceSumSquare: [1],
};

/** Storage buffers a node binds: its inputs and outputs, less the host-side ones. */
function widestNode(model: Uint8Array): { op: string; bindings: number } {
  let widest = { op: '', bindings: 0 };
  const visit = (nodes: { op_type?: string; input?: string[]; output?: string[]; attribute?: { g?: { node?: unknown[] } }[] }[]) => {
    for (const n of nodes) {
      if (n.op_type === 'Loop') {
        for (const a of n.attribute ?? []) if (a.g?.node) visit(a.g.node as typeof nodes);
        continue; // the Loop itself runs on the CPU
      }
      const host = HOST_INPUTS[n.op_type ?? ''] ?? [];
      const bindings = (n.input ?? []).filter((name, i) => name && !host.includes(i)).length + (n.output ?? []).length;
      if (bindings > widest.bindings) widest = { op: n.op_type ?? '', bindings };
    }
  };
  visit(decodeModel(model).graph!.node as Parameters<typeof visit>[0]);
  return widest;
}

describe.skipIf(!WEBGPU)('WebGPU node placement', () => {
  for (const [title, compile] of GRAPHS) {
    it(`${title}: every compute node on WebGPU, none wider than ${WEBGPU_DEFAULT_STORAGE_BUFFERS} bindings`, () => {
      const model = compile();
      const placed = webgpuPlacement(model);
      expect(placed.gpu).toBeGreaterThan(20);
      expect(placed.cpu.filter((n) => !CONTROL_FLOW(n))).toEqual([]);
      const widest = widestNode(model);
      expect(widest.bindings, `${widest.op} binds ${widest.bindings}`).toBeLessThanOrEqual(WEBGPU_DEFAULT_STORAGE_BUFFERS);
    });
  }

  it('the CPU graph of the same step keeps its ops (a variadic Sum, the cross-entropy function): lowering is for WebGPU only', () => {
    const ops = (provider: 'cpu' | 'webgpu') => new Set(decodeModel(compileModel({ arch: gpt2, batch: 2, seq: 8, mode: 'step', adamw: ADAMW_DEFAULTS, provider }).model).graph!.node!.map((n) => n.op_type));
    expect([...ops('cpu')].filter((op) => ['Sum', 'SoftmaxCrossEntropyLoss', 'OneHot'].includes(op!)).sort()).toEqual(['OneHot', 'SoftmaxCrossEntropyLoss', 'Sum']);
    expect([...ops('webgpu')].filter((op) => ['Sum', 'SoftmaxCrossEntropyLoss', 'OneHot', 'LogSoftmax'].includes(op!))).toEqual([]);
  });
});
