import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { COMMANDS } from '../../src-main/cli/commands/index.ts';
import { LATEST_SCHEMA_VERSION } from '../../src-main/store/migrations.ts';
import { WEBGPU } from '../fixtures/providers.ts';

const BIN = fileURLToPath(new URL('../../bin/stepwise.js', import.meta.url));

let dataDir: string;
beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-cli-'));
});
afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

/** Runs `stepwise …` with this test's Node (the project's v24), no stdin, no STEPWISE_DATA_DIR unless given. */
function stepwise(args: string[], env: Record<string, string> = {}) {
  const { STEPWISE_DATA_DIR: _, ...inherited } = process.env;
  const result = spawnSync(process.execPath, [BIN, ...args], { env: { ...inherited, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('stepwise info', () => {
  test('--json prints the data folder, schema version, ONNX Runtime version and execution providers', () => {
    const { code, stdout, stderr } = stepwise(['info', '--json', '--data-dir', dataDir]);
    expect([code, stderr]).toEqual([0, '']);
    const info = JSON.parse(stdout);
    expect(info.dataDir).toBe(dataDir);
    expect(info.schemaVersion).toBe(LATEST_SCHEMA_VERSION);
    expect(info.onnxRuntimeVersion).toMatch(/^1\.\d+\.\d+$/);
    expect(info.executionProviders).toContainEqual({ name: 'cpu', bundled: true, usable: true });
    expect(info.executionProviders.every((p: { name: unknown; bundled: unknown }) => typeof p.name === 'string' && typeof p.bundled === 'boolean')).toBe(true);
    expect(fs.existsSync(path.join(dataDir, 'stepwise.db'))).toBe(true);
  });

  test('without --json it prints the same facts for a person, saying which providers are not installed', () => {
    const { code, stdout } = stepwise(['info', '--data-dir', dataDir]);
    expect(code).toBe(0);
    expect(stdout).toContain(`Data folder      ${dataDir}\n`);
    expect(stdout).toContain(`Schema version   ${LATEST_SCHEMA_VERSION}\n`);
    expect(stdout).toMatch(/^ {2}cpu {7}available$/m);
    expect(stdout).toMatch(/^ {2}cuda {6}not installed \(see README, "GPU: CUDA"\)$/m);
  });

  test('the GPU adapter is a fact: with no Vulkan driver webgpu is not usable and says why; with SwiftShader it is named as software', () => {
    const none = stepwise(['info', '--json', '--data-dir', dataDir], { VK_ICD_FILENAMES: path.join(dataDir, 'no-such-icd.json') });
    expect([none.code, none.stderr]).toEqual([0, '']); // the Vulkan loader's own warnings stay in the probe's child process
    const facts = JSON.parse(none.stdout);
    expect(facts.gpu).toMatchObject({ found: false, reason: expect.stringMatching(/no Vulkan driver answered: install the Vulkan loader \(Debian: libvulkan1\)/) });
    expect(facts.executionProviders).toContainEqual({ name: 'webgpu', bundled: true, usable: false, reason: `no GPU adapter: ${facts.gpu.reason}` });
    expect(stepwise(['info', '--data-dir', dataDir], { VK_ICD_FILENAMES: path.join(dataDir, 'no-such-icd.json') }).stdout).toMatch(/^ {2}webgpu {4}not usable: no GPU adapter: no Vulkan driver answered/m);
    if (!WEBGPU) return;
    const sw = stepwise(['info', '--data-dir', dataDir]);
    expect(sw.stdout).toMatch(/^GPU adapter {6}google swiftshader, SwiftShader driver [\d.]+ \(software: correct but slow, no GPU\)$/m);
    expect(sw.stdout).toMatch(/^ {2}webgpu {4}available: google swiftshader/m);
    expect(JSON.parse(stepwise(['info', '--json', '--data-dir', dataDir]).stdout).gpu).toMatchObject({ found: true, vendor: 'google', architecture: 'swiftshader', software: true });
  });

  test('STEPWISE_DATA_DIR chooses the data folder when --data-dir is not given', () => {
    const { stdout } = stepwise(['info', '--json'], { STEPWISE_DATA_DIR: dataDir });
    expect(JSON.parse(stdout).dataDir).toBe(dataDir);
  });
});

describe('calling it wrongly exits 2 and says what was wrong', () => {
  test('an unknown flag is named', () => {
    const { code, stdout, stderr } = stepwise(['info', '--jsn', '--data-dir', dataDir]);
    expect([code, stdout]).toEqual([2, '']);
    expect(stderr).toBe('stepwise info: unknown option --jsn. Run `stepwise info --help` for its options.\n');
  });

  test('an unknown command is named, with the known ones', () => {
    const { code, stderr } = stepwise(['trian']);
    expect(code).toBe(2);
    expect(stderr).toBe(`stepwise: unknown command "trian". Commands: ${COMMANDS.map((c) => c.name).join(', ')}. Run \`stepwise --help\` for more.\n`);
    expect(COMMANDS.map((c) => c.name).slice(0, 6)).toEqual(['serve', 'info', 'data mult', 'data import', 'train', 'eval']);
  });

  test('a flag missing its value, a stray argument, a bad port and a non-loopback host are each named', () => {
    expect(stepwise(['info', '--data-dir'])).toMatchObject({ code: 2, stderr: expect.stringContaining("'--data-dir <value>' argument missing") });
    expect(stepwise(['info', 'now'])).toMatchObject({ code: 2, stderr: expect.stringContaining('unexpected argument "now"') });
    expect(stepwise(['serve', '--port', '70000', '--data-dir', dataDir])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--port must be a whole number from 0 to 65535 (got "70000")'),
    });
    expect(stepwise(['serve', '--host', '0.0.0.0', '--data-dir', dataDir])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--host must be a loopback address (127.0.0.1, localhost, ::1), got "0.0.0.0"'),
    });
  });
});

describe('help', () => {
  test('each command lists its own options and the common ones', () => {
    const { code, stdout } = stepwise(['serve', '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: stepwise serve \[options\]/);
    for (const flag of ['-p, --port PORT', '--host HOST', '--data-dir DIR', '-h, --help']) expect(stdout).toContain(flag);
  });

  test('stepwise --help lists every command', () => {
    const { code, stdout } = stepwise(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^ {2}serve {8}Serve the lab/m);
    expect(stdout).toMatch(/^ {2}info {9}Show the data folder/m);
    expect(stdout).toMatch(/^ {2}data mult {4}Write A-digit × B-digit multiplication/m);
    expect(stdout).toMatch(/^ {2}data import {2}Copy a file of examples/m);
  });

  test('a command family without its subcommand names the subcommands', () => {
    expect(stepwise(['data'])).toMatchObject({ code: 2, stderr: expect.stringContaining('stepwise: "data" needs one of data mult, data import.') });
    expect(stepwise(['data', 'mul'])).toMatchObject({ code: 2, stderr: expect.stringContaining('"data" needs one of data mult, data import (got "data mul")') });
  });
});

describe('stepwise serve', () => {
  test('prints a tokened loopback URL that opens the lab, and stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
        const match = /http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{32}/.exec(stdout);
        if (match) resolve(match[0]);
      });
      child.on('exit', (code) => reject(new Error(`serve exited ${code} before printing its URL: ${stderr}`)));
    });
    expect(stdout).toContain(`Data folder: ${dataDir}`);
    const first = await fetch(url, { redirect: 'manual' });
    expect(first.status).toBe(303);
    const page = await fetch(new URL('/', url), { headers: { cookie: first.headers.get('set-cookie')!.split(';')[0] } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>Stepwise</title>');
    expect((await fetch(new URL('/', url))).status).toBe(401);

    const exit = new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
  });
});
