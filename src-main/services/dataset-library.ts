/**
 * Datasets in the library: files of ICoT examples copied into the data folder
 * (`datasets/<id>/<split>.txt` in the paper's line format, or
 * `<split>.jsonl`), one row each in the datasets table.
 *
 * Import and generation stage their files in a hidden folder under
 * `datasets/`, validate every line of the staged copy, and only then insert
 * the row and move the folder to `datasets/<id>` in one transaction: a bad
 * line, a full disk or a crash leaves neither a row nor a file behind.
 *
 * The content hash is that of the folder's `sha256sum` listing, i.e.
 * `cd datasets/<id> && sha256sum * | sha256sum` reproduces it.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Dataset, DatasetExample, DatasetSplit, Page } from '../contract/entities.ts';
import { StepwiseError } from '../contract/errors.ts';
import { DataFormatError, detectFormat, firstNonBlankLine, forEachExample, forEachExampleAsync, formatLine } from '../methods/shared/examples.ts';
import type { ExampleFormat, CotExample } from '../methods/shared/examples.ts';
import { MULT_SPLITS, multOptionsProblem, parseMultInput, readMultPairsAsync, writeMultFiles } from '../methods/icot/mult.ts';
import type { MultCounts } from '../methods/icot/mult.ts';
import { InputFileError, checkInputFile, copyInputFile } from '../methods/input-file.ts';
import type { LabContext } from './lab.ts';
import { insideDataDir } from './paths.ts';

/** Examples shown in a dataset's preview. */
export const PREVIEW_SIZE = 5;

const EXTENSION: Record<ExampleFormat, string> = { lines: 'txt', jsonl: 'jsonl' };

export interface ImportRequest {
  /** Absolute path of the file to import. */
  path: string;
  name: string;
  split: DatasetSplit;
  /** Detected from the file when left out. */
  format?: ExampleFormat;
  /** Add the split to this dataset rather than make a new one. */
  datasetId?: number;
}

export interface GenerateMultRequest {
  digitsA: number;
  digitsB: number;
  counts: MultCounts;
  seed: number;
  /** Files whose pairs the generated splits must not contain (e.g. the paper's test set). */
  excludePaths?: string[];
  name: string;
}

/** What the lines of a file looked like while it was validated. */
interface Survey {
  count: number;
  preview: string[];
  allMult: boolean;
  allEquations: boolean;
}

const EQUATIONS = /^(<<[^<>]*>>\s*)*$/;

async function survey(file: string, format: ExampleFormat, shownAs: string): Promise<Survey> {
  const s: Survey = { count: 0, preview: [], allMult: true, allEquations: true };
  try {
    await forEachExampleAsync(file, format, (ex: CotExample) => {
      s.count++;
      if (s.preview.length < PREVIEW_SIZE) s.preview.push(formatLine(ex));
      if (s.allMult && !parseMultInput(ex.input)) s.allMult = false;
      if (s.allEquations && !EQUATIONS.test(ex.cot)) s.allEquations = false;
    });
  } catch (error) {
    // The staged copy was read; the user knows the file by the path they gave.
    if (error instanceof DataFormatError) throw invalidPath(`${shownAs}:${error.line}: ${error.expected}`);
    throw error;
  }
  if (s.count === 0) throw invalidPath(`${shownAs}: expected at least one example, found none`);
  return s;
}

function invalidPath(message: string, field: string = 'path'): StepwiseError {
  return new StepwiseError('invalid_input', message, [{ path: [field], message }]);
}

/** sha256 of the folder's `sha256sum` listing (files in byte order of their names). */
export function folderHash(folder: string): string {
  return listingHash(fs.readdirSync(folder).map((name) => ({ name, sha256: createHash('sha256').update(fs.readFileSync(path.join(folder, name))).digest('hex') })));
}

/** sha256 of a `sha256sum` listing of these files (sorted by name, as folderHash sorts them). */
function listingHash(files: { name: string; sha256: string }[]): string {
  const listing = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((f) => `${f.sha256}  ${f.name}\n`).join('');
  return createHash('sha256').update(listing).digest('hex');
}

export function stagingFolder(dataDir: string): { absolute: string; relative: string } {
  const relative = path.join('datasets', `.staging-${process.pid}-${randomBytes(6).toString('hex')}`);
  const absolute = insideDataDir(dataDir, relative);
  fs.mkdirSync(absolute, { recursive: true });
  return { absolute, relative };
}

/** A dataset's name is its own: one already taken (any case) is refused, naming the dataset that has it. */
export function refuseTakenName(ctx: Pick<LabContext, 'store'>, name: string, except?: number): void {
  const taken = ctx.store.datasets.byName(name.trim());
  if (taken && taken.id !== except) {
    const message = `there is already a dataset named “${taken.name}” (dataset ${taken.id}); choose another name, or rename or delete that one`;
    throw new StepwiseError('invalid_input', message, [{ path: ['name'], message }]);
  }
}

