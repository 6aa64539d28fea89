/**
 * Writes test/fixtures/malformed/: broken files for every import path, each
 * listed in manifest.json with the paths it goes through and the words its
 * refusal must contain. `npm run test:faults` feeds every file to each of its
 * paths and expects a typed error naming the file, short, changing nothing.
 *
 *   node scripts/make-malformed-corpus.ts
 *
 * Deterministic: running it again writes the same bytes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const OUT = fileURLToPath(new URL('../test/fixtures/malformed/', import.meta.url));

/** Where a file goes: a data file (datasets.import, excludePaths, a run's train), a task file, a safetensors file in a model folder, or a run config (stepwise train). */
type Path = 'datasets.import' | 'excludePaths' | 'runs.start' | 'finetune.importTask' | 'models.import' | 'stepwise train';

interface Entry {
  file: string;
  paths: Path[];
  /** Words the refusal must contain (besides the file's path). */
  says: string;
}

const entries: Entry[] = [];
const EXAMPLES: Path[] = ['datasets.import', 'excludePaths', 'runs.start'];

function write(file: string, bytes: string | Buffer, paths: Path[], says: string): void {
  const at = path.join(OUT, file);
  fs.mkdirSync(path.dirname(at), { recursive: true });
  fs.writeFileSync(at, bytes);
  entries.push({ file, paths, says });
}

const GOOD = '5 6 * 7 8||5 3 4 + 0 5 6 4 #### 5 8 0 4';
const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

// Example files: the paper's lines, or JSONL {question, rationale?, answer}.
// (An empty exclusion list is fine: it excludes nothing.)
write('examples/empty.txt', '', ['datasets.import'], 'expected at least one example, found none');
write('examples/blank-lines.txt', '\n   \n\t\n', ['datasets.import'], 'expected at least one example, found none');
write('examples/empty-train.txt', '', ['runs.start'], 'expected at least one training example, found none');
write('examples/no-separator.txt', `${GOOD}\n5 6 * 7 8 #### 1\n`, EXAMPLES, ":2: expected one '||'");
write('examples/two-separators.txt', `5 6 * 7 8||a||b #### 1\n`, EXAMPLES, ":1: expected one '||'");
write('examples/no-answer.txt', `${GOOD}\n${GOOD}\n5 6 * 7 8||5 3 4\n`, EXAMPLES, ":3: expected '#### answer'");
write('examples/empty-answer.txt', '5 6 * 7 8||5 3 4 #### \n', EXAMPLES, ":1: expected an answer after '####'");
write('examples/empty-input.txt', '||5 3 4 #### 5\n', EXAMPLES, ":1: expected an input before '||'");
write('examples/bad-utf8.txt', bytes(`${GOOD}\n5 6 * 7 8||`, [0xc3, 0x28], ' #### 1\n'), EXAMPLES, ':2: expected valid UTF-8 text');
write('examples/latin1.txt', bytes('caf', [0xe9], `||x #### 1\n${GOOD}\n`), EXAMPLES, ':1: expected valid UTF-8 text');
write('examples/overlong-line.txt', `${'7 '.repeat(50_000)}\n`, EXAMPLES, ":1: expected one '||'");
write('examples/truncated.jsonl', '{"question": "5 6 * 7 8", "answer": ', EXAMPLES, ':1: expected a JSON object');
write('examples/array.jsonl', '[1, 2, 3]\n', EXAMPLES, ':1: expected a JSON object');
write('examples/no-question.jsonl', '{"answer": "5"}\n', EXAMPLES, ':1: expected "question" to be a non-empty string');
write('examples/number-question.jsonl', '{"question": 5, "answer": "5"}\n', EXAMPLES, ':1: expected "question" to be a non-empty string');
write('examples/deep.jsonl', `{"question": ${'['.repeat(2000)}${']'.repeat(2000)}, "answer": "1"}\n`, EXAMPLES, ':1: expected "question" to be a non-empty string');
write('examples/lone-surrogate.jsonl', '{"question": "5 6 * 7 8 \\ud800", "answer": "1"}\n', EXAMPLES, ':1: expected "question" to be text without NUL characters or broken Unicode');
write('examples/nul-escape.jsonl', '{"question": "5 6 * 7 8", "answer": "1\\u0000"}\n', EXAMPLES, ':1: expected "answer" to be text without NUL characters or broken Unicode');
write('examples/not-multiplication.txt', 'what is 2 + 3?||2 + 3 = 5 #### 5\n', ['excludePaths'], ":1: expected a multiplication input like '7 6 9 2 * 1 6 3 6'");

