/**
 * Generation benchmark (a script, not a test):
 *   node scripts/bench-generate.ts                    # the gpt2-tiny reference weights
 *   node scripts/bench-generate.ts --layers 12 --dim 768 --heads 12 --vocab 50257 --context 1024
 * Prints the prefill time, the median decode-step time and tokens/s for greedy
 * decoding with the key/value cache, for batch 1 and for a batch.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Generator } from '../src-main/engine/generate.ts';
import { loadGpt2Folder } from '../src-main/engine/hf/gpt2-folder.ts';
import { initGPT2 } from '../src-main/engine/init.ts';
import { gpt2ParamCount, type GPT2Config } from '../src-main/engine/models/gpt2.ts';
import { physicalCores } from '../src-main/engine/runtime.ts';
import type { TensorMap } from '../src-main/engine/safetensors.ts';

const { values: a } = parseArgs({
  options: {
    folder: { type: 'string' },
    layers: { type: 'string' },
    dim: { type: 'string' },
    heads: { type: 'string' },
    vocab: { type: 'string' },
    context: { type: 'string' },
    prompt: { type: 'string', default: '8' },
    tokens: { type: 'string', default: '24' },
    batch: { type: 'string', default: '4' },
    threads: { type: 'string' },
  },
  strict: true,
});
const int = (v: string | undefined, name: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`bench-generate: --${name} must be a positive integer (got '${v}')`);
    process.exit(2);
  }
  return n;
};

let arch: GPT2Config;
let params: TensorMap;
if (a.layers) {
  arch = { nLayer: int(a.layers, 'layers'), nEmbd: int(a.dim, 'dim'), nHead: int(a.heads, 'heads'), vocabSize: int(a.vocab, 'vocab'), nPositions: int(a.context, 'context'), layerNormEpsilon: 1e-5 };
  params = initGPT2(arch, 0);
} else {
  const model = loadGpt2Folder(a.folder ?? path.resolve(import.meta.dirname, '../../shared/reference/gpt2-tiny'));
  arch = model.config;
  params = model.params;
}
const promptLen = int(a.prompt, 'prompt');
const newTokens = Math.min(int(a.tokens, 'tokens'), arch.nPositions - promptLen);
const batch = int(a.batch, 'batch');
const threads = a.threads ? int(a.threads, 'threads') : physicalCores();

const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];

console.log(`GPT-2 ${arch.nLayer} layers × ${arch.nEmbd} wide, ${arch.nHead} heads, vocab ${arch.vocabSize}, context ${arch.nPositions}; ${gpt2ParamCount(arch).toLocaleString()} parameters; ${threads} threads`);
const gen = Generator.create(arch, params, { threads });
for (const B of [1, batch]) {
  const prompts = Array.from({ length: B }, (_, r) => Array.from({ length: promptLen - (r % 3) }, (_, i) => (7 * i + r) % arch.vocabSize));
  await gen.generate(prompts, { maxNewTokens: 4 }); // warm-up
  const runs = [];
  for (let i = 0; i < 3; i++) runs.push(await gen.generate(prompts, { maxNewTokens: newTokens }));
  const best = runs.reduce((p, q) => (q.timings.tokensPerSecond > p.timings.tokensPerSecond ? q : p));
  const step = median(best.timings.stepMs);
  console.log(
    `batch ${B}, prompt ≤${promptLen}, ${newTokens} new tokens: prefill ${best.timings.prefillMs.toFixed(2)} ms, ` +
      `decode step ${step.toFixed(2)} ms (median) = ${((1000 * B) / step).toFixed(0)} tokens/s decoding, ${best.timings.tokensPerSecond.toFixed(0)} tokens/s overall`,
  );
}
