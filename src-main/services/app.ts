/** app.info: what this installation is and what it can run on. */
import pkg from '../../package.json' with { type: 'json' };
import type { ExecutionProvider, GpuAdapter } from '../contract/entities.ts';
import { describeAdapter, gpuAdapter } from '../engine/gpu-adapter.ts';
import type { Handlers } from '../contract/dispatcher.ts';
import type { LabContext } from './lab.ts';

/**
 * ONNX Runtime's version and the execution providers this build of
 * onnxruntime-node offers. `bundled: false` means ONNX Runtime knows the
 * provider but its libraries are not installed (e.g. CUDA, see README "GPU").
 * Loaded on first use: the native library takes a moment to load.
 */
export async function onnxRuntimeInfo(): Promise<{ version: string; providers: ExecutionProvider[]; gpu: GpuAdapter }> {
  const ort = await import('onnxruntime-node');
  const adapter = await gpuAdapter();
  const gpu: GpuAdapter = { ...adapter, summary: describeAdapter(adapter) };
  const usable = (name: string, bundled: boolean): Pick<ExecutionProvider, 'usable' | 'reason'> => {
    if (!bundled) return { usable: false, reason: name === 'cuda' ? 'its libraries are not installed (README, "GPU: CUDA")' : 'its libraries are not installed' };
    if (name === 'webgpu' && !adapter.found) return { usable: false, reason: `no GPU adapter: ${adapter.reason}` };
    return { usable: true };
  };
  return {
    version: ort.env.versions.node ?? ort.env.versions.common,
    providers: ort.listSupportedBackends().map(({ name, bundled }) => ({ name, bundled, ...usable(name, bundled) })),
    gpu,
  };
}

export function appHandlers(lab: LabContext): Pick<Handlers, 'app.info'> {
  return {
    'app.info': async () => {
      const runtime = await onnxRuntimeInfo();
      return {
        appVersion: pkg.version,
        dataDir: lab.dataDir,
        schemaVersion: lab.store.schemaVersion,
        onnxRuntimeVersion: runtime.version,
        executionProviders: runtime.providers,
        gpu: runtime.gpu,
      };
    },
  };
}
