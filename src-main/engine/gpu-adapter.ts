/**
 * The GPU adapter WebGPU would train on, as a fact: vendor, architecture, device, driver and
 * whether it is a software rasterizer (SwiftShader, WARP, lavapipe) or a hardware GPU.
 *
 * ONNX Runtime's WebGPU provider asks Dawn for an adapter and says nothing of the one it got;
 * the `webgpu` package is Dawn's own binding for Node, so asking it the same question gives the
 * same answer (with Dawn's default power preference, as ORT asks). Where there is none, `reason`
 * says why in the user's words. Asked once per process: an adapter does not come and go.
 */
import { createRequire } from 'node:module';

export interface GpuAdapterInfo {
  /** An adapter was found. */
  found: boolean;
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  /** A software implementation (Dawn's fallback adapter: SwiftShader, WARP), not a GPU. */
  software?: boolean;
  /** The adapter's storage-buffer limit per shader stage (WebGPU's default is 8). */
  maxStorageBuffersPerShaderStage?: number;
  /** Why there is none (no driver, no binding for this platform). */
  reason?: string;
}

let cached: Promise<GpuAdapterInfo> | null = null;

/** The adapter WebGPU would use here (cached after the first call). */
export function gpuAdapter(): Promise<GpuAdapterInfo> {
  cached ??= probe();
  return cached;
}

/** One-line description for the CLI, the status bar and a run's record. */
export function describeAdapter(a: GpuAdapterInfo): string {
  if (!a.found) return `no WebGPU adapter (${a.reason})`;
  const name = [a.vendor, a.architecture].filter(Boolean).join(' ') || a.description || 'unknown';
  const detail = a.description && a.description !== name ? `, ${a.description}` : '';
  return `${name}${detail} (${a.software ? 'software: correct but slow, no GPU' : 'hardware GPU'})`;
}

const SOFTWARE = /swiftshader|llvmpipe|lavapipe|warp|microsoft basic render|software/i;

async function probe(): Promise<GpuAdapterInfo> {
  let gpu: { requestAdapter(): Promise<AdapterLike | null> };
  try {
    const require = createRequire(import.meta.url);
    const webgpu = require('webgpu') as { create(flags: string[]): typeof gpu };
    gpu = webgpu.create([]);
  } catch (err) {
    return { found: false, reason: `the WebGPU binding could not load on ${process.platform}/${process.arch}: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}` };
  }
  let adapter: AdapterLike | null;
  try {
    adapter = await gpu.requestAdapter();
  } catch (err) {
    return { found: false, reason: `the adapter request failed: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}` };
  }
  if (!adapter) {
    const hint = process.platform === 'linux'
      ? 'no Vulkan driver answered: install the Vulkan loader (Debian: libvulkan1) and your GPU\'s Vulkan driver'
      : process.platform === 'darwin' ? 'Metal offered no device' : 'Direct3D 12 offered no device';
    return { found: false, reason: hint };
  }
  const info = adapter.info ?? {};
  const text = [info.vendor, info.architecture, info.device, info.description].join(' ');
  return {
    found: true,
    vendor: info.vendor || undefined,
    architecture: info.architecture || undefined,
    device: info.device || undefined,
    description: info.description || undefined,
    software: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter) || SOFTWARE.test(text),
    maxStorageBuffersPerShaderStage: adapter.limits?.maxStorageBuffersPerShaderStage,
  };
}

interface AdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
  limits?: { maxStorageBuffersPerShaderStage?: number };
}

/** Where a run trains, as its run.json and its log record it: the provider, and for WebGPU the adapter. */
export interface DeviceRecord {
  provider: string;
  adapter?: GpuAdapterInfo;
  /** One line for the run's log. */
  summary: string;
}

export async function deviceRecord(provider: string | undefined): Promise<DeviceRecord> {
  const p = provider ?? 'cpu';
  if (p !== 'webgpu') return { provider: p, summary: `training on ${p}` };
  const adapter = await gpuAdapter();
  return { provider: p, adapter, summary: `training on webgpu: ${describeAdapter(adapter)}` };
}
