/** Probes on continuous thoughts: the targets, the logit lens, and probes fitted on the thought vectors. */
import { describe, expect, it } from 'vitest';
import { initGPT2 } from '../../src-main/engine/init.ts';
import { LatentGenerator } from '../../src-main/engine/latent-generate.ts';
import type { GPT2Config } from '../../src-main/engine/models/gpt2.ts';
import { generateMult } from '../../src-main/methods/icot/mult.ts';
import { coconutTokenizerFor, markersOf, promptOf, tokenizeExample } from '../../src-main/methods/coconut/layout.ts';
import { digitTargets, probeThoughts } from '../../src-main/methods/coconut/probes.ts';
import { parseLine } from '../../src-main/methods/shared/examples.ts';

const FOUR = parseLine('7 6 9 2 * 1 6 3 6||7 6 9 2 0 + 0 2 0 8 7 1 ( 7 8 9 0 8 1 ) + 0 0 1 0 9 8 0 ( 7 8 0 1 7 0 1 ) + 0 0 0 2 0 8 7 1 #### 7 8 0 3 7 8 8 1');

describe('probes on continuous thoughts', () => {
  it('target each digit of each step and of the answer, in the order written', () => {
    const t = digitTargets([FOUR]);
    expect([...t.keys()].filter((k) => k.startsWith('step1') || k.startsWith('step2.'))).toEqual([
      'step1.d0', 'step1.d1', 'step1.d2', 'step1.d3', 'step1.d4',
      ...Array.from({ length: 12 }, (_, j) => `step2.d${j}`),
    ]);
    expect([t.get('step1.d4'), t.get('step2.d6'), t.get('step4.d7'), t.get('ans.d0'), t.get('ans.d7')]).toEqual([['0'], ['7'], ['1'], ['7'], ['1']]);
  });

  it('read each thought through the lens and fit held-out probes on the thought vectors', async () => {
    const examples = [...generateMult({ digitsA: 2, digitsB: 2, counts: { train: 60, valid: 0, test: 0 }, seed: 4 })].map((g) => g.example);
    const tok = coconutTokenizerFor(examples);
    const m = markersOf(tok, 'continuous');
    const arch: GPT2Config = { vocabSize: tok.vocabSize, nPositions: 32, nEmbd: 16, nLayer: 1, nHead: 2, layerNormEpsilon: 1e-5 };
    const params = initGPT2(arch, 1, 0.3);
    const r = await probeThoughts(arch, params, tok, m, examples, { n: 2, seeds: 1, threads: 1 });
    expect(r.examples).toBe(60);
    expect(r.lens.map((l) => l.thought)).toEqual([1, 2]);
    // The lens on thought 1 is the model's own next-token reading at the prompt's last position.
    const gen = new LatentGenerator(arch, params, { threads: 1 });
    const first = await gen.generate(examples.slice(0, 5).map((ex) => promptOf(tok, m, tokenizeExample(tok, ex))), { thoughts: 0, suffix: [], maxNewTokens: 1, eosTokenId: tok.eosId, padTokenId: tok.padId });
    // And the lens on thought 2 is the reading after thought 1 is fed back.
    const second = await gen.generate(examples.slice(0, 5).map((ex) => promptOf(tok, m, tokenizeExample(tok, ex))), { thoughts: 1, suffix: [], maxNewTokens: 1, eosTokenId: tok.eosId, padTokenId: tok.padId });
    await gen.release();
    expect(r.lens[0].ids.slice(0, 5)).toEqual(first.rows.map((row) => row.tokens[0]));
    expect(r.lens[1].ids.slice(0, 5)).toEqual(second.rows.map((row) => row.tokens[0]));
    expect(r.lens[0].top.reduce((a, t) => a + t.share, 0)).toBeLessThanOrEqual(1 + 1e-9);
    // One cell per digit target and thought, scored on held-out problems.
    const names = [...digitTargets(examples).keys()];
    expect(r.cells).toHaveLength(names.length * 2);
    for (const c of r.cells) {
      expect(c.n).toBe(60);
      expect(c.score).toBeGreaterThanOrEqual(0);
      expect(c.score).toBeLessThanOrEqual(1);
      expect(c.selectivity).toBeCloseTo(c.score - c.control, 10);
    }
  });
});
