/**
 * `stepwise eval --run ID | --model DIR --data FILE`: the paper's evaluation
 * (greedy decoding, exact match after ####, examples/s) of a run's best model
 * or checkpoint, or of a model folder (GPT-2 or Llama family); a Fine-tune-CoT
 * student is scored in its own format. Predictions are stored under the run.
 */
import { StepwiseError } from '../../contract/errors.ts';
import { ADAPTER_METHODS } from '../../services/adapters.ts';
import { evaluateFile } from '../../services/evaluation.ts';
import type { EvalRequest } from '../../services/evaluation.ts';
import { openLab } from '../../services/lab.ts';
import { resolveDataDir } from '../../services/paths.ts';
import { defineCommand, UsageError } from '../command.ts';
import { progressBar } from '../progress.ts';
import { evalAdapters, type AdapterEvalFlags } from './eval-adapters.ts';

export const evalCommand = defineCommand({
  name: 'eval',
  summary:
    "Evaluate a run's best model or a checkpoint (--run), or a model folder of the GPT-2 or Llama family (--model), on a file of examples: accuracy and examples/s as the paper measures them; predictions are stored under the run.",
  options: {
    run: { type: 'string', value: 'ID', description: 'The run whose model to evaluate' },
    checkpoint: {
      type: 'string',
      value: 'STEP',
      description: "With --run: a checkpoint's step, latest, or best (default: best when the run has one, else latest)",
    },
    model: { type: 'string', value: 'DIR', description: 'Instead of --run: a Hugging Face model folder, GPT-2 or Llama family (e.g. a run\'s runs/<id>/best); with --adapters: their base model' },
    adapters: { type: 'string', value: 'DIR', description: "Bitune / LoRA adapters: a run's runs/<id>/adapters folder or a PEFT adapter folder (instruction, GSM8K-style or multiple-choice --data)" },
    data: { type: 'string', value: 'FILE', description: "Examples in the paper's format (input||cot #### answer) or JSONL" },
    limit: { type: 'string', value: 'N', description: 'Only the first N examples' },
    'batch-size': { type: 'string', value: 'N', description: "Examples decoded together (default 1, the paper's speed protocol)" },
    'max-new-tokens': { type: 'string', value: 'N', description: "Decoding budget (default: the run's, else what the longest example needs)" },
    split: { type: 'string', value: 'NAME', description: 'Store the predictions under this split (default: eval:<file name>)' },
  },
  async run(values) {
    if (values.adapters === undefined && (values.run === undefined) === (values.model === undefined)) throw new UsageError('give either --run ID or --model DIR');
    if (values.checkpoint !== undefined && values.run === undefined) throw new UsageError('--checkpoint goes with --run');
    if (!values.data) throw new UsageError('--data FILE is required: the examples to evaluate on');
    const adapterFlags = (): AdapterEvalFlags => ({
      run: values.run === undefined ? undefined : whole('--run', values.run, 1), checkpoint: checkpointOf(values.checkpoint), adapters: values.adapters, model: values.model, data: values.data!,
      limit: values.limit === undefined ? undefined : whole('--limit', values.limit, 1),
      batchSize: values['batch-size'] === undefined ? undefined : whole('--batch-size', values['batch-size'], 1, 1024),
      maxNewTokens: values['max-new-tokens'] === undefined ? undefined : whole('--max-new-tokens', values['max-new-tokens'], 1, 8192),
    });
    if (values.adapters !== undefined) {
      const lab = openLab(resolveDataDir(values['data-dir']));
      try {
        return await evalAdapters(lab, adapterFlags());
      } finally {
        lab.close();
      }
    }
    const model: EvalRequest['model'] =
      values.run !== undefined
        ? { runId: whole('--run', values.run, 1), checkpoint: checkpointOf(values.checkpoint) }
        : { dir: values.model! };
    const request: EvalRequest = {
      model,
      dataFile: values.data,
      limit: values.limit === undefined ? undefined : whole('--limit', values.limit, 1),
      batchSize: values['batch-size'] === undefined ? 1 : whole('--batch-size', values['batch-size'], 1, 1024),
      maxNewTokens: values['max-new-tokens'] === undefined ? undefined : whole('--max-new-tokens', values['max-new-tokens'], 1, 8192),
      split: values.split,
    };

    const lab = openLab(resolveDataDir(values['data-dir']));
    if ('runId' in model && ADAPTER_METHODS.includes(lab.store.runs.get(model.runId)?.method ?? '')) {
      try {
        return await evalAdapters(lab, adapterFlags());
      } finally {
        lab.close();
      }
    }
    const bar = progressBar('evaluating');
    try {
      const report = await evaluateFile(lab, { ...request, onProgress: (done, total) => bar.update(done, total) });
      bar.finish();
      const paper = report.batchSize === 1 ? " (the paper's speed protocol)" : '';
      process.stdout.write(
        `Evaluated ${report.model} on ${request.dataFile}\n` +
          `accuracy  ${(100 * report.accuracy).toFixed(1)}% (${report.correct}/${report.total})\n` +
          `speed     ${report.examplesPerS.toFixed(1)} examples/s at batch size ${report.batchSize}${paper}\n` +
          `CoT       ${report.meanCotTokens.toFixed(1)} tokens generated before the answer, on average\n` +
          (report.stored
            ? `stored    predictions under run ${report.stored.runId}, split "${report.stored.split}", step ${report.stored.step}\n`
            : 'stored    nothing: the folder belongs to no run\n'),
      );
      return 0;
    } catch (error) {
      bar.finish();
      if (error instanceof StepwiseError && error.code === 'not_found') throw new UsageError(error.message);
      throw error;
    } finally {
      lab.close();
    }
  },
});

function checkpointOf(text: string | undefined): number | 'best' | 'latest' | undefined {
  if (text === undefined || text === 'best' || text === 'latest') return text;
  return whole('--checkpoint', text, 0, Number.MAX_SAFE_INTEGER, 'a step, latest or best');
}

function whole(flag: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER, what = `a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}`): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new UsageError(`${flag} expects ${what} (got "${text}")`);
  return n;
}