// Fine-tune-CoT task files: JSONL (the paper's, or question/answer) or CSV.
const TASK: Path[] = ['finetune.importTask'];
write('tasks/empty.jsonl', '', TASK, 'expected at least one example, found none');
write('tasks/not-json.jsonl', '{"question": "q", "answer": "a"}\nquestion: q, answer: a\n', TASK, ':2: expected a JSON object with "question" and "answer"');
write('tasks/array.jsonl', '[["q", "a"]]\n', TASK, ':1: expected a JSON object with "question" and "answer"');
write('tasks/no-answer.jsonl', '{"question": "q"}\n', TASK, ':1: expected "answer" to be a non-empty string or a number');
write('tasks/empty-question.jsonl', '{"question": "  ", "answer": "a"}\n', TASK, ':1: expected "question" to be a non-empty string');
write('tasks/teacher-no-rationale.jsonl', '{"question": "q", "answer": "a", "teacher": {"model": "m"}}\n', TASK, ':1: expected "teacher.rationale" to be a string');
write('tasks/bad-utf8.jsonl', bytes('{"question": "q", "answer": "a"}\n{"question": "', [0xff], '", "answer": "a"}\n'), TASK, ':2: is not valid UTF-8 text');
write('tasks/lone-surrogate.jsonl', '{"question": "\\udc00 q", "answer": "a"}\n', TASK, ':1: expected "question" and "answer" to be text without NUL characters or broken Unicode');
write('tasks/unclosed-quote.csv', 'question,answer\n"what is it,a\n', TASK, 'a quoted field is never closed');
write('tasks/no-question-column.csv', 'prompt,answer\nq,a\n', TASK, 'expected a header naming "question" and "answer" columns');
write('tasks/wrong-field-count.csv', 'question,answer\nq,a,extra\n', TASK, ':2: expected 2 fields as in the header, got 3');

// safetensors files, each the model.safetensors of an otherwise good GPT-2 folder.
const MODEL: Path[] = ['models.import'];
function safetensors(header: unknown, data: number, headerBytes?: Buffer): Buffer {
  const json = headerBytes ?? Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, Buffer.alloc(data)]);
}
const tensor = (extra: Record<string, unknown>) => ({ 'wte.weight': { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16], ...extra } });
write('safetensors/too-short.safetensors', Buffer.from([1, 2, 3]), MODEL, 'too short to be a safetensors file');
write('safetensors/header-length-huge.safetensors', safetensors(null, 0, Buffer.from('{}')).fill(0xff, 0, 8), MODEL, 'does not fit in');
write('safetensors/header-not-json.safetensors', safetensors(null, 0, Buffer.from('{"wte.weight": {')), MODEL, 'header is not valid JSON');
write('safetensors/header-array.safetensors', safetensors([1, 2], 0), MODEL, 'header must be a JSON object of tensors');
write('safetensors/shape-string.safetensors', safetensors(tensor({ shape: 'abc' }), 16), MODEL, `tensor 'wte.weight' in the header: expected "shape" to be a list of at most 16 non-negative integers`);
write('safetensors/shape-negative.safetensors', safetensors(tensor({ shape: [-2, 2] }), 16), MODEL, `expected "shape" to be a list of at most 16 non-negative integers`);
write('safetensors/offsets-missing.safetensors', safetensors(tensor({ data_offsets: undefined }), 16), MODEL, `expected "data_offsets" to be a list of two integers`);
write('safetensors/offsets-outside.safetensors', safetensors(tensor({ data_offsets: [0, 1600] }), 16), MODEL, 'outside the file');
write('safetensors/dtype-unknown.safetensors', safetensors(tensor({ dtype: 'Q4' }), 16), MODEL, 'unsupported dtype Q4');
write('safetensors/dtype-number.safetensors', safetensors(tensor({ dtype: 7 }), 16), MODEL, `expected "dtype" to be a string`);
write('safetensors/byte-count.safetensors', safetensors(tensor({ data_offsets: [0, 12] }), 16), MODEL, 'has 12 bytes, expected 16');

// Run configs for `stepwise train` (its data paths, relative to the config, name the good files written beside it by the test).
const TRAIN: Path[] = ['stepwise train'];
const config = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    recipe: 'icot-si',
    model: { kind: 'fresh', layers: 1, dim: 32, heads: 2, seed: 1 },
    data: { train: 'train.txt', valid: 'train.txt' },
    train: { epochs: 1, batchSize: 4, lr: 1e-3 },
    ...extra,
  });
write('configs/not-json.json', config().slice(0, -10), TRAIN, 'is not valid JSON');
write('configs/array.json', '[{"recipe": "icot-si"}]', TRAIN, 'must hold a JSON object');
write('configs/deep.json', `{"model": ${'['.repeat(3000)}${']'.repeat(3000)}}`, TRAIN, 'nests deeper than 64 levels');
write('configs/bad-utf8.json', bytes('{\n  "recipe": "icot-si",\n  "name": "', [0xc0, 0xaf], '"\n}\n'), TRAIN, ':3: is not valid UTF-8 text');
write('configs/proto.json', config().replace('"model":{', '"model":{"__proto__":{"layers":96},'), TRAIN, 'model.__proto__: the key "__proto__" is not allowed');
write('configs/constructor.json', config({ constructor: { name: 'x' } }), TRAIN, 'constructor: the key "constructor" is not allowed');
write('configs/unknown-field.json', config({ epochz: 3 }), TRAIN, 'epochz');
write('configs/wrong-type.json', config({ train: { epochs: 'ten', batchSize: 4, lr: 1e-3 } }), TRAIN, 'train.epochs');
write('configs/bad-data-line.json', config({ data: { train: '../examples/no-answer.txt', valid: 'train.txt' } }), TRAIN, "no-answer.txt:3: expected '#### answer'");

fs.writeFileSync(path.join(OUT, 'manifest.json'), `${JSON.stringify(entries, null, 2)}\n`);
fs.writeFileSync(path.join(OUT, 'configs', 'train.txt'), `${GOOD}\n${GOOD.replace('5 6', '6 5')}\n`);
console.log(`wrote ${entries.length} malformed files and manifest.json to ${path.relative(process.cwd(), OUT)}`);
