/**
 * Probes on Coconut's continuous thoughts (Hao et al. 2024, §5 reads the
 * thoughts through the language-model head): for each thought k of each
 * example, the thought vector (the last hidden state fed back) and its logit
 * lens, the logits the model reads at the position whose hidden state is that
 * thought, decoded to its top tokens; and linear probes (engine/probes/fit.ts:
 * held-out by problem, against the majority baseline and the control task)
 * from the thought vectors to the multiplication's targets: each digit of each
 * reasoning step (`step<s>.d<j>`) and of the answer (`ans.d<j>`).
 */
import type { ModelArch } from '../../engine/models/family.ts';
import { LatentGenerator } from '../../engine/latent-generate.ts';
import { fitCell, type CellScore } from '../../engine/probes/fit.ts';
import type { TensorMap } from '../../engine/safetensors.ts';
import type { SeqTokenizer } from '../../engine/tokenizers/seq-tokenizer.ts';
import type { CotExample } from '../shared/examples.ts';
import { splitSteps } from './curriculum.ts';
import { promptOf, tokenizeExample, type Markers } from './layout.ts';

export interface LensRow {
  thought: number;
  /** The most frequent top-1 tokens of the lens over the examples, with their shares. */
  top: { token: string; share: number }[];
  /** Each example's lens top-1 token id. */
  ids: number[];
  /** Share of examples whose lens top-1 token is the first token of step `thought` of their own CoT (the step the thought stands for when c = 1). */
  matchesStep: number;
}

export interface ThoughtCell extends CellScore {
  thought: number;
  target: string;
}

export interface ThoughtProbes {
  examples: number;
  lens: LensRow[];
  cells: ThoughtCell[];
}

/** Digit targets of a CoT and answer: `step<s>.d<j>` (digit j of step s, in the order written) and `ans.d<j>`. */
export function digitTargets(examples: CotExample[]): Map<string, (string | null)[]> {
  const digitsOf = (text: string) => text.split(/\s+/).filter((t) => /^\d$/.test(t));
  const perExample = examples.map((ex) => {
    const labels = new Map<string, string>();
    splitSteps(ex.cot).forEach((step, s) => digitsOf(step).forEach((d, j) => labels.set(`step${s + 1}.d${j}`, d)));
    digitsOf(ex.answer).forEach((d, j) => labels.set(`ans.d${j}`, d));
    return labels;
  });
  const names = [...new Set(perExample.flatMap((m) => [...m.keys()]))];
  return new Map(names.map((name) => [name, perExample.map((m) => m.get(name) ?? null)]));
}

/** The thoughts of `examples` (n each, through the generator), their logit lens, and probes of the digit targets. */
export async function probeThoughts(
  arch: ModelArch,
  params: TensorMap,
  tok: SeqTokenizer,
  m: Markers,
  examples: CotExample[],
  opts: { n: number; batchSize?: number; seeds?: number; threads?: number },
): Promise<ThoughtProbes> {
  const gen = new LatentGenerator(arch, params, { threads: opts.threads });
  const C = gen.family.hiddenSize;
  const V = gen.family.vocabSize;
  const vectors = Array.from({ length: opts.n }, () => new Float32Array(examples.length * C)); // per thought [N, C]
  const topIds = Array.from({ length: opts.n }, () => new Array<number>(examples.length));
  const batch = opts.batchSize ?? 50;
  try {
    for (let start = 0; start < examples.length; start += batch) {
      const chunk = examples.slice(start, start + batch);
      const out = await gen.generate(chunk.map((ex) => promptOf(tok, m, tokenizeExample(tok, ex))), {
        thoughts: opts.n, suffix: [], maxNewTokens: 0, eosTokenId: tok.eosId, padTokenId: tok.padId, keepThoughts: true,
      });
      out.rows.forEach((row, r) => {
        for (let k = 0; k < opts.n; k++) {
          vectors[k].set(row.thoughts![k], (start + r) * C);
          const logits = row.thoughtLogits![k];
          let best = 0;
          for (let v = 1; v < V; v++) if (logits[v] > logits[best]) best = v;
          topIds[k][start + r] = best;
        }
      });
    }
  } finally {
    await gen.release();
  }
  const firstOfStep = examples.map((ex) => splitSteps(ex.cot).map((s) => tok.encode(` ${s} `)[0]));
  const lens: LensRow[] = topIds.map((ids, k) => {
    const counts = new Map<number, number>();
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    const top = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([id, c]) => ({ token: tok.decode([id]), share: c / ids.length }));
    const matches = ids.filter((id, i) => firstOfStep[i][k] === id).length;
    return { thought: k + 1, top, ids, matchesStep: matches / ids.length };
  });
  const cells: ThoughtCell[] = [];
  const groups = examples.map((ex) => ex.input);
  for (const [target, labels] of digitTargets(examples)) {
    const rows = labels.flatMap((l, i) => (l === null ? [] : [i]));
    if (rows.length < 10) continue;
    for (let k = 0; k < opts.n; k++) {
      const X = new Float32Array(rows.length * C);
      rows.forEach((i, r) => X.set(vectors[k].subarray(i * C, (i + 1) * C), r * C));
      const score = fitCell({ X, d: C, labels: rows.map((i) => labels[i]!), groups: rows.map((i) => groups[i]), types: rows.map((i) => groups[i]) }, 'class', { seeds: opts.seeds ?? 3, heldOut: 0.2, controlType: 'input' });
      cells.push({ thought: k + 1, target, ...score });
    }
  }
  return { examples: examples.length, lens, cells };
}
