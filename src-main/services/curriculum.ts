/**
 * curriculum.preview: the ICoT-SI schedule for the Curriculum editor,
 * computed by the trainer's own curriculum code, so what the editor plots is
 * what a run with those settings will do.
 */
import { StepwiseError } from '../contract/errors.ts';
import type { Handlers } from '../contract/dispatcher.ts';
import type { ValidationSpans } from '../contract/areas/library.ts';
import { batchesPerRemovedToken, holdSpans, removalCurve, removalOffsetDistribution, type CurriculumConfig } from '../methods/icot/curriculum.ts';
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
      // A preview has no validation to hold or advance on: it plots the fixed schedule, and marks
      // where a run's validation would decide it.
      const asked = curriculumOf({ ...c, holdBelow: c.holdBelow ?? 0, advanceAbove: c.advanceAbove ?? 0 });
      const config = { ...asked, holdBelow: 0, advanceAbove: 0 };
      const per = batchesPerRemovedToken(config, perEpoch);
      return {
        batchesPerEpoch: perEpoch,
        batchesPerRemovedToken: Number.isFinite(per) ? per : null,
        totalBatches,
        curve: removalCurve(config, perEpoch, epochs, cotLength),
        offsets: Array.from(removalOffsetDistribution(config.smoothingLambda)),
        validation: validationSpans(asked, perEpoch, epochs, cotLength),
      };
    },
  };
}

/** Where validation decides the schedule, and the sentence that says so. */
function validationSpans(cfg: CurriculumConfig, perEpoch: number, epochs: number, cotLength: number): ValidationSpans {
  const spans = holdSpans(cfg, perEpoch, epochs, cotLength);
  const advanceAbove = cfg.advanceAbove > 0 ? cfg.advanceAbove : null;
  const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;
  const at = (batch: number) => `epoch ${(batch / perEpoch).toFixed(1)}`;
  const parts: string[] = [];
  for (const s of spans) parts.push(`from ${at(s.fromBatch)} (${s.fromRemoved} removed) to ${at(s.toBatch)} the removal waits while validation is below ${pct(s.holdBelow)}`);
  if (advanceAbove !== null) parts.push(`after an epoch at ${pct(advanceAbove)} or more the next token goes at once`);
  const note = parts.length ? `Validation decides the schedule where marked: ${parts.join('; ')}. The curve is the schedule when validation changes nothing: a run's removal can lag it where a hold bites, and run ahead of it after an advance.` : '';
  return { decides: parts.length > 0, spans, advanceAbove, note };
}
