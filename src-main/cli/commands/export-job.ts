/**
 * `stepwise export-job --run ID --out DIR`: a run as a self-contained job folder that trains with
 * plain PyTorch on a cluster (`torchrun … train.py job.json`), and that `stepwise import-job`
 * reads back (docs/JOB-FORMAT.md).
 */
import path from 'node:path';
import { StepwiseError } from '../../contract/errors.ts';
import { exportJob } from '../../services/job-export.ts';
import { openLab } from '../../services/lab.ts';
import { resolveDataDir } from '../../services/paths.ts';
import { defineCommand, UsageError } from '../command.ts';

export const exportJobCommand = defineCommand({
  name: 'export-job',
  summary:
    "Export a run as a job folder for a cluster: its config, data and starting model, a PyTorch train.py that trains it as Stepwise does (torchrun, DDP), and launch files for one machine, several, Slurm and SkyPilot.",
  options: {
    run: { type: 'string', value: 'ID', description: 'The run to export: ICoT-SI (explicit CoT, No CoT or stepwise internalization), a Fine-tune-CoT student, or LoRA' },
    out: { type: 'string', value: 'DIR', description: 'The job folder to write (new or empty)' },
    bf16: { type: 'boolean', description: 'Have train.py train under bf16 autocast on CUDA (default: float32, as Stepwise trains)' },
  },
  async run(values) {
    if (values.run === undefined) throw new UsageError('--run ID is required: the run to export');
    if (!/^\d+$/.test(values.run) || Number(values.run) < 1) throw new UsageError(`--run expects a run id, a whole number from 1 (got "${values.run}")`);
    if (!values.out) throw new UsageError('--out DIR is required: the job folder to write');
    const lab = openLab(resolveDataDir(values['data-dir']));
    try {
      process.stdout.write(`Exporting run ${values.run}: reading and tokenizing its data, writing its model…\n`);
      const report = exportJob(lab, { runId: Number(values.run), out: values.out, bf16: values.bf16 });
      const rel = path.relative(process.cwd(), report.dir) || '.';
      process.stdout.write(
        `Exported run ${values.run} (${report.method}, ${report.steps} steps) to ${report.dir}: ${report.files.length} files\n` +
          `Train it:  cd ${rel} && torchrun --nproc_per_node=N train.py job.json   (README.md there: several nodes, Slurm, SkyPilot)\n` +
          `Then:      stepwise import-job ${rel}\n`,
      );
      return 0;
    } catch (error) {
      if (error instanceof StepwiseError && error.code === 'not_found') throw new UsageError(error.message);
      throw error;
    } finally {
      lab.close();
    }
  },
});
