/**
 * Probe jobs through the contract, on a real lab (SQLite file, ONNX Runtime):
 * a tiny ICoT-SI run's every checkpoint probed with the CoT its curriculum had
 * removed, captures written in the documented layout and equal to the
 * generator's own probes, the logit lens and attention views, a typed input,
 * cancelling, deleting, and bad requests refused without changing anything.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Probe, ProbeOutputs } from '../../src-main/contract/areas/probes.ts';
import { createClient, type Client } from '../../src-main/contract/client.ts';
import type { Run } from '../../src-main/contract/entities.ts';
import { listCheckpoints, loadCheckpoint } from '../../src-main/engine/checkpoint.ts';
import { Generator } from '../../src-main/engine/generate.ts';
import type { GPT2Config } from '../../src-main/engine/models/gpt2.ts';
import { readAttention, readCaptureMeta, readTokens } from '../../src-main/engine/probes/capture.ts';
import { readExamples } from '../../src-main/methods/shared/examples.ts';
import { openLab, type Lab } from '../../src-main/services/lab.ts';
import { probeDone } from '../../src-main/services/probes.ts';
import { tinyConfig, writeTinyMult } from '../services/tiny-run.ts';

let dataDir: string;
let lab: Lab;
let client: Client;
let run: Run;
let data: { train: string; valid: string; test: string };

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-probes-'));
  data = await writeTinyMult(path.join(dataDir, 'mult'));
  lab = openLab(dataDir);
  client = createClient({ call: (name, input) => lab.dispatch(name, input), on: (event, handler) => lab.events.subscribe((e, p) => e === event && handler(p)) });
  run = await client.call('runs.start', { method: 'icot-si', name: 'tiny', config: tinyConfig(data, 3) as never });
  await lab.training.whenDone(run.id);
});

afterAll(() => {
  lab.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const ofRun = () => ({ runId: run.id, checkpoints: 'all' as const });

async function finished(started: Probe): Promise<Probe> {
  return (await probeDone(dataDir, started.id)) ?? (await client.call('probes.get', { id: started.id }));
}

describe('probing a run across its curriculum', () => {
  let job: Probe;
  const progress: ProbeOutputs['probes.get'][] = [];
  let phases: string[] = [];

  beforeAll(async () => {
    const off = lab.events.subscribe((e, p) => e === 'probe.progress' && phases.push((p as { phase: string }).phase));
    job = await finished(await client.call('probes.start', { source: ofRun(), data: { file: data.train }, targets: ['pp0.d1', 'ans'], slots: ['eos.0', 'cot.5', 'cot.6', 'eos.1'], seeds: 2 }));
    off();
    progress.push(job);
  });

  test('the estimate says examples, points with their removed CoT, fits and bytes before anything runs', async () => {
    const est = await client.call('probes.estimate', { source: ofRun(), data: { file: data.train }, targets: ['pp0.d1', 'ans'], slots: ['eos.0', 'cot.5', 'cot.6', 'eos.1'], seeds: 2 });
    const checkpoints = listCheckpoints(path.join(dataDir, 'runs', String(run.id), 'checkpoints'));
    expect(est.examples).toBe(64);
    expect(est.points.map((p) => p.step)).toEqual(checkpoints.map((c) => c.step));
    const scheduled = checkpoints.map((c) => (loadCheckpoint(c.path).record.extra!.curriculum as { scheduled: number }).scheduled);
    expect(est.points.map((p) => p.removed)).toEqual(scheduled.map((s) => (s < 0 ? null : s)));
    expect(est.layers).toBe(2);
    expect(est.targets).toEqual(['pp0.d1', 'ans']);
    expect(est.available.map((t) => t.name)).toContain('pp1.d3');
    expect(est.available.find((t) => t.name === 'pp0.d1')!.cotSlot).toBe('cot.1');
    // 2 targets × 2 layers × ≤4 positions × 3 points × 2 seeds × 2 (control) × 2 (random model)
    expect(est.fits).toBe(2 * 2 * 4 * 3 * 2 * 2 * 2);
    expect(est.bytes).toBeGreaterThan(0);
    // The fits' time, from one fit of the model's width timed on the server and scaled to 64 rows.
    expect(est.seconds).toBeGreaterThan(0);
    expect(est.seconds / est.fits).toBeLessThan(1);
    expect(lab.store.probes.list(100, 0).total).toBe(1); // estimating stored nothing
  });

  test('every checkpoint is probed with the CoT it had removed; the job completes and is indexed with its bytes', async () => {
    expect(job.status).toBe('completed');
    expect(job.runId).toBe(run.id);
    expect(job.summary.points).toHaveLength(3);
    expect(job.summary.points.every((p) => p.done)).toBe(true);
    expect(job.summary.points[0].cotLength).toBe(8);
    expect(job.bytes).toBeGreaterThan(0);
    expect(new Set(phases)).toEqual(new Set(['capture', 'random', 'fit']));
    for (const point of job.summary.points) {
      const r = await client.call('probes.results', { id: job.id, point: point.index });
      const removed = point.removed ?? 8;
      // Positions the curriculum removed are not probed at that point.
      expect(r.slots.includes('cot.5')).toBe(removed < 6);
      expect(r.slots.includes('cot.6')).toBe(removed < 7);
      expect(r.slots).toContain('eos.0');
      const t = r.targets.find((x) => x.name === 'pp0.d1')!;
      expect(t.metric).toBe('accuracy');
      expect(t.cells).toHaveLength(2);
      for (const row of t.cells) for (const c of row) {
        expect(c!.score).toBeGreaterThanOrEqual(0);
        expect(c!.score).toBeLessThanOrEqual(1);
        expect(c!.selectivity).toBeCloseTo(c!.score - c!.control, 12);
        expect(c!.n).toBe(64);
      }
      expect(t.random).not.toBeNull();
      const v = r.targets.find((x) => x.name === 'ans')!;
      expect(v.metric).toBe('r2');
      expect(v.cells[0][0]!.majority).toBeLessThanOrEqual(0); // the training mean scores R² ≤ 0 on held-out problems
    }
  });

  test('the capture folder has the documented layout and holds what the generator probes: residual stream and attention', async () => {
    const dir = path.join(dataDir, job.path, 'point-0');
    const meta = readCaptureMeta(dir);
    const arch = JSON.parse(fs.readFileSync(path.join(dataDir, 'runs', String(run.id), 'run.json'), 'utf8')).arch as GPT2Config;
    const { examples: N, seqLen: T } = meta;
    expect(N).toBe(64);
    expect(meta.layers).toBe(arch.nLayer + 1);
    for (let l = 0; l <= arch.nLayer; l++) expect(fs.statSync(path.join(dir, `hidden.${l}.f32`)).size).toBe(N * T * arch.nEmbd * 4);
    for (let l = 0; l < arch.nLayer; l++) expect(fs.statSync(path.join(dir, `attn.${l}.f32`)).size).toBe(N * arch.nHead * T * T * 4);
    expect(fs.statSync(path.join(dir, 'random', 'hidden.0.f32')).size).toBe(N * T * arch.nEmbd * 4);
    // Example 5 through the generator's probes variant: the same residual stream, float for float.
    const tokens = readTokens(dir, meta)[5];
    const checkpoint = listCheckpoints(path.join(dataDir, 'runs', String(run.id), 'checkpoints'))[0];
    const gen = Generator.create(arch, loadCheckpoint(checkpoint.path).params, { threads: 1 });
    try {
      const g = await gen.generate([tokens.ids], { maxNewTokens: 0, probes: true });
      const C = arch.nEmbd;
      for (let l = 0; l <= arch.nLayer; l++) {
        const file = fs.readFileSync(path.join(dir, `hidden.${l}.f32`));
        const all = new Float32Array(file.buffer, file.byteOffset, file.byteLength / 4);
        const mine = all.subarray(5 * T * C, 5 * T * C + tokens.ids.length * C);
        const theirs = g.probes![0].hidden[l];
        let worst = 0;
        for (let i = 0; i < mine.length; i++) worst = Math.max(worst, Math.abs(mine[i] - theirs[i]));
        expect(worst, `hidden.${l}`).toBeLessThan(1e-5);
      }
      for (let l = 0; l < arch.nLayer; l++) {
        const mine = readAttention(dir, meta, l, 5); // [H, S, S]
        const theirs = g.probes![0].attention[l];
        expect(mine).toHaveLength(theirs.length);
        let worst = 0;
        for (let i = 0; i < mine.length; i++) worst = Math.max(worst, Math.abs(mine[i] - theirs[i]));
        expect(worst, `attn.${l}`).toBeLessThan(1e-5);
      }
    } finally {
      await gen.release();
    }
    expect(readExamples(data.train)).toHaveLength(64);
  });

  test('the logit lens gives each layer × position its top tokens, probabilities and entropy', async () => {
    const lens = await client.call('probes.lens', { id: job.id, point: 2, example: 1 });
    const S = lens.tokens.length;
    expect(lens.slots).toHaveLength(S);
    expect(lens.top).toHaveLength(2);
    expect(lens.entropy[0]).toHaveLength(S);
    for (const layer of lens.top) for (const pos of layer) {
      expect(pos).toHaveLength(5);
      for (let k = 1; k < pos.length; k++) expect(pos[k].p).toBeLessThanOrEqual(pos[k - 1].p);
      expect(pos.reduce((s, x) => s + x.p, 0)).toBeLessThanOrEqual(1 + 1e-6);
    }
    for (const row of lens.entropy) for (const h of row) {
      expect(h).toBeGreaterThanOrEqual(0);
      expect(h).toBeLessThanOrEqual(Math.log2(17) + 1e-6);
    }
    await expect(client.call('probes.lens', { id: job.id, point: 0, example: 99 })).rejects.toThrow(/examples 0\.\.7, not 99/);
  });

  test('attention: every head, query rows summing to 1 over earlier keys', async () => {
    const a = await client.call('probes.attention', { id: job.id, point: 0, example: 3, layer: 0 });
    expect(a.heads).toBe(2);
    expect(a.blocks).toBe(1);
    const S = a.tokens.length;
    for (const head of a.weights) {
      expect(head).toHaveLength(S);
      head.forEach((row, q) => {
        expect(row.reduce((s, w) => s + w, 0)).toBeCloseTo(1, 3);
        for (let k = q + 1; k < S; k++) expect(row[k]).toBe(0);
      });
    }
    await expect(client.call('probes.attention', { id: job.id, layer: 1 })).rejects.toThrow(/blocks 0\.\.0, not 1/);
  });
});

describe('other inputs and requests', () => {
  test('a hand-typed input is captured for the lens and attention, with no probes to fit', async () => {
    const job = await finished(await client.call('probes.start', { source: { runId: run.id, checkpoints: 'latest' }, data: { text: '1 2 * 3 4' } }));
    expect(job.status).toBe('completed');
    expect(job.summary.targets).toEqual([]);
    const lens = await client.call('probes.lens', { id: job.id });
    expect(lens.tokens).toEqual(['1', '2', '*', '3', '4', '<eos>']);
    expect(lens.slots).toEqual(['input.0', 'input.1', 'input.2', 'input.3', 'input.4', 'eos.0']);
  });

  test('an unknown target or position is refused naming the field, and nothing is stored', async () => {
    const before = lab.store.probes.list(100, 0).total;
    const files = fs.readdirSync(dataDir, { recursive: true }).length;
    await expect(client.call('probes.start', { source: ofRun(), data: { file: data.train }, targets: ['pp9.d9'] })).rejects.toThrow(/probes\.start: the data offers no target "pp9\.d9" \(it offers pp0\.d0/);
    await expect(client.call('probes.start', { source: ofRun(), data: { file: data.train }, slots: ['cot.99'] })).rejects.toThrow(/no probed sequence has a position "cot\.99"/);
    await expect(client.call('probes.start', { source: ofRun(), data: { file: data.train }, patterns: [{ name: 'x', pattern: '(' }] })).rejects.toThrow(/pattern "\(" is not a regular expression/);
    await expect(client.call('probes.start', { source: { runId: 999 }, data: { file: data.train } })).rejects.toThrow(/there is no run 999/);
    expect(lab.store.probes.list(100, 0).total).toBe(before);
    expect(fs.readdirSync(dataDir, { recursive: true }).length).toBe(files);
  });

  test('a pattern target from the CoT text is probed as a class', async () => {
    const est = await client.call('probes.estimate', { source: { runId: run.id, checkpoints: 'latest' }, data: { file: data.train }, patterns: [{ name: 'first', pattern: '^(\\d)', group: 1 }], targets: ['first'] });
    expect(est.targets).toEqual(['first']);
    expect(est.available.find((t) => t.name === 'first')!.description).toBe('group 1 of match 1 of /^(\\d)/ in the cot');
  });

  test('cancelling stops a job after its current fit; deleting removes its files and row', async () => {
    const started = await client.call('probes.start', { source: ofRun(), data: { file: data.train }, seeds: 5 });
    const cancelled = await client.call('probes.cancel', { id: started.id });
    expect(cancelled.status).toBe('cancelled');
    await expect(client.call('probes.cancel', { id: started.id })).rejects.toThrow(/is cancelled, not running/);
    const folder = path.join(dataDir, cancelled.path);
    expect(fs.existsSync(folder)).toBe(true);
    const freed = await client.call('probes.delete', { id: started.id });
    expect(freed.bytesFreed).toBeGreaterThan(0);
    expect(fs.existsSync(folder)).toBe(false);
    await expect(client.call('probes.get', { id: started.id })).rejects.toThrow(/there is no probe job/);
  });
});
