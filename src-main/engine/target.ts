/**
 * What a compiled graph may contain on the execution provider that will run it.
 *
 * The CPU provider (and CUDA) implement every op the compiler emits. ONNX Runtime's WebGPU
 * provider does not: it has no kernel for the variadic Sum, OneHot, LogSoftmax or the
 * SoftmaxCrossEntropyLoss function, and none for int64 data outside graph capture (a Cast, Slice
 * or Equal of int64 runs on the CPU). Any such node would run on the CPU, with a copy to and from
 * the device on every step. So a WebGPU graph takes its token ids as int32, and the ops it lacks
 * are rewritten from ops it has when the graph is written out (lowering.ts, beside the gradient
 * rules of autodiff.ts, which differentiate the unlowered graph: one table of rules for every
 * provider). A CPU graph is written exactly as it was built: its numbers do not change.
 *
 * WebGPU also bounds the storage buffers one shader may bind: the specification's default is 8
 * per stage, and an adapter may offer no more. A node binds one buffer per input and output, so a
 * wide Split or Concat is written as a tree of narrower ones.
 */
import type { DType } from './onnx/proto.ts';

export type ProviderName = 'cpu' | 'webgpu' | 'cuda' | 'dml' | 'coreml';

export interface Target {
  provider: ProviderName;
  /** The dtype of token-id inputs (input_ids, labels, position_ids): int64, or int32 where int64 data would run on the CPU. */
  tokenDtype: Extract<DType, 'int64' | 'int32'>;
  /** Ops the provider lacks, written from others when the graph is serialized (lowering.ts). */
  lowered: ReadonlySet<string>;
  /** Storage buffers one node may bind (inputs + outputs); Infinity where unbounded. */
  maxBindings: number;
}

/** WebGPU's default limit of storage buffers per shader stage (the specification's maxStorageBuffersPerShaderStage). */
export const WEBGPU_DEFAULT_STORAGE_BUFFERS = 8;

const CPU: Target = { provider: 'cpu', tokenDtype: 'int64', lowered: new Set(), maxBindings: Infinity };

const WEBGPU: Target = {
  provider: 'webgpu',
  tokenDtype: 'int32',
  lowered: new Set(['Sum', 'OneHot', 'LogSoftmax', 'SoftmaxCrossEntropyLoss', 'Slice', 'Split', 'Concat']),
  maxBindings: WEBGPU_DEFAULT_STORAGE_BUFFERS,
};

/** The target a session on `provider` runs; providers with full ONNX coverage get the CPU's graphs. */
export function targetFor(provider: ProviderName | undefined): Target {
  if (provider === 'webgpu') return WEBGPU;
  return provider && provider !== 'cpu' ? { ...CPU, provider } : CPU;
}

export const CPU_TARGET = CPU;
