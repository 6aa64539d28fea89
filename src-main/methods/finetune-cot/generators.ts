/**
 * Generated tasks, worded as the paper's datasets word them (Kojima et al.
 * 2022 for Last Letter Concatenation and Coin Flip, BIG-bench for Tracking
 * Shuffled Objects), each question with its gold answer and a reference
 * rationale written step by step, so that a lab model can be trained with
 * explicit CoT and teach. Seeded: the same options give the same examples;
 * train and test never share a question.
 *
 *   last-letters      "Take the last letters of each words in "A B C D" and concatenate them."
 *   coin-flip         "A coin is heads up. X flips the coin. … Is the coin still heads up? …"
 *   shuffled-objects  three people, three balls, three swaps; answer (A)–(C)
 *   arithmetic        multi-digit addition "What is 47 + 85?", the rationale adding
 *                     column by column from the ones with the carry; with more than
 *                     two numbers ("What is 3 + 8 + 5 + 1?") a running sum; with
 *                     lastDigit ("What is the last digit of 3 + 8 + 5 + 1?") a running
 *                     sum kept to its last digit, "3 + 8 = 11. 1 + 5 = 6." (each step adds to
 *                     the last digit of the one before: a lookup the rationale spells
 *                     out, while the answer alone depends on every number at once)
 */
import { Rng } from '../../engine/init.ts';
import type { AnswerType } from './answers.ts';
import type { Task, TaskExample } from './tasks.ts';

export const GENERATED_TASKS = ['last-letters', 'coin-flip', 'shuffled-objects', 'arithmetic'] as const;
export type GeneratedTaskKind = (typeof GENERATED_TASKS)[number];

export interface GenerateTaskOptions {
  kind: GeneratedTaskKind;
  counts: { train: number; test: number };
  seed: number;
  /** last-letters: words per question (paper: 4); coin-flip: people (paper: 4); arithmetic: digits per number. */
  size?: number;
  /** arithmetic: how many numbers are added (default 2). */
  terms?: number;
  /** arithmetic: ask only for the last digit of the sum (modular arithmetic). */
  lastDigit?: boolean;
}

const ANSWER_TYPE: Record<GeneratedTaskKind, AnswerType> = { 'last-letters': 'text', 'coin-flip': 'yes-no', 'shuffled-objects': 'choice', arithmetic: 'number' };

const NAMES = [
  'Whitney', 'Erika', 'Tj', 'Benito', 'Lucky', 'Mireya', 'Lamont', 'Maria', 'Jeff', 'Jen', 'Giselle', 'Noel', 'Elias', 'Sandy', 'Kelvin', 'Tasha',
  'Dale', 'Shana', 'Paige', 'Jaime', 'Darnell', 'Ramon', 'Cheryl', 'Irma', 'Vito', 'Alberto', 'Rosa', 'Dean', 'Tracy', 'Dawn', 'Ebony', 'Cody',
  'Oscar', 'Bianca', 'Luis', 'Wendy', 'Hugo', 'Nadia', 'Felix', 'Greta', 'Ivan', 'Joyce', 'Kurt', 'Linda', 'Marco', 'Nina', 'Otto', 'Pearl',
];
const BALLS = ['red', 'orange', 'yellow', 'green', 'blue', 'purple', 'pink', 'white', 'black', 'brown'];
const PEOPLE = ['Alice', 'Bob', 'Claire'];

type Gen = (rng: Rng, size: number, terms: number, lastDigit: boolean) => TaskExample;

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)];
function distinct<T>(rng: Rng, xs: readonly T[], n: number): T[] {
  const pool = [...xs];
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(pool.splice(Math.floor(rng.next() * pool.length), 1)[0]);
  return out;
}

const lastLetters: Gen = (rng, size) => {
  const words = distinct(rng, NAMES, size);
  const answer = words.map((w) => w[w.length - 1]).join('').toLowerCase();
  const steps = words.map((w) => `The last letter of "${w}" is "${w[w.length - 1]}".`).join('\n');
  return {
    question: `Take the last letters of each words in "${words.join(' ')}" and concatenate them.`,
    answer,
    split: '',
    rationale: `${steps}\n\nSo, the final answer is "${answer}".`,
  };
};

const coinFlip: Gen = (rng, size) => {
  const people = distinct(rng, NAMES, size);
  let heads = true;
  const sentences: string[] = [];
  const steps: string[] = [];
  for (const p of people) {
    const flips = rng.next() < 0.5;
    if (flips) heads = !heads;
    sentences.push(flips ? `${p} flips the coin.` : `${p} does not flip the coin.`);
    steps.push(flips ? `${p} flips the coin, so it is now ${heads ? 'heads' : 'tails'} up.` : `${p} does not flip the coin, so it stays ${heads ? 'heads' : 'tails'} up.`);
  }
  const answer = heads ? 'yes' : 'no';
  return {
    question: `A coin is heads up. ${sentences.join(' ')} Is the coin still heads up? Note that "flip" here means "reverse".`,
    answer,
    split: '',
    rationale: `${steps.join('\n')}\nSo the coin is ${heads ? 'heads' : 'tails'} up, and the answer is ${answer}.`,
  };
};

