/**
 * coconut.preview: Coconut's stages for the New run form, computed by the
 * method's own curriculum code, so what the form shows is what a run does.
 */
import type { Handlers } from '../contract/dispatcher.ts';
import { previewCurriculum, splitSteps } from '../methods/coconut/curriculum.ts';

/** A 4×4 product's chain of thought in the ICoT format (the paper's first test problem). */
const FOUR_BY_FOUR = '7 6 9 2 0 + 0 2 0 8 7 1 ( 7 8 9 0 8 1 ) + 0 0 1 0 9 8 0 ( 7 8 0 1 7 0 1 ) + 0 0 0 2 0 8 7 1';

export function coconutHandlers(): Pick<Handlers, 'coconut.preview'> {
  return {
    'coconut.preview': ({ curriculum: c, epochs, cot }) => {
      const steps = splitSteps(cot ?? FOUR_BY_FOUR);
      const curriculum = { ...c, cotEpochs: c.cotEpochs ?? c.epochsPerStage, resetOptimizer: true };
      return { steps, stages: previewCurriculum(curriculum, epochs, steps.length) };
    },
  };
}
