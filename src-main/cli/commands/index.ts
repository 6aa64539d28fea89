/** Every `stepwise` command, in the order `stepwise --help` lists them. */
import type { AnyCommand } from '../command.ts';
import { dataImport, dataMult } from './data.ts';
import { evalCommand } from './eval.ts';
import { exportJobCommand } from './export-job.ts';
import { ftcotGenerate, ftcotResults, ftcotTask } from './ftcot.ts';
import { importJobCommand } from './import-job.ts';
import { info } from './info.ts';
import { probe } from './probe.ts';
import { results } from './results.ts';
import { serve } from './serve.ts';
import { train } from './train.ts';

export const COMMANDS: AnyCommand[] = [serve, info, dataMult, dataImport, train, evalCommand, results, probe, ftcotTask, ftcotGenerate, ftcotResults, exportJobCommand, importJobCommand];
