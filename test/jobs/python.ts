/**
 * The Python with PyTorch that runs an exported job's train.py in tests: $STEPWISE_PYTHON, else
 * python3 on the PATH, else /usr/bin/python3 (Debian's python3-torch), the first that imports torch.
 * Outside CI a machine without one skips those tests, saying so; in CI (CI=true, where .ci/run
 * installs python3-torch) a missing torch fails them.
 */
import { spawn, spawnSync } from 'node:child_process';

function findPython(): string | null {
  const candidates = [process.env.STEPWISE_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p);
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 });
    if (r.status === 0) return python;
  }
  return null;
}

export const PYTHON = findPython();

if (!PYTHON) {
  const line = 'no Python with PyTorch found ($STEPWISE_PYTHON, python3, /usr/bin/python3): install python3-torch to run the train.py tests';
  if (process.env.CI === 'true') throw new Error(`${line} (CI needs them: .ci/run installs it)`);
  console.warn(`skipped: ${line}`);
}

/** Runs `python ARGS` (one CPU thread per process); answers its output, failing with it on a non-zero exit. */
export function python(args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON!, args, { cwd, env: { ...process.env, OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`python ${args.join(' ')} exited with ${code}:\n${out}`))));
  });
}
