/**
 * The presets New run's Load offers are the configs shipped in
 * resources/configs: every config there is listed once with a title, names
 * its method by its fields, and is a valid config of that method.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { methodById } from '../../src-main/methods/index.ts';
import { readPresets } from '../../src-main/services/presets.ts';

const CONFIGS = new URL('../../resources/configs/', import.meta.url).pathname;

describe('shipped presets', () => {
  test('every config in resources/configs is a titled preset that its method accepts', () => {
    const { items, problems } = readPresets();
    expect(problems).toEqual([]);
    const files = fs.readdirSync(CONFIGS).filter((f) => f.endsWith('.json') && f !== 'presets.json').sort();
    expect(items.map((p) => p.file).sort()).toEqual(files);
    for (const p of items) {
      expect(p.title.length, p.file).toBeGreaterThan(20);
      const method = methodById(p.method)!;
      const parsed = method.schema.safeParse(p.config);
      expect(parsed.success ? [] : parsed.error.issues.map((i) => `${p.file}: ${i.path.join('.')}: ${i.message}`)).toEqual([]);
    }
    expect(items.find((p) => p.file === 'icot-4x4-cpu.json')).toMatchObject({ method: 'icot-si', config: { recipe: 'icot-si', curriculum: { side: 'right' } } });
  });

  test('a presets list naming a missing file says which, and lists the rest', () => {
    const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'stepwise-presets-'));
    try {
      fs.copyFileSync(path.join(CONFIGS, 'icot-2x2-cpu.json'), path.join(dir, 'icot-2x2-cpu.json'));
      fs.writeFileSync(path.join(dir, 'presets.json'), JSON.stringify([{ file: 'icot-2x2-cpu.json', title: 'two by two' }, { file: 'gone.json', title: 'missing' }]));
      const { items, problems } = readPresets(`${dir}/`);
      expect(items.map((p) => p.title)).toEqual(['two by two']);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^gone\.json: ENOENT/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
