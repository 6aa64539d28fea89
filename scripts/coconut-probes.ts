/**
 * Probes on a Coconut model's continuous thoughts (issue 21; a script, not a test): the logit lens
 * on each thought and linear probes of the multiplication's digits from the thought vectors.
 *
 *   node scripts/coconut-probes.ts MODEL_FOLDER DATA_FILE THOUGHTS [LIMIT]
 *   node scripts/coconut-probes.ts /tmp/coconut-4x4/coconut/best ../shared/data/icot/4_by_4_mult/test.txt 3 500
 *
 * MODEL_FOLDER is a Coconut run's best/ (its stepwise-tokenizer.json has the markers); THOUGHTS is
 * the number its last stage uses. Prints, per thought, the lens's most frequent top-1 tokens and
 * how often it is the first token of that step, then each thought's best-probed digits
 * (held-out accuracy by problem, against the majority baseline and the control task).
 */
import { loadModelFolder } from '../src-main/engine/hf/model-folder.ts';
import { folderTokenizer } from '../src-main/engine/tokenizers/spec.ts';
import { markersOf } from '../src-main/methods/coconut/layout.ts';
import { probeThoughts } from '../src-main/methods/coconut/probes.ts';
import { readExamples } from '../src-main/methods/shared/examples.ts';

const [folder, data, thoughts, limit] = process.argv.slice(2);
if (!folder || !data || !thoughts) {
  process.stderr.write('usage: node scripts/coconut-probes.ts MODEL_FOLDER DATA_FILE THOUGHTS [LIMIT]\n');
  process.exit(2);
}
const model = loadModelFolder(folder);
const tok = folderTokenizer(model.dir, model.tokenizer);
const examples = readExamples(data).slice(0, limit ? Number(limit) : 500);
const r = await probeThoughts(model.config, model.params, tok, markersOf(tok, 'continuous'), examples, { n: Number(thoughts), threads: 2 });
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
process.stdout.write(`${r.examples} examples, ${thoughts} thoughts\n\nlogit lens\n| thought | top-1 tokens (share) | top-1 = first token of that step |\n|---|---|---|\n`);
for (const l of r.lens) process.stdout.write(`| ${l.thought} | ${l.top.map((t) => `${t.token} ${pct(t.share)}`).join(', ')} | ${pct(l.matchesStep)} |\n`);
process.stdout.write('\nprobes (held-out accuracy; majority; control)\n| thought | best targets |\n|---|---|\n');
for (let k = 1; k <= Number(thoughts); k++) {
  const best = r.cells.filter((c) => c.thought === k).sort((a, b) => b.selectivity - a.selectivity).slice(0, 5);
  process.stdout.write(`| ${k} | ${best.map((c) => `${c.target} ${pct(c.score)} (${pct(c.majority)}; ${pct(c.control)})`).join(', ')} |\n`);
}
