/** models.*: list, read, import and delete models (with their files). */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { StepwiseError } from '../contract/errors.ts';
import type { Handlers } from '../contract/dispatcher.ts';
import type { RunCheckpoint } from '../contract/areas/library.ts';
import type { JsonObject, Model } from '../contract/entities.ts';
import { architectureSummary, readModelFolderArch } from '../engine/hf/model-folder.ts';
import { paramCount } from '../engine/models/family.ts';
import type { ModelArch } from '../engine/models/family.ts';
import { InputFileError, checkInputFolder } from '../methods/input-file.ts';
import { loadModelFolderOffThread } from '../methods/preflight.ts';
import { bytesOf, removeFromDataDir } from './files.ts';
import type { LabContext } from './lab.ts';
import { insideDataDir, runFolder } from './paths.ts';

type ModelProcedures = 'models.list' | 'models.get' | 'models.delete' | 'models.import' | 'models.checkpoints';

export function modelHandlers(context: LabContext): Pick<Handlers, ModelProcedures> {
  const { store, dataDir } = context;
  function existing(procedure: string, id: number): Model {
    const model = store.models.get(id);
    if (!model) throw new StepwiseError('not_found', `${procedure}: there is no model ${id}`);
    return model;
  }

  return {
    'models.list': ({ limit, offset }) => store.models.list(limit, offset),
    'models.get': ({ id }) => existing('models.get', id),
    'models.delete': ({ id }) => {
      const model = existing('models.delete', id);
      // Files first: if removing them fails, the row stays and the delete can be retried.
      const bytesFreed = removeFromDataDir(dataDir, model.path);
      store.models.delete(id);
      return { id, bytesFreed };
    },
    'models.import': ({ path: from, name }) => importModel(context, from, name),
    'models.checkpoints': ({ limit, offset }) => {
      const page = store.checkpoints.recent(limit, offset);
      const archOf = new Map<number, { architecture: JsonObject; paramCount: number } | null>();
      const items = page.items.flatMap((c): RunCheckpoint[] => {
        const run = store.runs.get(c.runId);
        if (!run) return [];
        if (!archOf.has(c.runId)) archOf.set(c.runId, runArchitecture(dataDir, c.runId) ?? folderArchitecture(dataDir, c.path));
        const arch = archOf.get(c.runId) ?? null;
        return [{ ...c, runName: run.name, method: run.method, architecture: arch?.architecture ?? null, paramCount: arch?.paramCount ?? null }];
      });
      return { items, total: page.total };
    },
  };
}

/** The model a run trains, from the run.json its job writes beside its checkpoints; null when there is none to read. */
function runArchitecture(dataDir: string, runId: number): { architecture: JsonObject; paramCount: number } | null {
  try {
    const { arch } = JSON.parse(fs.readFileSync(path.join(dataDir, runFolder(runId), 'run.json'), 'utf8')) as { arch?: ModelArch };
    if (!arch || typeof arch.nLayer !== 'number') return null;
    return { architecture: architectureSummary(arch), paramCount: paramCount(arch) };
  } catch {
    return null;
  }
}

/** The model of a checkpoint kept as a Hugging Face folder (an imported cluster job's); null when it is not one. */
function folderArchitecture(dataDir: string, relative: string): { architecture: JsonObject; paramCount: number } | null {
  try {
    const arch = readModelFolderArch(insideDataDir(dataDir, relative));
    return { architecture: architectureSummary(arch), paramCount: paramCount(arch) };
  } catch {
    return null;
  }
}

function invalidPath(message: string): StepwiseError {
  return new StepwiseError('invalid_input', `models.import: ${message}`, [{ path: ['path'], message }]);
}

/**
 * Copies a Hugging Face model folder (GPT-2 or Llama family) into `models/<id>`: staged in a hidden
 * folder, loaded from the copy (config, every weight and its shape), and only
 * then given a row and moved into place in one transaction, so a folder that
 * does not load, a full disk or a crash leaves neither a row nor a file.
 */
export async function importModel({ store, dataDir }: LabContext, from: string, name?: string): Promise<Model> {
  // Only regular files and folders, within the limit, walked without opening any: a FIFO or device inside cannot block the copy.
  try {
    await checkInputFolder(from, 'model folder');
  } catch (error) {
    if (error instanceof InputFileError && error.file === from && error.problem === 'is a file, expected a folder') {
      throw invalidPath(`${from}: expected a Hugging Face model folder (config.json and model.safetensors), found a file`);
    }
    if (error instanceof InputFileError) throw invalidPath(error.message);
    throw error;
  }
  if (!fs.existsSync(path.join(from, 'config.json'))) throw invalidPath(`${from}: has no config.json; expected a Hugging Face model folder (GPT-2 or Llama family)`);

  const staged = path.join('models', `.staging-${process.pid}-${randomBytes(6).toString('hex')}`);
  const stagedAbs = insideDataDir(dataDir, staged);
  fs.mkdirSync(path.dirname(stagedAbs), { recursive: true });
  let moved: string | null = null;
  try {
    try {
      await fs.promises.cp(from, stagedAbs, { recursive: true, dereference: true });
    } catch (error) {
      const { code, message } = error as NodeJS.ErrnoException;
      if (code === 'EACCES' || code === 'EPERM') throw invalidPath(`${from}: cannot read (${message})`);
      throw error; // e.g. the data folder's disk is full: not the caller's input
    }
    let arch: ModelArch;
    try {
      // Every weight is read: in a worker, so a large model does not stall the server.
      arch = await loadModelFolderOffThread(stagedAbs);
    } catch (error) {
      // Name the user's folder, not the staged copy.
      const message = (error as Error).message.replaceAll(stagedAbs, from);
      if ((error as { hfFolder?: boolean }).hfFolder) throw invalidPath(message.includes(from) ? message : `${from}: ${message}`);
      throw invalidPath(`${from}: does not load as a model folder (${message})`);
    }
    return store.transaction(() => {
      const added = store.models.add({
        name: name ?? path.basename(path.resolve(from)),
        architecture: architectureSummary(arch),
        paramCount: paramCount(arch),
        path: staged,
        bytesOnDisk: bytesOf(stagedAbs),
        source: { kind: 'imported', from },
        runId: null,
      });
      const relative = path.join('models', String(added.id));
      const target = insideDataDir(dataDir, relative);
      // No row owns this id's folder (the id is new): a leftover of an earlier crash, safe to replace.
      fs.rmSync(target, { recursive: true, force: true });
      fs.renameSync(stagedAbs, target);
      moved = target;
      store.models.setPath(added.id, relative);
      return { ...added, path: relative };
    });
  } catch (error) {
    if (moved) fs.rmSync(moved, { recursive: true, force: true });
    throw error;
  } finally {
    fs.rmSync(stagedAbs, { recursive: true, force: true });
  }
}
