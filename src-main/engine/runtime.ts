/**
 * ONNX Runtime sessions for compiled graphs: execution-provider choice, thread
 * counts and typed feeds. ORT does not fall back when a provider fails to start,
 * so `createSession` turns that failure into a ProviderError naming the provider
 * and the reason, and the caller can offer CPU.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import * as ort from 'onnxruntime-node';

export { ort };

import type { ProviderName } from './target.ts';

export type { ProviderName } from './target.ts';

export interface ProviderInfo {
  name: ProviderName | string;
  /** Shipped inside this onnxruntime-node build (no extra download needed). */
  bundled: boolean;
}

/** Execution providers this platform's onnxruntime-node build offers. */
export function availableProviders(): ProviderInfo[] {
  return ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled }));
}

export class ProviderError extends Error {
  readonly provider: string;
  constructor(provider: string, reason: string) {
    super(`execution provider '${provider}' failed to start: ${reason}. Choose 'cpu' to run on the processor.`);
    this.name = 'ProviderError';
    this.provider = provider;
  }
}

/** Physical cores (not hyper-threads): ORT's intra-op threads scale with these. */
export function physicalCores(): number {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const cores = new Set<string>();
    let phys = '0';
    for (const line of info.split('\n')) {
      const [k, v] = line.split(':').map((s) => s?.trim());
      if (k === 'physical id') phys = v;
      if (k === 'core id') cores.add(`${phys}/${v}`);
    }
    if (cores.size > 0) return cores.size;
  } catch {
    // not Linux: fall through
  }
  return Math.max(1, os.availableParallelism());
}

export interface SessionOptions {
  provider?: ProviderName;
  /** Intra-op threads (default: physical cores). */
  threads?: number;
  /**
   * Inter-op threads: above 1, independent nodes run concurrently (ORT's parallel execution
   * mode), each with `threads` intra-op threads. Default 1 (sequential).
   */
  interOpThreads?: number;
  /** Path to write ORT's optimized graph, for inspection. */
  optimizedModelPath?: string;
}

export async function createSession(model: Uint8Array, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  const provider = opts.provider ?? 'cpu';
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: opts.threads ?? physicalCores(),
    interOpNumThreads: opts.interOpThreads ?? 1,
    executionMode: (opts.interOpThreads ?? 1) > 1 ? 'parallel' : 'sequential',
    enableCpuMemArena: true,
    enableMemPattern: true,
  };
  // Denormal floats (below 1.2e-38) are kept, never flushed to zero, although the CPU computes
  // them slowly. ONNX Runtime's set_denormal_as_zero reaches the intra-op pool's threads, but the
  // calling thread, which runs a share of every op, only for the first session of a process
  // (a process-wide call_once); threads started from a flushed thread inherit the mode on Linux
  // but not on Windows. With training jobs in worker threads, whichever job's session came first
  // flushed and the others did not, so the same run could give different bits from one time to
  // the next. Keeping denormals everywhere gives the same bits wherever and in whatever order
  // sessions start (test/engine/denormals.test.ts); it costs the benchmark about 3%.
  if (opts.optimizedModelPath) options.optimizedModelFilePath = opts.optimizedModelPath;
  if (provider !== 'cpu') {
    const offered = availableProviders();
    if (!offered.some((p) => p.name === provider)) {
      throw new ProviderError(provider, `this onnxruntime-node build does not offer it on ${process.platform}/${process.arch} (offered: ${offered.map((p) => p.name).join(', ')})`);
    }
  }
  try {
    return withTokenFeeds(await ort.InferenceSession.create(model, options));
  } catch (err) {
    if (provider === 'cpu') throw err;
    // Native messages can run to many lines of source paths: keep the first.
    let reason = (err instanceof Error ? err.message : String(err)).split('\n')[0].trim();
    if (provider === 'cuda') reason += ' (CUDA needs CUDA 12 and cuDNN 9, and the provider libraries: ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node)';
    if (provider === 'webgpu') reason += ' (WebGPU needs a Vulkan, Metal or Direct3D 12 driver)';
    throw new ProviderError(provider, reason);
  }
}

/**
 * Callers feed token ids as int64; a graph written for a provider without int64 kernels takes
 * them as int32 (target.ts). The session converts such feeds on their way in (ids fit easily).
 */
function withTokenFeeds(session: ort.InferenceSession): ort.InferenceSession {
  const int32Inputs = new Set(session.inputMetadata.filter((m) => m.isTensor && m.type === 'int32').map((m) => m.name));
  if (int32Inputs.size === 0) return session;
  const run = session.run.bind(session) as (...args: unknown[]) => Promise<ort.InferenceSession.OnnxValueMapType>;
  const narrowed = (feeds: ort.InferenceSession.FeedsType): ort.InferenceSession.FeedsType => {
    const out: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) {
      if (int32Inputs.has(name) && t.type === 'int64') out[name] = new ort.Tensor('int32', Int32Array.from(t.data as BigInt64Array, Number), t.dims);
      else out[name] = t as ort.Tensor;
    }
    return out;
  };
  (session as { run: unknown }).run = (feeds: ort.InferenceSession.FeedsType, ...rest: unknown[]) => run(narrowed(feeds), ...rest);
  return session;
}

export function int64Tensor(values: ArrayLike<number>, dims: readonly number[]): ort.Tensor {
  const data = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]);
  return new ort.Tensor('int64', data, dims);
}
