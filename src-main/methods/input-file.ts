/**
 * Files and folders a person names (an import, an exclusion list, a probe's
 * data, a run config, a model folder): opened only when they are what is
 * expected, a regular file (or a folder of them) no larger than its kind
 * allows, and read as UTF-8 text that is valid line by line.
 *
 * A FIFO, a device such as /dev/zero, a folder where a file is expected, a
 * symlink loop or a file over the limit is refused by its stat, before any
 * read, with an error naming the file, what it is and what was expected. The
 * file is then opened with O_NONBLOCK and checked again on the open handle,
 * so a path swapped for a FIFO in between still cannot block. The async
 * readers read in chunks off the event loop, for the local server; the sync
 * ones are for the CLI and the worker, where nothing else waits.
 */
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const MiB = 1 << 20;
const GiB = 1 << 30;

/** The most bytes each kind of input may have; an error names the file and its size when one has more. */
export const INPUT_LIMITS = {
  /** datasets.import, a run's train/valid/test files, excludePaths: the paper's 9×9 splits are a few hundred MB. */
  'file of examples': 2 * GiB,
  /** finetune.importTask reads the whole file as one string. */
  'task file': 256 * MiB,
  /** probes: at most 100 000 examples are used. */
  'probe data file': 256 * MiB,
  /** Evaluation and instruction files of Bitune/LoRA runs (stepwise eval, eval.choices). */
  'evaluation file': 512 * MiB,
  /** `stepwise train CONFIG`. */
  'run config': 4 * MiB,
  /** A model folder's config.json, tokenizer and other small JSON files. */
  'model metadata file': 64 * MiB,
  /** Every file under a model folder together (models.import, probes' source.dir, --model). */
  'model folder': 64 * GiB,
} as const;
export type InputKind = keyof typeof INPUT_LIMITS;

/** A named file or folder that cannot be used; the message starts with the path. */
export class InputFileError extends Error {
  readonly file: string;
  /** The 1-based line, when a line is at fault. */
  readonly line: number | null;
  /** What is wrong, without the location. */
  readonly problem: string;
  constructor(file: string, problem: string, line: number | null = null) {
    super(`${file}${line === null ? '' : `:${line}`}: ${problem}`);
    this.name = 'InputFileError';
    this.file = file;
    this.line = line;
    this.problem = problem;
  }
}

/** "2 GiB", "1.5 GiB", "312 KiB", "17 bytes". */
export function sizeText(bytes: number): string {
  for (const [unit, size] of [['GiB', GiB], ['MiB', MiB], ['KiB', 1024]] as const) {
    if (bytes >= size) return `${Number((bytes / size).toFixed(1))} ${unit}`;
  }
  return `${bytes} bytes`;
}

function whatItIs(stat: fs.Stats): string {
  if (stat.isDirectory()) return 'a folder';
  if (stat.isFIFO()) return 'a named pipe (FIFO)';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Why a stat is not an acceptable `kind` (a regular file within its limit), or null. */
function fileProblem(stat: fs.Stats, kind: InputKind): string | null {
  if (!stat.isFile()) return `is ${whatItIs(stat)}, expected ${article(kind)} ${kind}`;
  const limit = INPUT_LIMITS[kind];
  if (stat.size > limit) return `is ${sizeText(stat.size)} (${stat.size} bytes), more than the ${sizeText(limit)} ${article(kind)} ${kind} may have`;
  return null;
}

const article = (kind: string) => (/^[aeiou]/.test(kind) ? 'an' : 'a');

/** An error from stat/open as what a person can act on. */
function openError(file: string, kind: InputKind, error: unknown): InputFileError {
  const { code, message } = error as NodeJS.ErrnoException;
  switch (code) {
    case 'ENOENT':
      return new InputFileError(file, `no such ${kind.endsWith('folder') ? 'folder' : 'file'}`);
    case 'ELOOP':
      return new InputFileError(file, 'is a loop of symbolic links; expected a link to a real file');
    case 'ENOTDIR':
      return new InputFileError(file, 'a part of this path is a file, not a folder');
    case 'EACCES':
    case 'EPERM':
      return new InputFileError(file, 'cannot be read (permission denied)');
    case 'ENAMETOOLONG':
      return new InputFileError(file, 'the path is too long');
    default:
      return new InputFileError(file, `cannot be read (${message})`);
  }
}

const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);

/** Refuses `file` unless it is a regular file within `kind`'s limit; answers its size. Never opens it. */
export function checkInputFile(file: string, kind: InputKind): number {
  if (file.includes('\0')) throw new InputFileError(file.replaceAll('\0', '\\0'), 'a path may not contain a NUL character');
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (error) {
    throw openError(file, kind, error);
  }
  const problem = fileProblem(stat, kind);
  if (problem) throw new InputFileError(file, problem);
  return stat.size;
}

