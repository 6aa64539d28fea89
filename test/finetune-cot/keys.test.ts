/**
 * Teachers' API keys stay out of the database, the logs and the data folder:
 * a key set through the contract (finetune.setKey) into the desktop's
 * encrypted key file (the store src-main/electron installs with
 * safeStorage; here an AES-256-GCM cipher stands in for the keychain) is
 * sent to a real HTTP teacher on 127.0.0.1 as `Authorization: Bearer`, and
 * afterwards no file under the data folder, no byte of the SQLite files and
 * nothing the process printed contains it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FtCotGeneration } from '../../src-main/contract/areas/finetune.ts';
import type { Dataset } from '../../src-main/contract/entities.ts';
import { encryptedKeyFile, KEY_FILE, type KeyCipher } from '../../src-main/services/finetune-keyfile.ts';
import { setKeyStore } from '../../src-main/services/finetune-keys.ts';
import { openLab, type Lab } from '../../src-main/services/lab.ts';

const SECRET = `sk-test-${crypto.randomBytes(12).toString('hex')}`;
const WRONG = `sk-wrong-${crypto.randomBytes(12).toString('hex')}`;

/** AES-256-GCM under a key of this process: what safeStorage does with the keychain's key. */
function testCipher(): KeyCipher {
  const k = crypto.randomBytes(32);
  return {
    encrypt(plain) {
      const iv = crypto.randomBytes(12);
      const c = crypto.createCipheriv('aes-256-gcm', k, iv);
      const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
      return Buffer.concat([iv, c.getAuthTag(), body]);
    },
    decrypt(sealed) {
      const d = crypto.createDecipheriv('aes-256-gcm', k, sealed.subarray(0, 12));
      d.setAuthTag(sealed.subarray(12, 28));
      return Buffer.concat([d.update(sealed.subarray(28)), d.final()]).toString('utf8');
    },
  };
}

