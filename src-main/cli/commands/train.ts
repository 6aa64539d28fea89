/**
 * `stepwise train CONFIG.json`: create a run from a run config (of the method
 * its `method` names, or else the one method that recognizes it; see
 * methods/index.ts) and run it here (runs.start), with a live progress line; the run lands in the same
 * store the app reads. Ctrl-C cancels it after the current step, keeping a
 * checkpoint; a second Ctrl-C quits at once. `stepwise train --resume ID`
 * continues a cancelled or interrupted run from its latest checkpoint
 * (runs.resume).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { JsonObject, Run } from '../../contract/entities.ts';
import type { ErrorData } from '../../contract/errors.ts';
import { MAX_JSON_DEPTH, jsonTextDepth, quote } from '../../contract/limits.ts';
import { methodOfConfig } from '../../methods/index.ts';
import type { MethodDefinition } from '../../methods/method.ts';
import { InputFileError, checkInputFolderSync, readInputTextSync } from '../../methods/input-file.ts';
import { openLab } from '../../services/lab.ts';
import type { Lab } from '../../services/lab.ts';
import { resolveDataDir } from '../../services/paths.ts';
import { resolvePaths } from '../../services/training.ts';
import type { RunEnd } from '../../services/training.ts';
import { defineCommand, UsageError } from '../command.ts';
import { runProgress } from '../run-progress.ts';

export const train = defineCommand({
  name: 'train',
  summary:
    'Train: create a run from a run config (JSON naming its "method": icot-si, fine-tune-cot, bitune, lora, coconut; see resources/configs/) and run it here with a progress line; ' +
    'Ctrl-C cancels it keeping a checkpoint, and --resume continues it.',
  args: [
    {
      name: 'CONFIG',
      description: 'The run config (JSON); relative paths in it are relative to its folder',
      optional: true,
    },
  ],
  options: {
    name: { type: 'string', value: 'NAME', description: "The new run's name (default: the config file's name)" },
    resume: { type: 'string', value: 'RUN_ID', description: 'Instead of CONFIG: continue run RUN_ID from its latest checkpoint' },
    model: {
      type: 'string',
      value: 'FOLDER',
      description: "Start from this model folder (a library model, or the model a finished run printed) instead of the config's model",
    },
  },
  async run(values, [file]) {
    if (file !== undefined && values.resume !== undefined) throw new UsageError('give CONFIG or --resume RUN_ID, not both');
    if (file === undefined && values.resume === undefined) throw new UsageError('expected CONFIG (a run config file) or --resume RUN_ID');
    if (values.resume !== undefined && values.name !== undefined) throw new UsageError('--name names a new run; a resumed run keeps its name');
    if (values.resume !== undefined && values.model !== undefined) throw new UsageError('--model starts a new run from a model; a resumed run continues its own');
    const resumeId = values.resume === undefined ? undefined : runId(values.resume);

    let config: JsonObject | undefined;
    let method: MethodDefinition | undefined;
    if (file !== undefined) {
      const read = readConfig(file);
      if (typeof read === 'string') {
        process.stderr.write(`stepwise train: ${read}\n`);
        return 2;
      }
      config = read;
      try {
        method = methodOfConfig(config);
      } catch (error) {
        process.stderr.write(`stepwise train: ${file}: ${(error as Error).message}\n`);
        return 2;
      }
      if (values.model !== undefined) {
        if (!method.capabilities.libraryModel) throw new UsageError(`--model: ${method.title} runs do not start from a model folder`);
        const folder = path.resolve(values.model);
        try {
          checkInputFolderSync(folder, 'model folder');
        } catch (error) {
          if (!(error instanceof InputFileError)) throw error;
          // A missing folder is said below, like one without config.json.
          if (!(error.file === folder && error.problem === 'no such folder')) {
            process.stderr.write(`stepwise train: --model ${values.model}: ${error.message}\n`);
            return 2;
          }
        }
        if (!fs.existsSync(path.join(folder, 'config.json'))) {
          process.stderr.write(`stepwise train: --model ${values.model}: ${folder} is not a model folder (it has no config.json)\n`);
          return 2;
        }
        config = { ...config, model: { kind: 'folder', path: folder } };
      }
    }

    const lab = openLab(resolveDataDir(values['data-dir']));
    try {
      const answer =
        config !== undefined
          ? await lab.dispatch('runs.start', { method: method!.id, name: values.name ?? path.basename(file!).replace(/\.json$/i, ''), config })
          : await lab.dispatch('runs.resume', { id: resumeId });
      if (!answer.ok) {
        process.stderr.write(`stepwise train: ${describeRefusal(answer.error, file ?? `the config of run ${resumeId}`, method?.title)}\n`);
        return answer.error.code === 'invalid_input' || answer.error.code === 'not_found' ? 2 : 1;
      }
      return await follow(lab, answer.result as Run, resumeId !== undefined);
    } finally {
      lab.close();
    }
  },
});

/** Shows the run's progress until its job ends; Ctrl-C cancels it (twice: quits). Answers the exit code. */
async function follow(lab: Lab, run: Run, resumed: boolean): Promise<number> {
  const epochs = (run.config.train as { epochs?: number } | undefined)?.epochs;
  process.stderr.write(
    `${resumed ? 'Resuming' : 'Training'} run ${run.id} "${run.name}" (${String(run.config.recipe ?? run.config.method ?? run.method)}) in ${lab.dataDir}. ` +
      'Ctrl-C cancels it, keeping a checkpoint to resume from.\n',
  );
  const progress = runProgress(run.id, lab.events, { epochs: typeof epochs === 'number' ? epochs : undefined });
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) {
      progress.stop();
      process.stderr.write(`\nQuit without waiting; run ${run.id} resumes from its latest checkpoint with: stepwise train --resume ${run.id}\n`);
      process.exit(130);
    }
    progress.say(`Cancelling run ${run.id} after its current step (Ctrl-C again to quit at once)…`);
    void lab.dispatch('runs.cancel', { id: run.id });
  };
  process.on('SIGINT', onSigint);
  let end: RunEnd;
  try {
    end = await lab.training.whenDone(run.id)!;
  } finally {
    process.off('SIGINT', onSigint);
    progress.stop();
  }
  return report(end, lab.dataDir, (key) => lab.store.metrics.series(run.id, { keys: [key] })[0]?.values.at(-1) ?? undefined);
}