/** Inserts the row and moves the staged folder to `datasets/<id>`, all or nothing. */
export function commit(ctx: LabContext, staged: { absolute: string; relative: string }, row: Omit<Dataset, 'id' | 'createdAt' | 'path'>): Dataset {
  let moved: string | null = null;
  try {
    return ctx.store.transaction(() => {
      refuseTakenName(ctx, row.name); // again here: another call may have taken it while this one wrote its files
      const added = ctx.store.datasets.add({ ...row, path: staged.relative });
      const relative = path.join('datasets', String(added.id));
      const target = insideDataDir(ctx.dataDir, relative);
      // No row owns this id's folder (the id is new): a leftover of an earlier crash, safe to replace.
      fs.rmSync(target, { recursive: true, force: true });
      fs.renameSync(staged.absolute, target);
      moved = target;
      ctx.store.datasets.setPath(added.id, relative);
      return { ...added, path: relative };
    });
  } catch (error) {
    if (moved) fs.rmSync(moved, { recursive: true, force: true });
    throw error;
  }
}

/** Copies a file of examples into the library as one split of a new dataset (the copy is read off the event loop). */
export async function importDataset(ctx: LabContext, req: ImportRequest): Promise<Dataset> {
  if (req.datasetId !== undefined) return importSplit(ctx, req, req.datasetId);
  refuseTakenName(ctx, req.name);
  try {
    checkInputFile(req.path, 'file of examples'); // a FIFO, a device, a folder or an oversized file: refused before anything is made
  } catch (error) {
    if (error instanceof InputFileError) throw invalidPath(error.message);
    throw error;
  }
  const staged = stagingFolder(ctx.dataDir);
  try {
    const copy = path.join(staged.absolute, 'import');
    let copied: { bytes: number; sha256: string };
    try {
      copied = await copyInputFile(req.path, 'file of examples', copy);
    } catch (error) {
      if (error instanceof InputFileError) throw invalidPath(error.message);
      throw error; // e.g. the data folder's disk is full: not the caller's input
    }
    const format = req.format ?? detectFormat(req.path, firstNonBlankLine(copy)); // by the original's extension, else the first line
    // Validate the copy, not the original: what is stored is exactly what was checked.
    const s = await survey(copy, format, req.path);
    const name = `${req.split}.${EXTENSION[format]}`;
    fs.renameSync(copy, path.join(staged.absolute, name));
    const kind = s.allMult ? 'multiplication' : format === 'lines' && s.allEquations ? 'gsm8k-aug' : format === 'jsonl' ? 'jsonl' : 'icot-lines';
    return commit(ctx, staged, {
      name: req.name,
      kind,
      // The copy's hash, taken as it was written (hashing it again would read it all in one go).
      contentHash: listingHash([{ name, sha256: copied.sha256 }]),
      splitCounts: { [req.split]: s.count },
      preview: s.preview,
    });
  } finally {
    fs.rmSync(staged.absolute, { recursive: true, force: true });
  }
}

/** The formats of a dataset's files, by its kind; null for kinds whose folders are not made by importing lines or JSONL. */
function kindFormat(kind: string): ExampleFormat | null {
  return kind === 'jsonl' ? 'jsonl' : kind === 'multiplication' || kind === 'gsm8k-aug' || kind === 'icot-lines' ? 'lines' : null;
}

/**
 * Copies a file of examples into an existing dataset as a split it lacks (e.g. the valid split an
 * ICoT run needs beside an imported train split), checked as a new dataset's file is.
 */