let dir: string;
let dataDir: string;
let lab: Lab;
let teacher: http.Server;
let baseUrl: string;
const seenAuth: string[] = [];
let printed = '';
const writes = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr) };

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-ftcot-keys-'));
  dataDir = path.join(dir, 'data');
  // Everything this process prints while the lab runs is kept to be searched.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => ((printed += String(chunk)), writes.out(chunk, ...rest))) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => ((printed += String(chunk)), writes.err(chunk, ...rest))) as typeof process.stderr.write;
  // A teacher that adds: answers the Zero-shot-CoT stages for "What is A + B?", only with the right key.
  teacher = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      seenAuth.push(String(req.headers.authorization));
      res.setHeader('content-type', 'application/json');
      if (req.headers.authorization !== `Bearer ${SECRET}`) {
        res.statusCode = 401;
        res.end(JSON.stringify({ error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } }));
        return;
      }
      const prompt = String((JSON.parse(body) as { prompt: string }).prompt);
      const [, a, b] = /What is (\d+) \+ (\d+)\?/.exec(prompt) ?? [];
      const sum = Number(a) + Number(b);
      const text = /Therefore/.test(prompt) ? ` ${sum}.` : ` ${a} + ${b} = ${sum}.`;
      res.end(JSON.stringify({ choices: [{ text, finish_reason: 'stop', index: 0 }], usage: { prompt_tokens: 10, completion_tokens: 4 } }));
    });
  });
  await new Promise<void>((resolve) => teacher.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(teacher.address() as AddressInfo).port}/v1`;
  lab = openLab(dataDir);
});

afterAll(async () => {
  process.stdout.write = writes.out;
  process.stderr.write = writes.err;
  setKeyStore(null);
  lab?.close();
  teacher?.closeAllConnections();
  await new Promise((resolve) => (teacher ? teacher.close(resolve) : resolve(undefined)));
  fs.rmSync(dir, { recursive: true, force: true });
});

async function call<T>(name: string, input: unknown): Promise<T> {
  const r = await lab.dispatch(name, input);
  if (!r.ok) throw new Error(r.error.message);
  return r.result as T;
}

function filesUnder(folder: string): string[] {
  return fs.readdirSync(folder, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(folder, e.name)) : [path.join(folder, e.name)]));
}

describe('API keys for teachers', () => {
  test('without a key store (CLI, serve) finetune.setKey is refused, pointing to the environment variable', async () => {
    setKeyStore(null);
    const r = await lab.dispatch('finetune.setKey', { name: 'TEACHER_KEY', key: SECRET });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('conflict');
      expect(r.error.message).toContain('environment variable TEACHER_KEY');
      expect(r.error.message).not.toContain(SECRET);
    }
    expect(await call('finetune.keys', {})).toEqual({ names: [], canStore: false });
  });

  test('a key set through the contract is used by a generation job and found nowhere in the data folder or the output', async () => {
    const file = path.join(dataDir, KEY_FILE);
    setKeyStore(encryptedKeyFile(file, testCipher()));
    expect(await call('finetune.setKey', { name: 'TEACHER_KEY', key: SECRET })).toEqual({ name: 'TEACHER_KEY', stored: true });
    expect(await call('finetune.setKey', { name: 'OTHER_KEY', key: WRONG })).toEqual({ name: 'OTHER_KEY', stored: true });
    expect(await call('finetune.keys', {})).toEqual({ names: ['OTHER_KEY', 'TEACHER_KEY'], canStore: true });
    expect(process.env.TEACHER_KEY).toBeUndefined();

    const task = await call<Dataset>('finetune.generateTask', { kind: 'arithmetic', counts: { train: 8, test: 2 }, seed: 3, size: 1, name: 'add' });
    const spec = { kind: 'openai', baseUrl, model: 'adder', keyName: 'TEACHER_KEY', concurrency: 2 };
    const tested = await call<{ text: string; completionTokens: number }>('finetune.testTeacher', { teacher: spec });
    expect(tested.text).toBe(' 2 + 3 = 5.');
    expect(tested.completionTokens).toBe(4);

    const started = await call<FtCotGeneration>('finetune.generate', { datasetId: task.id, name: 'keyed', teacher: spec, samples: 1 });
    expect(JSON.stringify(started)).not.toContain(SECRET);
    expect(started.teacher).toMatchObject({ keyName: 'TEACHER_KEY' });
    const done = await lab.finetune.whenDone(started.id)!;
    expect(done.status, done.error ?? '').toBe('completed');
    expect(done.kept).toBe(8);
    expect(seenAuth.length).toBe(1 + 16); // the check, then two stages per question
    expect(seenAuth.every((a) => a === `Bearer ${SECRET}`)).toBe(true);

    // A wrong key is refused by the endpoint; the refusal, stored or answered, does not repeat the key.
    const refused = await lab.dispatch('finetune.testTeacher', { teacher: { ...spec, keyName: 'OTHER_KEY' } });
    expect(refused.ok).toBe(false);
    if (!refused.ok) {
      expect(refused.error.message).toContain('HTTP 401');
      expect(refused.error.message).not.toContain(WRONG);
    }
    const failing = await call<FtCotGeneration>('finetune.generate', { datasetId: task.id, name: 'wrong key', teacher: { ...spec, keyName: 'OTHER_KEY', maxRetries: 0 }, samples: 1, limit: 1 });
    const failed = await lab.finetune.whenDone(failing.id)!;
    expect(failed.status).toBe('failed');
    expect(failed.error).toContain('HTTP 401');
    expect(seenAuth.filter((a) => a === `Bearer ${WRONG}`).length).toBeGreaterThanOrEqual(2);

    // The key file names the keys but holds them sealed.
    const keyFile = fs.readFileSync(file, 'utf8');
    expect(Object.keys((JSON.parse(keyFile) as { keys: object }).keys).sort()).toEqual(['OTHER_KEY', 'TEACHER_KEY']);
    expect(keyFile).not.toContain(SECRET);
    expect(keyFile).not.toContain(WRONG);
    if (process.platform !== 'win32') expect(fs.statSync(file).mode & 0o077).toBe(0);

    // Nothing else under the data folder holds either key: the SQLite database with its WAL, datasets, jobs.
    lab.close();
    const files = filesUnder(dataDir);
    expect(files.some((f) => /\.(db|sqlite)(-wal)?$/.test(f) || f.endsWith('.db'))).toBe(true);
    for (const f of files) {
      const bytes = fs.readFileSync(f);
      expect(bytes.includes(SECRET), f).toBe(false);
      expect(bytes.includes(WRONG), f).toBe(false);
    }
    expect(printed).not.toContain(SECRET);
    expect(printed).not.toContain(WRONG);
    lab = openLab(dataDir);
  });

  test('a damaged key file is reported by its path, and no key is lost from a good one', () => {
    const file = path.join(dir, 'bad', KEY_FILE);
    fs.mkdirSync(path.dirname(file));
    fs.writeFileSync(file, '{ not json');
    const store = encryptedKeyFile(file, testCipher());
    expect(() => store.names()).toThrow(`the key store ${file} is not valid JSON`);
    expect(() => store.set('A', 'x')).toThrow(file);
    expect(fs.readFileSync(file, 'utf8')).toBe('{ not json');
    // Keys sealed by another keychain cannot be opened: said, naming the key.
    const good = path.join(dir, 'good', KEY_FILE);
    encryptedKeyFile(good, testCipher()).set('A', 'secret-a');
    expect(() => encryptedKeyFile(good, testCipher()).get('A')).toThrow(/the key A in .* cannot be decrypted/);
  });
});