function report({ run, outcome, model }: RunEnd, dataDir: string, last: (key: string) => number | undefined): number {
  const out = process.stdout;
  switch (run.status) {
    case 'completed': {
      out.write(`Run ${run.id} completed at step ${outcome?.step}.\n`);
      if (outcome?.best) out.write(`Best validation accuracy ${pct(outcome.best.accuracy)} at step ${outcome.best.step} (epoch ${outcome.best.epoch + 1}).\n`);
      if (outcome?.test) out.write(`Test accuracy ${pct(outcome.test.accuracy)} (${outcome.test.correct}/${outcome.test.total}), ${outcome.test.examplesPerS.toFixed(1)} examples/s.\n`);
      const [silent, explicit, ratio, wall] = ['speed_b1_examples_per_s', 'speed_b1_explicit_cot_examples_per_s', 'speed_b1_ratio', 'wall_minutes'].map(last);
      if (silent !== undefined && explicit !== undefined && ratio !== undefined) out.write(`At batch size 1: ${silent.toFixed(1)} examples/s with no CoT, ${explicit.toFixed(1)} for the explicit-CoT model (${ratio.toFixed(2)}×).\n`);
      if (wall !== undefined) out.write(`Wall time ${wall.toFixed(1)} minutes.\n`);
      if (model) out.write(`Model ${model.id} "${model.name}": ${path.join(dataDir, model.path)}\n`);
      return 0;
    }
    case 'cancelled':
      out.write(`Run ${run.id} cancelled at step ${outcome?.step}; its checkpoint is kept. Continue with: stepwise train --resume ${run.id}\n`);
      return 130;
    default:
      process.stderr.write(`stepwise train: run ${run.id} failed: ${run.error}\n`);
      return 1;
  }
}

function runId(text: string): number {
  const id = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(id) || id < 1) throw new UsageError(`--resume expects a run id, a positive whole number (got "${text}")`);
  return id;
}

/** The config file as a JSON object with its relative paths made absolute, or what is wrong with it. */
function readConfig(file: string): JsonObject | string {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = readInputTextSync(absolute, 'run config');
  } catch (error) {
    if (!(error instanceof InputFileError)) throw error;
    return error.problem === 'no such file' ? `cannot read the config ${file}: there is no such file` : `the config ${error.message}`;
  }
  if (jsonTextDepth(text) > MAX_JSON_DEPTH) return `${file} nests deeper than ${MAX_JSON_DEPTH} levels of arrays and objects; a run config nests about 4`;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return `${file} is not valid JSON: ${quote((error as Error).message)}`;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return `${file} must hold a JSON object (a run configuration)`;
  return resolvePaths(json as JsonObject, path.dirname(absolute));
}

/** A refused runs.start / runs.resume; a bad config lists every wrong field of the file. */
function describeRefusal(error: ErrorData, configName: string, methodTitle?: string): string {
  const fields = (error.issues ?? []).filter((i) => i.path[0] === 'config');
  const title = methodTitle ?? /config is not a valid (.+?) run configuration/.exec(error.message)?.[1];
  if (error.code === 'invalid_input' && fields.length > 0 && title) {
    return `${configName} is not a valid ${title} run configuration:\n${fields.map((i) => `  ${i.message.replace(/^config\./, '')}`).join('\n')}`;
  }
  return error.message;
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}
