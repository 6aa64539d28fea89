/**
 * Fault group "malformed files": every file of test/fixtures/malformed (made
 * by scripts/make-malformed-corpus.ts, listed in its manifest.json) through
 * every import path it names: datasets.import, datasets.generateMult's
 * excludePaths, runs.start (as a run's training data), finetune.importTask,
 * models.import (as a folder's model.safetensors) and `stepwise train`. Each
 * must be refused with a typed error that names the file and says what was
 * expected (the manifest's words), in a short message, with no row added and
 * the server still answering.
 */
import { startLabServer } from '../fixtures/lab-server.ts';
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { CallResult } from '../../src-main/contract/client.ts';
import { gpt2ConfigToHf } from '../../src-main/engine/hf/gpt2-folder.ts';
import type { RunningServer } from '../../src-main/server/server.ts';
import type { Lab } from '../../src-main/services/lab.ts';
import { tinyConfig, writeTinyMult } from '../services/tiny-run.ts';
import { tally } from './counts.ts';

const CORPUS = fileURLToPath(new URL('../fixtures/malformed/', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/stepwise.js', import.meta.url));

interface Entry {
  file: string;
  paths: string[];
  says: string;
}
const manifest = JSON.parse(fs.readFileSync(path.join(CORPUS, 'manifest.json'), 'utf8')) as Entry[];

let work: string;
let lab: Lab;
let server: RunningServer;
let db: Database.Database;
let data: { train: string; valid: string; test: string };
const group = tally('malformed files');

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-faults-files-'));
  data = await writeTinyMult(path.join(work, 'mult'));
  ({ lab, server } = await startLabServer(work));
  db = new Database(path.join(lab.dataDir, 'stepwise.db'), { readonly: true });
});

afterAll(async () => {
  db?.close();
  await server?.close();
  lab?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

function rowCounts(): string {
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[];
  return JSON.stringify(tables.map(({ name }) => [name, (db.prepare(`SELECT count(*) AS n FROM "${name}"`).get() as { n: number }).n]));
}

async function call(name: string, input: unknown): Promise<{ status: number; text: string; result: CallResult }> {
  const response = await fetch(`http://127.0.0.1:${server.port}/api/call/${name}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(input),
  });
  const text = await response.text();
  return { status: response.status, text, result: JSON.parse(text) as CallResult };
}

/** A GPT-2 folder whose model.safetensors is `file`. */
function modelFolderWith(file: string): string {
  const folder = fs.mkdtempSync(path.join(work, 'model-'));
  fs.writeFileSync(path.join(folder, 'config.json'), JSON.stringify(gpt2ConfigToHf({ vocabSize: 8, nPositions: 8, nEmbd: 4, nLayer: 1, nHead: 1, layerNormEpsilon: 1e-5 })));
  fs.copyFileSync(file, path.join(folder, 'model.safetensors'));
  return folder;
}

/** The problem with a refusal, or null when it is typed, names `named`, says `says` and is short. */
function judge(status: number, text: string, result: CallResult, named: string, says: string): string | null {
  if (result.ok) return `accepted (${status})`;
  if (status !== 400 || result.error.code !== 'invalid_input') return `answered ${status} ${result.error.code}: ${result.error.message.slice(0, 200)}`;
  if (!result.error.message.includes(named)) return `does not name ${named}: ${result.error.message.slice(0, 200)}`;
  if (!result.error.message.includes(says)) return `does not say "${says}": ${result.error.message.slice(0, 300)}`;
  if (text.length > 5000) return `a body of ${text.length} bytes`;
  return null;
}

describe('the malformed-file corpus', () => {
  test('the corpus is what scripts/make-malformed-corpus.ts writes', () => {
    const listed = manifest.map((e) => e.file).sort();
    const onDisk = fs.readdirSync(CORPUS, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => path.relative(CORPUS, path.join(d.parentPath, d.name))).filter((f) => f !== 'manifest.json' && f !== 'configs/train.txt').sort();
    expect(onDisk).toEqual(listed);
    expect(listed.length).toBeGreaterThanOrEqual(40);
  });

  test('every file is refused on every path it names, typed, naming it, changing nothing', async () => {
    const before = rowCounts();
    for (const entry of manifest) {
      const file = path.join(CORPUS, entry.file);
      for (const via of entry.paths) {
        const what = `${entry.file} via ${via}`;
        let problem: string | null;
        switch (via) {
          case 'datasets.import': {
            const r = await call('datasets.import', { path: file, name: 'malformed' });
            problem = judge(r.status, r.text, r.result, file, entry.says);
            break;
          }
          case 'excludePaths': {
            const r = await call('datasets.generateMult', { digitsA: 2, digitsB: 2, counts: { train: 4, valid: 0, test: 0 }, seed: 1, excludePaths: [file], name: 'malformed' });
            problem = judge(r.status, r.text, r.result, file, entry.says);
            break;
          }
          case 'runs.start': {
            const r = await call('runs.start', { method: 'icot-si', name: 'malformed', config: tinyConfig({ train: file, valid: data.valid }, 1) });
            problem = judge(r.status, r.text, r.result, file, entry.says);
            break;
          }
          case 'finetune.importTask': {
            const r = await call('finetune.importTask', { path: file, name: 'malformed', answerType: 'text' });
            problem = judge(r.status, r.text, r.result, file, entry.says);
            break;
          }
          case 'models.import': {
            const folder = modelFolderWith(file);
            const r = await call('models.import', { path: folder });
            problem = judge(r.status, r.text, r.result, path.join(folder, 'model.safetensors'), entry.says);
            break;
          }
          case 'stepwise train': {
            const r = spawnSync(process.execPath, [BIN, 'train', file, '--data-dir', path.join(work, 'cli-lab')], { encoding: 'utf8', timeout: 60_000 });
            problem =
              r.status !== 2 ? `exited ${r.status} (${r.signal ?? ''}): ${r.stderr.slice(0, 200)}`
              : !r.stderr.includes(file) ? `does not name ${file}: ${r.stderr.slice(0, 200)}`
              : !r.stderr.includes(entry.says) ? `does not say "${entry.says}": ${r.stderr.slice(0, 300)}`
              : r.stderr.length > 5000 ? `printed ${r.stderr.length} bytes`
              : null;
            break;
          }
          default:
            problem = `unknown path ${via}`;
        }
        group.attempt(what, problem);
      }
      const info = await call('app.info', {});
      if (info.status !== 200) group.attempt(`app.info after ${entry.file}`, `answered ${info.status}`);
    }
    const after = rowCounts();
    if (after !== before) group.attempt('rows', `changed: ${before} → ${after}`);
    expect(fs.existsSync(path.join(work, 'cli-lab', 'runs'))).toBe(false);
    expect(fs.readdirSync(path.join(lab.dataDir, 'datasets')).filter((f) => f.startsWith('.staging'))).toEqual([]);
    expect(group.counts.attempts).toBe(manifest.reduce((n, e) => n + e.paths.length, 0));
  });

  test('no file got through', () => {
    expect(group.write()).toEqual([]);
  });
});
