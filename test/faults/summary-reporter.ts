/**
 * The fault suite's last words: per group, its attempts, clean attempts and
 * failures (from ./counts.ts), then `N passed, N failed` over the suite's
 * tests, as the very last line.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';
import type { GroupCounts } from './counts.ts';

export class FaultSummary implements Reporter {
  private readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const groups: GroupCounts[] = fs.existsSync(this.dir)
      ? fs.readdirSync(this.dir).filter((f) => f.endsWith('.json')).sort().map((f) => JSON.parse(fs.readFileSync(path.join(this.dir, f), 'utf8')) as GroupCounts)
      : [];
    let passed = 0;
    let failed = 0;
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
      }
      if (m.state() === 'failed' && [...m.children.allTests()].every((t) => t.result().state !== 'failed')) failed++; // a file that failed outside its tests
    }
    const lines = ['', 'Fault injection, per group:'];
    for (const g of groups) {
      lines.push(`  ${g.group}: ${g.attempts} attempts, ${g.clean} clean, ${g.failures.length} failures`);
      for (const f of g.failures.slice(0, 10)) lines.push(`    ${f.slice(0, 300)}`);
    }
    lines.push(`${passed} passed, ${failed} failed`);
    process.stdout.write(`${lines.join('\n')}\n`);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