/** An open descriptor of a checked file (stat first, then O_NONBLOCK and fstat again); the caller closes it. */
export function openInputFile(file: string, kind: InputKind): { fd: number; size: number } {
  checkInputFile(file, kind);
  let fd: number;
  try {
    fd = fs.openSync(file, OPEN_FLAGS);
  } catch (error) {
    throw openError(file, kind, error);
  }
  const problem = fileProblem(fs.fstatSync(fd), kind);
  if (problem) {
    fs.closeSync(fd);
    throw new InputFileError(file, problem);
  }
  return { fd, size: fs.fstatSync(fd).size };
}

async function openInputFileAsync(file: string, kind: InputKind): Promise<{ handle: fs.promises.FileHandle; size: number }> {
  if (file.includes('\0')) throw new InputFileError(file.replaceAll('\0', '\\0'), 'a path may not contain a NUL character');
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(file);
  } catch (error) {
    throw openError(file, kind, error);
  }
  const before = fileProblem(stat, kind);
  if (before) throw new InputFileError(file, before);
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, OPEN_FLAGS);
  } catch (error) {
    throw openError(file, kind, error);
  }
  const opened = await handle.stat();
  const after = fileProblem(opened, kind);
  if (after) {
    await handle.close();
    throw new InputFileError(file, after);
  }
  return { handle, size: opened.size };
}

/** The bytes as text; invalid UTF-8 is refused naming its 1-based line. A leading BOM is dropped. */
export function decodeUtf8(bytes: Buffer, file: string): string {
  if (!isUtf8(bytes)) {
    let start = 0;
    for (let line = 1; ; line++) {
      const end = bytes.indexOf(0x0a, start);
      const piece = bytes.subarray(start, end === -1 ? bytes.length : end);
      if (!isUtf8(piece)) throw new InputFileError(file, 'is not valid UTF-8 text (save the file as UTF-8)', line);
      if (end === -1) break;
      start = end + 1;
    }
  }
  const text = bytes.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** A checked file's text, read in one go (for the CLI and workers, where nothing else waits). */
export function readInputTextSync(file: string, kind: InputKind): string {
  const { fd, size } = openInputFile(file, kind);
  try {
    const bytes = Buffer.alloc(size);
    let read = 0;
    while (read < size) {
      const n = fs.readSync(fd, bytes, read, size - read, read);
      if (n === 0) break;
      read += n;
    }
    return decodeUtf8(bytes.subarray(0, read), file);
  } finally {
    fs.closeSync(fd);
  }
}

/** A checked file's text, read in chunks without blocking the event loop. */
export async function readInputText(file: string, kind: InputKind): Promise<string> {
  const { handle, size } = await openInputFileAsync(file, kind);
  try {
    const bytes = Buffer.alloc(size);
    let read = 0;
    while (read < size) {
      const { bytesRead } = await handle.read(bytes, read, Math.min(size - read, 8 * MiB), read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    return decodeUtf8(bytes.subarray(0, read), file);
  } finally {
    await handle.close();
  }
}

/**
 * Copies a checked file to `to` in chunks off the event loop (a file that grows
 * past its limit while being copied is refused too); answers the bytes copied
 * and their sha256.
 */
export async function copyInputFile(file: string, kind: InputKind, to: string): Promise<{ bytes: number; sha256: string }> {
  const { handle } = await openInputFileAsync(file, kind);
  const out = await fs.promises.open(to, 'w');
  const hash = createHash('sha256');
  try {
    const buffer = Buffer.allocUnsafe(4 * MiB);
    let copied = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, copied);
      if (bytesRead === 0) return { bytes: copied, sha256: hash.digest('hex') };
      copied += bytesRead;
      if (copied > INPUT_LIMITS[kind]) throw new InputFileError(file, `grew past the ${sizeText(INPUT_LIMITS[kind])} ${article(kind)} ${kind} may have while it was read`);
      hash.update(buffer.subarray(0, bytesRead));
      await out.write(buffer, 0, bytesRead);
    }
  } finally {
    await out.close();
    await handle.close();
  }
}

/**
 * Refuses a folder unless it is one, and everything under it (links followed)
 * is a regular file or a folder, together within `kind`'s limit. Never opens
 * a file. Answers the total size.
 */
export async function checkInputFolder(dir: string, kind: InputKind = 'model folder'): Promise<number> {
  if (dir.includes('\0')) throw new InputFileError(dir.replaceAll('\0', '\\0'), 'a path may not contain a NUL character');
  let total = 0;
  let entries = 0;
  const walk = async (at: string, depth: number): Promise<void> => {
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(at);
    } catch (error) {
      throw openError(at, kind, error);
    }
    if (at === dir && !stat.isDirectory()) throw new InputFileError(dir, `is ${stat.isFile() ? 'a file' : whatItIs(stat)}, expected a folder`);
    if (stat.isDirectory()) {
      if (depth > 8) throw new InputFileError(at, 'is nested too deep (more than 8 folders) for a model folder');
      for (const name of await fs.promises.readdir(at)) {
        if (++entries > 10_000) throw new InputFileError(dir, 'has more than 10000 entries; expected a model folder');
        await walk(path.join(at, name), depth + 1);
      }
      return;
    }
    if (!stat.isFile()) throw new InputFileError(at, `is ${whatItIs(stat)}; ${article(kind)} ${kind} may hold only regular files and folders`);
    total += stat.size;
    if (total > INPUT_LIMITS[kind]) throw new InputFileError(dir, `holds more than the ${sizeText(INPUT_LIMITS[kind])} ${article(kind)} ${kind} may have`);
  };
  await walk(dir, 0);
  return total;
}

