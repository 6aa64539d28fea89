/**
 * curriculum.preview: the ICoT-SI schedule for the Curriculum editor,
 * computed by the trainer's own curriculum code, so what the editor plots is
 * what a run with those settings will do.
 */
import { StepwiseError } from '../contract/errors.ts';
import type { Handlers } from '../contract/dispatcher.ts';
import { batchesPerRemovedToken, removalCurve, removalOffsetDistribution } from '../methods/icot/curriculum.ts';
import { curriculumOf } from '../methods/icot/recipe.ts';

/** Batches simulated at most (one cheap step each; 808,000 examples at batch 32 for 200 epochs is 5M). */
const MAX_BATCHES = 20_000_000;

export function curriculumHandlers(): Pick<Handlers, 'curriculum.preview'> {
  return {
    'curriculum.preview': ({ curriculum: c, trainExamples, batchSize, epochs, cotLength }) => {
      const perEpoch = Math.floor(trainExamples / batchSize);
      if (perEpoch === 0) {
        const message = `${trainExamples} training examples make no full batch of ${batchSize}: lower the batch size`;
        throw new StepwiseError('invalid_input', `curriculum.preview: ${message}`, [{ path: ['batchSize'], message }]);
      }
      const totalBatches = perEpoch * epochs;
      if (totalBatches > MAX_BATCHES) {
        const message = `${totalBatches} batches (${epochs} epochs of ${perEpoch}) are more than the preview simulates (${MAX_BATCHES}): fewer epochs`;
        throw new StepwiseError('invalid_input', `curriculum.preview: ${message}`, [{ path: ['epochs'], message }]);
      }
      // A preview has no validation to hold or advance on: it shows the fixed schedule.
      const config = curriculumOf({ ...c, holdBelow: 0, advanceAbove: 0 });
      const per = batchesPerRemovedToken(config, perEpoch);
      return {
        batchesPerEpoch: perEpoch,
        batchesPerRemovedToken: Number.isFinite(per) ? per : null,
        totalBatches,
        curve: removalCurve(config, perEpoch, epochs, cotLength),
        offsets: Array.from(removalOffsetDistribution(config.smoothingLambda)),
      };
    },
  };
}
