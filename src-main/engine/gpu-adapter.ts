/**
 * The GPU adapter WebGPU would train on, as a fact: vendor, architecture, device, driver and
 * whether it is a software rasterizer (SwiftShader, WARP, lavapipe) or a hardware GPU.
 *
 * ONNX Runtime's WebGPU provider asks Dawn for an adapter and says nothing of the one it got;
 * the `webgpu` package is Dawn's own binding for Node, so asking it the same question gives the
 * same answer (with Dawn's default power preference, as ORT asks). Where there is none, `reason`
 * says why in the user's words. Asked once per process, in a child process (probe()): an adapter
 * does not come and go.
 */
import { execFile } from 'node:child_process';
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

/**
 * Asks Dawn in a child process: the Vulkan loader and Dawn print their warnings ("vkCreateInstance:
 * Found no drivers!") straight to the process's stderr, which would land in every CLI command's
 * output, and a broken driver can crash the process that loads it. The child answers one line of JSON.
 */
async function probe(): Promise<GpuAdapterInfo> {
  let binding: string;
  try {
    binding = createRequire(import.meta.url).resolve('webgpu');
  } catch (err) {
    return { found: false, reason: `the WebGPU binding is not installed (${(err instanceof Error ? err.message : String(err)).split('\n')[0]})` };
  }
  const script = `
    const { create } = require(${JSON.stringify(binding)});
    create([]).requestAdapter().then((a) => {
      const i = (a && a.info) || {};
      process.stdout.write(JSON.stringify(a ? { found: true, vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description,
        fallback: Boolean(i.isFallbackAdapter ?? a.isFallbackAdapter), maxStorageBuffersPerShaderStage: a.limits && a.limits.maxStorageBuffersPerShaderStage } : { found: false }));
      process.exit(0);
    }, (e) => { process.stdout.write(JSON.stringify({ error: String(e && e.message || e) })); process.exit(0); });`;
  const answer = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    // ELECTRON_RUN_AS_NODE: in the desktop app, execPath is Electron's binary.
    const child = execFile(process.execPath, ['-e', script], { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, timeout: 30_000, maxBuffer: 1 << 20 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) }));
    child.stdin?.end();
  });
  let parsed: { found?: boolean; error?: string; vendor?: string; architecture?: string; device?: string; description?: string; fallback?: boolean; maxStorageBuffersPerShaderStage?: number };
  try {
    parsed = JSON.parse(answer.stdout);
  } catch {
    const last = answer.stderr.trim().split('\n').filter(Boolean).at(-1) ?? `exit code ${answer.code}`;
    return { found: false, reason: `the adapter probe failed: ${last}` };
  }
  if (parsed.error) return { found: false, reason: `the adapter request failed: ${parsed.error}` };
  if (!parsed.found) {
    const hint = process.platform === 'linux'
      ? 'no Vulkan driver answered: install the Vulkan loader (Debian: libvulkan1) and your GPU\'s Vulkan driver'
      : process.platform === 'darwin' ? 'Metal offered no device' : 'Direct3D 12 offered no device';
    return { found: false, reason: hint };
  }
  const text = [parsed.vendor, parsed.architecture, parsed.device, parsed.description].join(' ');
  return {
    found: true,
    vendor: parsed.vendor || undefined,
    architecture: parsed.architecture || undefined,
    device: parsed.device || undefined,
    description: parsed.description || undefined,
    software: Boolean(parsed.fallback) || SOFTWARE.test(text),
    maxStorageBuffersPerShaderStage: parsed.maxStorageBuffersPerShaderStage,
  };
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