const shuffledObjects: Gen = (rng) => {
  const balls = distinct(rng, BALLS, 3);
  const holding = [...balls];
  const order = ['First', 'Then', 'Finally'];
  const swaps: string[] = [];
  const steps: string[] = [];
  for (let s = 0; s < 3; s++) {
    const [a, b] = distinct(rng, [0, 1, 2], 2).sort();
    [holding[a], holding[b]] = [holding[b], holding[a]];
    swaps.push(`${order[s]}, ${PEOPLE[a]} and ${PEOPLE[b]} swap balls.`);
    steps.push(`${order[s]}, ${PEOPLE[a]} and ${PEOPLE[b]} swap balls: ${PEOPLE[a]} has the ${holding[a]} ball and ${PEOPLE[b]} has the ${holding[b]} ball.`);
  }
  const who = Math.floor(rng.next() * 3);
  const letter = 'ABC'[balls.indexOf(holding[who])];
  const question =
    `${PEOPLE.join(', ').replace(/, ([^,]*)$/, ', and $1')} are playing a game. At the start of the game, they are each holding a ball: ` +
    `${PEOPLE.map((p, i) => `${p} has a ${balls[i]} ball`).join(', ').replace(/, ([^,]*)$/, ', and $1')}. \n\n` +
    `As the game progresses, pairs of players trade balls. ${swaps.join(' ')} At the end of the game, ${PEOPLE[who]} has the \n` +
    `Which choice is true ? Answer Choices: ${balls.map((b, i) => `(${'ABC'[i]}) ${b} ball.`).join(' ')}`;
  return { question, answer: letter, split: '', rationale: `${steps.join('\n')}\nAt the end, ${PEOPLE[who]} has the ${holding[who]} ball, so the answer is (${letter}).` };
};

const arithmetic: Gen = (rng, size, terms, lastDigit) => {
  const lo = size === 1 ? 0 : 10 ** (size - 1);
  const xs = Array.from({ length: terms }, () => lo + Math.floor(rng.next() * (10 ** size - lo)));
  const total = xs.reduce((a, b) => a + b, 0);
  const steps: string[] = [];
  if (lastDigit) {
    // The running sum's last digit, one lookup per number.
    let digit = xs[0] % 10;
    for (const x of xs.slice(1)) {
      const s = digit + (x % 10);
      steps.push(`${digit} + ${x % 10} = ${s}.`);
      digit = s % 10;
    }
    return { question: `What is the last digit of ${xs.join(' + ')}?`, answer: String(digit), split: '', rationale: `${steps.join(' ')} The answer is ${digit}.` };
  }
  if (terms === 2) {
    // Two numbers: column by column from the ones, with the carry.
    const [da, db] = xs.map((x) => String(x).split('').reverse().map(Number));
    let carry = 0;
    for (let i = 0; i < size; i++) {
      const s = da[i] + db[i] + carry;
      steps.push(`${da[i]} + ${db[i]}${carry ? ` + ${carry}` : ''} = ${s}.`);
      carry = s >= 10 ? 1 : 0;
    }
  } else {
    // Several numbers: a running sum.
    let sum = xs[0];
    for (const x of xs.slice(1)) {
      steps.push(`${sum} + ${x} = ${sum + x}.`);
      sum += x;
    }
  }
  return { question: `What is ${xs.join(' + ')}?`, answer: String(total), split: '', rationale: `${steps.join(' ')} The answer is ${total}.` };
};

const GENERATORS: Record<GeneratedTaskKind, Gen> = { 'last-letters': lastLetters, 'coin-flip': coinFlip, 'shuffled-objects': shuffledObjects, arithmetic };
const DEFAULT_SIZE: Record<GeneratedTaskKind, number> = { 'last-letters': 4, 'coin-flip': 4, 'shuffled-objects': 3, arithmetic: 2 };

/** A generated task: `counts.train` then `counts.test` distinct questions. */
export function generateTask(opts: GenerateTaskOptions): Task {
  const size = opts.size ?? DEFAULT_SIZE[opts.kind];
  if (!Number.isInteger(size) || size < 1 || size > (opts.kind === 'arithmetic' ? 12 : opts.kind === 'shuffled-objects' ? 3 : 12)) {
    throw new Error(`size ${size} is out of range for ${opts.kind}`);
  }
  const rng = new Rng(opts.seed >>> 0);
  const gen = GENERATORS[opts.kind];
  const seen = new Set<string>();
  const examples: TaskExample[] = [];
  const wanted = opts.counts.train + opts.counts.test;
  let tries = 0;
  while (examples.length < wanted) {
    if (++tries > wanted * 50 + 1000) throw new Error(`${opts.kind} (size ${size}) has too few distinct questions for ${wanted} examples`);
    const ex = gen(rng, size, opts.terms ?? 2, opts.lastDigit ?? false);
    if (seen.has(ex.question)) continue;
    seen.add(ex.question);
    examples.push({ ...ex, split: examples.length < opts.counts.train ? 'train' : 'test' });
  }
  return { name: opts.kind, answerType: ANSWER_TYPE[opts.kind], examples };
}