/** The same check, synchronous (the CLI and workers). */
export function checkInputFolderSync(dir: string, kind: InputKind = 'model folder'): number {
  if (dir.includes('\0')) throw new InputFileError(dir.replaceAll('\0', '\\0'), 'a path may not contain a NUL character');
  let total = 0;
  let entries = 0;
  const walk = (at: string, depth: number): void => {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(at);
    } catch (error) {
      throw openError(at, kind, error);
    }
    if (at === dir && !stat.isDirectory()) throw new InputFileError(dir, `is ${stat.isFile() ? 'a file' : whatItIs(stat)}, expected a folder`);
    if (stat.isDirectory()) {
      if (depth > 8) throw new InputFileError(at, 'is nested too deep (more than 8 folders) for a model folder');
      for (const name of fs.readdirSync(at)) {
        if (++entries > 10_000) throw new InputFileError(dir, 'has more than 10000 entries; expected a model folder');
        walk(path.join(at, name), depth + 1);
      }
      return;
    }
    if (!stat.isFile()) throw new InputFileError(at, `is ${whatItIs(stat)}; ${article(kind)} ${kind} may hold only regular files and folders`);
    total += stat.size;
    if (total > INPUT_LIMITS[kind]) throw new InputFileError(dir, `holds more than the ${sizeText(INPUT_LIMITS[kind])} ${article(kind)} ${kind} may have`);
  };
  walk(dir, 0);
  return total;
}

/** A line longer than this is no example: refused rather than gathered without end. */
export const MAX_LINE_BYTES = 64 * MiB;

/**
 * Bytes in, lines out: each complete line (1-based, `\r\n` handled) goes to
 * `onLine` as text, or is refused naming its line when it is not UTF-8 or
 * longer than MAX_LINE_BYTES. `onLine` answering false stops it.
 */
class LineSplitter {
  private parts: Buffer[] = [];
  private pending = 0;
  private lineNo = 0;
  private readonly file: string;
  private readonly onLine: (line: string, lineNo: number) => boolean | void;

  constructor(file: string, onLine: (line: string, lineNo: number) => boolean | void) {
    this.file = file;
    this.onLine = onLine;
  }

  /** Answers false once `onLine` asked to stop. */
  push(chunk: Buffer): boolean {
    let start = 0;
    for (let end = chunk.indexOf(0x0a); end !== -1; end = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, end);
      const bytes = this.pending > 0 ? Buffer.concat([...this.parts, piece]) : piece;
      this.parts = [];
      this.pending = 0;
      if (!this.emit(bytes)) return false;
      start = end + 1;
    }
    if (start < chunk.length) {
      this.parts.push(Buffer.from(chunk.subarray(start)));
      this.pending += chunk.length - start;
      if (this.pending > MAX_LINE_BYTES) throw new InputFileError(this.file, `expected lines of at most ${sizeText(MAX_LINE_BYTES)}; this one is longer`, this.lineNo + 1);
    }
    return true;
  }

  end(): void {
    if (this.pending > 0) this.emit(Buffer.concat(this.parts));
  }

  private emit(bytes: Buffer): boolean {
    this.lineNo++;
    if (!isUtf8(bytes)) throw new InputFileError(this.file, 'expected valid UTF-8 text (save the file as UTF-8)', this.lineNo);
    const line = bytes.toString('utf8');
    return this.onLine(line.endsWith('\r') ? line.slice(0, -1) : line, this.lineNo) !== false;
  }
}

/** Each line of a checked file, read in 1 MiB chunks (for the CLI and workers). */
export function forEachInputLine(file: string, kind: InputKind, onLine: (line: string, lineNo: number) => boolean | void): void {
  const { fd } = openInputFile(file, kind);
  try {
    const lines = new LineSplitter(file, onLine);
    const buffer = Buffer.allocUnsafe(MiB);
    for (;;) {
      const n = fs.readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) return lines.end();
      if (!lines.push(buffer.subarray(0, n))) return;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** The same, awaiting each chunk: the event loop runs between them, so the server answers while a large file is read. */
export async function forEachInputLineAsync(file: string, kind: InputKind, onLine: (line: string, lineNo: number) => boolean | void): Promise<void> {
  const { handle } = await openInputFileAsync(file, kind);
  try {
    const lines = new LineSplitter(file, onLine);
    const buffer = Buffer.allocUnsafe(MiB);
    for (let position = 0; ; ) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) return lines.end();
      position += bytesRead;
      if (!lines.push(buffer.subarray(0, bytesRead))) return;
    }
  } finally {
    await handle.close();
  }
}
