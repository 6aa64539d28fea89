/** Coconut's curriculum as data: steps, stages, the layout at a stage, and the batches that follow it. */
import { describe, expect, it } from 'vitest';
import { multTokenizer } from '../../src-main/engine/tokenizers/compact.ts';
import { CoconutBatches } from '../../src-main/methods/coconut/batches.ts';
import { PAPER_CURRICULUM, previewCurriculum, splitSteps, stageAt, stageLayout, type CoconutCurriculum } from '../../src-main/methods/coconut/curriculum.ts';
import { coconutTokenizerFor, encodeAtStage, markersOf, parseGenerated, promptOf, tokenizeExample } from '../../src-main/methods/coconut/layout.ts';
import { CoconutRunConfigSchema, curriculumOf } from '../../src-main/methods/coconut/recipe.ts';
import { parseLine } from '../../src-main/methods/shared/examples.ts';

const FOUR = parseLine('7 6 9 2 * 1 6 3 6||7 6 9 2 0 + 0 2 0 8 7 1 ( 7 8 9 0 8 1 ) + 0 0 1 0 9 8 0 ( 7 8 0 1 7 0 1 ) + 0 0 0 2 0 8 7 1 #### 7 8 0 3 7 8 8 1');
const TWO = parseLine('9 5 * 5 8||5 9 2 + 0 2 7 4 #### 5 1 0 5');

describe('the steps of a chain of thought', () => {
  it('are a multiplication’s partial products and sums between + signs, each keeping the sign after it', () => {
    expect(splitSteps(FOUR.cot)).toEqual(['7 6 9 2 0 +', '0 2 0 8 7 1 ( 7 8 9 0 8 1 ) +', '0 0 1 0 9 8 0 ( 7 8 0 1 7 0 1 ) +', '0 0 0 2 0 8 7 1']);
  });
  it('are a GSM8K-Aug chain’s equations, and any other chain is one step', () => {
    expect(splitSteps('<<48/2=24>> <<48+24=72>>')).toEqual(['<<48/2=24>>', '<<48+24=72>>']);
    expect(splitSteps('because 3 is odd')).toEqual(['because 3 is odd']);
    expect(splitSteps('  ')).toEqual([]);
  });
});

describe('the stages', () => {
  it('follow the paper: CoT epochs, then one more step continuous every epochsPerStage epochs, then every step gone at maxLatentStage·c thoughts', () => {
    const c = PAPER_CURRICULUM; // c = 2, 3 epochs per stage, 3 stages, 3 CoT epochs
    expect(Array.from({ length: 16 }, (_, e) => stageAt(c, e))).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 4]);
    expect([0, 1, 2, 3, 4].map((s) => stageLayout(c, s, 4))).toEqual([
      { removed: 0, thoughts: 0 }, { removed: 1, thoughts: 2 }, { removed: 2, thoughts: 4 }, { removed: 3, thoughts: 6 }, { removed: 4, thoughts: 6 },
    ]);
    // A short example keeps the stage's thought count (pad_latent_to_max): every row of a stage has as many.
    expect(stageLayout(c, 3, 2)).toEqual({ removed: 2, thoughts: 6 });
  });

  it('preview says which steps are continuous when, and which stages a short run never reaches', () => {
    const rows = previewCurriculum(PAPER_CURRICULUM, 10, 4);
    expect(rows.map((r) => [r.stage, r.epochs, r.thoughts, r.steps.join(' ')])).toEqual([
      [0, [1, 3], 0, 'text text text text'],
      [1, [4, 6], 2, 'latent text text text'],
      [2, [7, 9], 4, 'latent latent text text'],
      [3, [10, 10], 6, 'latent latent latent text'],
      [4, null, 6, 'latent latent latent latent'],
    ]);
  });

  it('a config’s curriculum defaults to the paper’s, stage 0 as long as the others', () => {
    const config = CoconutRunConfigSchema.parse({ method: 'coconut', model: { kind: 'fresh' }, data: { train: 'a', valid: 'b' }, train: { epochs: 3 } });
    expect(curriculumOf(config.curriculum)).toEqual(PAPER_CURRICULUM);
    expect([config.thoughts, config.train.lr, config.train.weightDecay]).toEqual(['continuous', 1e-4, 0.01]);
    const bad = CoconutRunConfigSchema.safeParse({ method: 'coconut', thoughts: 'tokens', model: { kind: 'fresh' }, data: { train: 'a', valid: 'b' }, train: { epochs: 3 } });
    expect(bad.success ? [] : bad.error.issues.map((i) => i.path.join('.'))).toEqual(['thoughts']);
  });
});

