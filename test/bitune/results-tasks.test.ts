/**
 * The generated tasks of the Bitune experiment (reading-tasks.ts): the same
 * seed writes the same examples, and every answer is the one its question
 * asks for.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { choiceTask, lookupTask, READING_TASKS, readingTask, writeReadingTask } from './reading-tasks.ts';

describe('the reading tasks', () => {
  it('are a function of count and seed: the same seed gives the same examples, another seed others', () => {
    for (const task of READING_TASKS) {
      expect(readingTask(task, 50, 3), task).toEqual(readingTask(task, 50, 3));
      expect(readingTask(task, 50, 4), task).not.toEqual(readingTask(task, 50, 3));
      expect(readingTask(task, 80, 3).slice(0, 50), task).toEqual(readingTask(task, 50, 3)); // a longer stream starts the same
    }
  });

  it('lookup asks for one of six distinct letters after the pairs, and answers its digit', () => {
    for (const { question, answer } of lookupTask(200, 0)) {
      const m = /^((?:[a-h] \d ){6})\? ([a-h])$/.exec(question)!;
      expect(m, question).not.toBeNull();
      const pairs = m[1].trim().split(' ');
      const keys = pairs.filter((_, i) => i % 2 === 0);
      expect(new Set(keys).size).toBe(6);
      expect(answer).toBe(pairs[pairs.indexOf(m[2]) + 1]);
    }
  });

  it('choice puts the options after the question, choice-late before it, and the answer is the letter of the largest or smallest', () => {
    const early = choiceTask(200, 0);
    const late = choiceTask(200, 0, true);
    for (const [i, { question, answer }] of early.entries()) {
      const m = /^(largest|smallest) of A (\d) B (\d) C (\d) D (\d)$/.exec(question)!;
      expect(m, question).not.toBeNull();
      const digits = m.slice(2, 6).map(Number);
      expect(new Set(digits).size).toBe(4);
      const target = m[1] === 'largest' ? Math.max(...digits) : Math.min(...digits);
      expect(answer).toBe('ABCD'[digits.indexOf(target)]);
      expect(late[i]).toEqual({ question: `A ${digits[0]} B ${digits[1]} C ${digits[2]} D ${digits[3]} ${m[1]}`, answer });
    }
    expect(new Set(early.map((e) => e.question.split(' ')[0]))).toEqual(new Set(['largest', 'smallest']));
  });

  it('are written as train and test JSONL: the first examples of the stream, then the next', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-reading-tasks-'));
    try {
      const files = writeReadingTask('choice-late', dir, { train: 30, test: 10 });
      const read = (file: string) => fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown);
      const all = choiceTask(40, 0, true);
      expect(read(files.train)).toEqual(all.slice(0, 30));
      expect(read(files.test)).toEqual(all.slice(30));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
