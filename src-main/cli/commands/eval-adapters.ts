/**
 * `stepwise eval` on Bitune / LoRA adapters (`--run ID` of such a run, or
 * `--adapters DIR` with an optional `--model BASE`): instruction, GSM8K-style
 * or multiple-choice files (services/adapters-eval.ts); the results are
 * stored under the run, where `stepwise results` and the Bitune page show them.
 */
import { StepwiseError } from '../../contract/errors.ts';
import { evaluateAdapters, type AdapterEvalRequest } from '../../services/adapters-eval.ts';
import type { Lab } from '../../services/lab.ts';
import { UsageError } from '../command.ts';
import { progressBar } from '../progress.ts';

export interface AdapterEvalFlags {
  run?: number;
  checkpoint?: number | 'best' | 'latest';
  adapters?: string;
  model?: string;
  data: string;
  limit?: number;
  batchSize?: number;
  maxNewTokens?: number;
}

export async function evalAdapters(lab: Lab, flags: AdapterEvalFlags): Promise<number> {
  if (flags.checkpoint === 'best') throw new UsageError('Bitune and LoRA runs keep no best model: pass --checkpoint STEP or latest, or leave it out for the final adapters');
  if (flags.adapters !== undefined && flags.run !== undefined) throw new UsageError('give either --run ID or --adapters DIR');
  if (flags.adapters !== undefined && flags.checkpoint !== undefined) throw new UsageError('--checkpoint goes with --run');
  const source: AdapterEvalRequest['source'] = flags.run !== undefined ? { runId: flags.run, checkpoint: flags.checkpoint } : { adapters: flags.adapters!, base: flags.model };
  const bar = progressBar('evaluating');
  try {
    const r = await evaluateAdapters(lab, { source, dataFile: flags.data, limit: flags.limit, batchSize: flags.batchSize ?? 16, maxNewTokens: flags.maxNewTokens, onProgress: (done, total) => bar.update(done, total) });
    bar.finish();
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
    const lines = [`Evaluated ${r.model} on ${flags.data}`];
    if (r.kind === 'answers') lines.push(`accuracy  ${pct(r.accuracy)} (${r.correct}/${r.total})`);
    else lines.push(`acc       ${pct(r.accuracy)} (${r.correct}/${r.total})`, `acc_norm  ${pct(r.accNorm!)}`);
    lines.push(`speed     ${r.examplesPerS.toFixed(1)} ${r.kind === 'answers' ? 'examples' : 'questions'}/s`);
    lines.push(
      r.stored
        ? `stored    ${r.stored.keys.join(', ')} under run ${r.stored.runId} at step ${r.stored.step}${r.stored.split ? `, predictions as split "${r.stored.split}"` : ''}`
        : 'stored    nothing: the adapters belong to no run',
    );
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } catch (error) {
    bar.finish();
    if (error instanceof StepwiseError && (error.code === 'not_found' || error.code === 'invalid_input')) throw new UsageError(error.message);
    throw error;
  }
}
