/**
 * Generation benchmark (a script, not a test):
 *   node scripts/bench-generate.ts                    # the gpt2-tiny reference weights
 *   node scripts/bench-generate.ts --layers 12 --dim 768 --heads 12 --vocab 50257 --context 1024
 *   node scripts/bench-generate.ts --family llama --layers 30 --dim 576 --heads 9 --kv-heads 3 --ffn 1536 --vocab 49152 --context 2048   # SmolLM-135M's shape
 *   node scripts/bench-generate.ts --folder path/to/any-hf-folder --weights float16
 * Prints the prefill time, the median decode-step time and tokens/s for greedy
 * decoding with the key/value cache, for batch 1 and for a batch.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Generator } from '../src-main/engine/generate.ts';
import { loadModelFolder } from '../src-main/engine/hf/model-folder.ts';
import { initModel } from '../src-main/engine/init.ts';
import { modelFamily, paramCount, type ModelArch } from '../src-main/engine/models/family.ts';
import { physicalCores } from '../src-main/engine/runtime.ts';
import type { TensorMap } from '../src-main/engine/safetensors.ts';

const { values: a } = parseArgs({
  options: {
    folder: { type: 'string' },
    family: { type: 'string', default: 'gpt2' },
    layers: { type: 'string' },
    'kv-heads': { type: 'string' },
    ffn: { type: 'string' },
    weights: { type: 'string', default: 'float32' },
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

let arch: ModelArch;
let params: TensorMap;
if (a.layers) {
  const [layers, dim, heads, vocab, context] = [int(a.layers, 'layers'), int(a.dim, 'dim'), int(a.heads, 'heads'), int(a.vocab, 'vocab'), int(a.context, 'context')];
  if (a.family === 'llama') {
    arch = {
      family: 'llama', nLayer: layers, hiddenSize: dim, nHead: heads, nKvHead: a['kv-heads'] ? int(a['kv-heads'], 'kv-heads') : heads, headDim: dim / heads,
      intermediateSize: a.ffn ? int(a.ffn, 'ffn') : 4 * dim, vocabSize: vocab, maxPositions: context, rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: null,
      tieWordEmbeddings: true, qkvBias: false, oBias: false, mlpBias: false,
    };
  } else if (a.family === 'gpt2') arch = { nLayer: layers, nEmbd: dim, nHead: heads, vocabSize: vocab, nPositions: context, layerNormEpsilon: 1e-5 };
  else {
    console.error(`bench-generate: --family must be gpt2 or llama (got '${a.family}')`);
    process.exit(2);
  }
  params = initModel(arch, 0);
} else {
  const model = loadModelFolder(a.folder ?? path.resolve(import.meta.dirname, '../../shared/reference/gpt2-tiny'));
  arch = model.config;
  params = model.params;
}
if (a.weights !== 'float32' && a.weights !== 'float16') {
  console.error(`bench-generate: --weights must be float32 or float16 (got '${a.weights}')`);
  process.exit(2);
}
const family = modelFamily(arch);
const promptLen = int(a.prompt, 'prompt');
const newTokens = Math.min(int(a.tokens, 'tokens'), family.maxPositions - promptLen);
const batch = int(a.batch, 'batch');
const threads = a.threads ? int(a.threads, 'threads') : physicalCores();

const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];

console.log(
  `${family.name} ${family.nLayer} layers × ${family.hiddenSize} wide, ${family.nHead} heads (${family.kvHeads} key/value), vocab ${family.vocabSize}, context ${family.maxPositions}; ` +
    `${paramCount(arch).toLocaleString()} parameters as ${a.weights}; ${threads} threads`,
);
const gen = Generator.create(arch, params, { threads, weightDtype: a.weights });
for (const B of [1, batch]) {
  const prompts = Array.from({ length: B }, (_, r) => Array.from({ length: promptLen - (r % 3) }, (_, i) => (7 * i + r) % family.vocabSize));
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
