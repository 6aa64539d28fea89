/**
 * `stepwise import-job DIR`: a cluster job folder (docs/JOB-FORMAT.md), finished or not, into the lab
 * as a run beside the run it was exported from (jobs.import). Copying its checkpoints shows a bar;
 * Ctrl-C stops it and imports nothing.
 */
import path from 'node:path';
import { StepwiseError } from '../../contract/errors.ts';
import { describeHardware, importJob, wallTime } from '../../services/job-import.ts';
import { openLab } from '../../services/lab.ts';
import { resolveDataDir } from '../../services/paths.ts';
import { defineCommand } from '../command.ts';
import { progressBar } from '../progress.ts';

export const importJobCommand = defineCommand({
  name: 'import-job',
  summary:
    'Import a cluster job folder (the one `stepwise export-job` wrote, after train.py ran it) as a run beside the run it was exported from: ' +
    'metrics, predictions, checkpoints and the best model, with the machine, GPUs and wall time. A half-finished job imports what it has.',
  args: [{ name: 'DIR', description: 'The job folder (job.json and the out/ folder the job wrote)' }],
  options: {
    update: {
      type: 'boolean',
      description: 'The job was imported before and has progressed since: bring the run it became up to date (without this, a second import is refused)',
    },
    name: { type: 'string', value: 'NAME', description: 'Name the new run (default: the parent run\'s name, "(cluster job)" added)' },
    json: { type: 'boolean', description: 'Print what was imported as JSON (the jobs.import procedure\'s output)' },
  },
  async run(values, [dir]) {
    const lab = openLab(resolveDataDir(values['data-dir']));
    const abort = new AbortController();
    const onSigint = () => abort.abort();
    process.on('SIGINT', onSigint);
    const bar = progressBar('Copying the job\'s files');
    try {
      const done = await importJob(lab, path.resolve(dir), {
        update: values.update,
        name: values.name,
        signal: abort.signal,
        onProgress: (n, total) => bar.update(n, total),
      });
      bar.finish();
      if (values.json) {
        process.stdout.write(`${JSON.stringify(done, null, 2)}\n`);
        return 0;
      }
      const { run, model } = done;
      const origin = run.origin!;
      const out = process.stdout;
      out.write(`${done.updated ? 'Updated' : 'Imported'} run ${run.id} "${run.name}" (${run.status}) from the job of run ${origin.parent.runId} "${origin.parent.name}"${run.parentRunId === null ? ' (not in this lab)' : ''}.\n`);
      out.write(`Trained on ${origin.machine}, ${describeHardware(origin)}: step ${origin.step}${origin.epoch !== null ? `, epoch ${origin.epoch}` : ''}, wall time ${wallTime(origin.wallSeconds)} (job ${origin.status}).\n`);
      out.write(`${count(done.metricRecords, 'metric record')}, ${count(done.evaluations, 'evaluation')}, ${count(done.checkpoints, 'checkpoint')}; ${model ? `best model: model ${model.id} "${model.name}"` : 'no best model yet'}.\n`);
      for (const warning of done.warnings) out.write(`Left out: ${warning}\n`);
      return 0;
    } catch (error) {
      bar.finish();
      if (error instanceof StepwiseError) throw new Error(error.message.replace(/^jobs\.import: /, ''));
      throw error;
    } finally {
      process.off('SIGINT', onSigint);
      lab.close();
    }
  },
});

const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