describe('an example at a stage', () => {
  const tok = coconutTokenizerFor([TWO]);
  const c: CoconutCurriculum = { ...PAPER_CURRICULUM, thoughtsPerStep: 2, maxLatentStage: 1 };

  it('is input EOS <bot> thoughts <eot>, the steps left, EOS #### answer EOS, with the loss only after <eot>', () => {
    const m = markersOf(tok, 'continuous');
    const ex = tokenizeExample(tok, TWO);
    const text = (ids: number[]) => tok.decode(ids);
    const at = (stage: number) => encodeAtStage(tok, m, ex, c, stage);
    expect(text(at(0).ids)).toBe('9 5 * 5 8 <eos> <bot> <eot> 5 9 2 + 0 2 7 4 <eos> #### 5 1 0 5 <eos>');
    expect(text(at(1).ids)).toBe('9 5 * 5 8 <eos> <bot> <latent> <latent> <eot> 0 2 7 4 <eos> #### 5 1 0 5 <eos>');
    expect(text(at(2).ids)).toBe('9 5 * 5 8 <eos> <bot> <latent> <latent> <eot> <eos> #### 5 1 0 5 <eos>');
    const e = at(1);
    const firstLabelled = e.labels.findIndex((l) => l !== -100);
    expect(text([e.ids[firstLabelled - 1]])).toBe('<eot>');
    expect(text(e.labels.slice(firstLabelled))).toBe('0 2 7 4 <eos> #### 5 1 0 5 <eos>');
    expect(text(promptOf(tok, m, ex))).toBe('9 5 * 5 8 <eos> <bot>');
  });

  it('has <pause> tokens in place of thoughts for the control, and a tokenizer without markers is refused in words', () => {
    const m = markersOf(tok, 'pause');
    expect(tok.decode(encodeAtStage(tok, m, tokenizeExample(tok, TWO), c, 1).ids)).toContain('<bot> <pause> <pause> <eot>');
    expect(() => markersOf(multTokenizer(), 'continuous')).toThrow('the model\'s tokenizer has no single token for <bot>: start from a fresh model, or from a Coconut run\'s model');
  });

  it('reads the answer after the second EOS’s ####', () => {
    const ids = tok.encode(' 0 2 7 4 ');
    expect(parseGenerated(tok, [...ids, tok.eosId, ...tok.encode(' #### 5 1 0 5 '), tok.eosId])).toEqual({ steps: '0 2 7 4', answer: '5 1 0 5', stepTokens: 4 });
    expect(parseGenerated(tok, ids).answer).toBeNull();
  });
});

describe('Coconut batches', () => {
  const tok = coconutTokenizerFor([FOUR]);
  const m = markersOf(tok, 'continuous');
  const examples = Array.from({ length: 8 }, () => tokenizeExample(tok, FOUR));
  const cur: CoconutCurriculum = { thoughtsPerStep: 1, epochsPerStage: 1, cotEpochs: 1, maxLatentStage: 2, resetOptimizer: true };

  it('go stage by stage, ask for an optimizer reset on each new stage’s first batch, and hold one thought count per batch', () => {
    const batches = new CoconutBatches(examples, { batch: 4, maxSeq: 128, seed: 0, tok, markers: m, curriculum: cur });
    const seen = Array.from({ length: 10 }, () => batches.next());
    expect(seen.map((b) => [b.epoch, b.info!.stage, b.info!.thoughts, b.resetOptimizer])).toEqual([
      [0, 0, 0, false], [0, 0, 0, false],
      [1, 1, 1, true], [1, 1, 1, false],
      [2, 2, 2, true], [2, 2, 2, false],
      [3, 3, 2, true], [3, 3, 2, false],
      [4, 3, 2, false], [4, 3, 2, false],
    ]);
    const latent = BigInt(m.thought);
    for (const b of seen) {
      const T = b.seq!;
      for (let r = 0; r < 4; r++) expect(b.inputIds.slice(r * T, (r + 1) * T).filter((x) => x === latent).length).toBe(b.info!.thoughts);
    }
    // Without resets, none is asked for.
    const calm = new CoconutBatches(examples, { batch: 4, maxSeq: 128, seed: 0, tok, markers: m, curriculum: { ...cur, resetOptimizer: false } });
    expect(Array.from({ length: 6 }, () => calm.next().resetOptimizer)).toEqual([false, false, false, false, false, false]);
  });

  it('seeking to a saved position gives the same batches', () => {
    const a = new CoconutBatches(examples, { batch: 4, maxSeq: 128, seed: 5, tok, markers: m, curriculum: cur });
    a.next();
    a.next();
    a.next();
    const pos = a.position();
    const b = new CoconutBatches(examples, { batch: 4, maxSeq: 128, seed: 5, tok, markers: m, curriculum: cur });
    b.seek(pos);
    expect(Array.from(b.next().inputIds)).toEqual(Array.from(a.next().inputIds));
  });
});