async function importSplit(ctx: LabContext, req: ImportRequest, datasetId: number): Promise<Dataset> {
  const dataset = ctx.store.datasets.get(datasetId);
  if (!dataset) throw new StepwiseError('not_found', `No dataset with id ${datasetId}`);
  const format = kindFormat(dataset.kind);
  if (!format) throw invalidPath(`${dataset.name} is a ${dataset.kind} dataset; splits are added only to imported or generated line and JSONL datasets`, 'datasetId');
  if (dataset.splitCounts[req.split]! > 0) throw invalidPath(`${dataset.name} already has a ${req.split} split (${dataset.splitCounts[req.split]} examples)`, 'split');
  try {
    checkInputFile(req.path, 'file of examples');
  } catch (error) {
    if (error instanceof InputFileError) throw invalidPath(error.message);
    throw error;
  }
  const folder = insideDataDir(ctx.dataDir, dataset.path);
  const staged = stagingFolder(ctx.dataDir);
  try {
    const copy = path.join(staged.absolute, 'import');
    try {
      await copyInputFile(req.path, 'file of examples', copy);
    } catch (error) {
      if (error instanceof InputFileError) throw invalidPath(error.message);
      throw error;
    }
    const found = req.format ?? detectFormat(req.path, firstNonBlankLine(copy));
    if (found !== format) throw invalidPath(`${req.path} is ${found === 'jsonl' ? 'JSONL' : 'lines'}, but ${dataset.name}'s splits are ${format === 'jsonl' ? 'JSONL' : 'lines'}`, 'format');
    const s = await survey(copy, format, req.path);
    const target = path.join(folder, `${req.split}.${EXTENSION[format]}`);
    fs.renameSync(copy, target);
    try {
      const splitCounts = { ...dataset.splitCounts, [req.split]: s.count };
      ctx.store.datasets.setSplits(dataset.id, splitCounts, folderHash(folder));
    } catch (error) {
      fs.rmSync(target, { force: true });
      throw error;
    }
    return ctx.store.datasets.get(dataset.id)!;
  } finally {
    fs.rmSync(staged.absolute, { recursive: true, force: true });
  }
}

/** Generates multiplication splits in the paper's format into a new dataset. */
export async function generateMultDataset(ctx: LabContext, req: GenerateMultRequest, onProgress?: (done: number, total: number) => void): Promise<Dataset> {
  refuseTakenName(ctx, req.name);
  let exclude: Set<string> | undefined;
  if (req.excludePaths?.length) {
    // Each file is checked before it is opened (a FIFO or device is refused) and read off the event loop.
    try {
      exclude = await readMultPairsAsync(req.excludePaths);
    } catch (error) {
      throw invalidPath((error as Error).message, 'excludePaths');
    }
  }
  const opts = { digitsA: req.digitsA, digitsB: req.digitsB, counts: req.counts, seed: req.seed, exclude };
  const problem = multOptionsProblem(opts);
  if (problem) throw invalidPath(problem, 'counts');

  const staged = stagingFolder(ctx.dataDir);
  try {
    const files = Object.fromEntries(MULT_SPLITS.filter((s) => req.counts[s] > 0).map((s) => [s, path.join(staged.absolute, `${s}.txt`)]));
    await writeMultFiles(opts, files, onProgress);
    const first = MULT_SPLITS.find((s) => req.counts[s] > 0)!;
    const preview: string[] = [];
    forEachExample(files[first], 'lines', (ex) => {
      preview.push(formatLine(ex));
      return preview.length < PREVIEW_SIZE;
    });
    return commit(ctx, staged, {
      name: req.name,
      kind: 'multiplication',
      contentHash: folderHash(staged.absolute),
      splitCounts: Object.fromEntries(MULT_SPLITS.filter((s) => req.counts[s] > 0).map((s) => [s, req.counts[s]])),
      preview,
    });
  } finally {
    fs.rmSync(staged.absolute, { recursive: true, force: true });
  }
}

/** The file holding one split of a dataset, and its format; throws not_found if the dataset has no such split. */
export function datasetSplitFile(dataDir: string, dataset: Dataset, split: string): { file: string; format: ExampleFormat } {
  if (!Object.hasOwn(dataset.splitCounts, split)) {
    throw new StepwiseError('not_found', `dataset ${dataset.id} has no ${split} split (it has ${Object.keys(dataset.splitCounts).join(', ')})`);
  }
  const folder = insideDataDir(dataDir, dataset.path);
  for (const format of ['lines', 'jsonl'] as const) {
    const file = path.join(folder, `${split}.${EXTENSION[format]}`);
    if (fs.existsSync(file)) return { file, format };
  }
  throw new StepwiseError('not_found', `dataset ${dataset.id}'s ${split} split is missing from ${folder}; import it again`);
}

/** Every example of one split (for training and evaluation). */
export function loadDatasetSplit(dataDir: string, dataset: Dataset, split: string): CotExample[] {
  const { file, format } = datasetSplitFile(dataDir, dataset, split);
  const examples: CotExample[] = [];
  forEachExample(file, format, (ex) => {
    examples.push(ex);
  });
  return examples;
}

/** A page of one split's examples, in file order. */
export function datasetExamples(dataDir: string, dataset: Dataset, split: string, offset: number, limit: number): Page<DatasetExample> {
  const { file, format } = datasetSplitFile(dataDir, dataset, split);
  const items: DatasetExample[] = [];
  let index = 0;
  if (offset < dataset.splitCounts[split]) {
    forEachExample(file, format, (ex) => {
      if (index++ >= offset) items.push(ex);
      return items.length < limit;
    });
  }
  return { items, total: dataset.splitCounts[split] };
}
