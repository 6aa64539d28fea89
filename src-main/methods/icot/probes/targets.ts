/**
 * The multiplication targets of ICoT probes: multiplication in the ICoT
 * papers' format (../mult.ts) gives the chain of thought that ICoT-SI
 * removes, digit by digit:
 * - `pp<i>.d<j>`: digit j (least significant first) of partial product i (a·bᵢ·10ⁱ);
 * - `sum<i>.d<j>`: digit j of the running sum written after partial product i;
 * - `ans.d<j>`: digit j of the answer;
 * each a class 0–9, with `cot` naming the CoT token that writes it (`cot.6`), and
 * the same numbers whole as values (`pp<i>`, `sum<i>`, `ans`; digits read
 * least significant first) for ridge probes; and the running sums
 * `chat<k>` = ĉ_k = s_k + r_{k−1} of Bai et al. (2025) as values, one per answer
 * digit (../running-sum.ts), which the running-sum auxiliary loss trains a probe on.
 */
import type { Target } from '../../../engine/probes/targets.ts';
import type { CotExample } from '../../shared/examples.ts';
import { parseMultInput } from '../mult.ts';
import { runningSums } from '../running-sum.ts';

/** One CoT segment of a multiplication: its digits and where its first digit sits in the CoT tokens. */
interface Segment {
  name: string;
  description: string;
  digits: number[];
  at: number;
}

/** The partial products, running sums and answer of a multiplication example, or null if it is not one. */
function multSegments(ex: CotExample): Segment[] | null {
  if (!parseMultInput(ex.input)) return null;
  const tokens = ex.cot.split(/\s+/).filter(Boolean);
  const segments: Segment[] = [];
  let i = 0;
  let part = 0;
  const digitsFrom = (start: number) => {
    let end = start;
    while (end < tokens.length && /^\d$/.test(tokens[end])) end++;
    return tokens.slice(start, end).map(Number);
  };
  while (i < tokens.length) {
    const digits = digitsFrom(i);
    if (digits.length === 0) return null;
    segments.push({ name: `pp${part}`, description: `partial product ${part}`, digits, at: i });
    i += digits.length;
    if (tokens[i] === '(') {
      const sum = digitsFrom(i + 1);
      if (sum.length === 0 || tokens[i + 1 + sum.length] !== ')') return null;
      segments.push({ name: `sum${part}`, description: `running sum after partial product ${part}`, digits: sum, at: i + 1 });
      i += sum.length + 2;
    }
    if (i < tokens.length) {
      if (tokens[i] !== '+') return null;
      i++;
    }
    part++;
  }
  const answer = ex.answer.split(/\s+/).filter(Boolean);
  if (!answer.every((t) => /^\d$/.test(t))) return null;
  segments.push({ name: 'ans', description: 'answer', digits: answer.map(Number), at: -1 });
  return segments;
}

/** A number from digits written least significant first. */
function valueOf(digits: number[]): number {
  let v = 0;
  for (let j = digits.length - 1; j >= 0; j--) v = v * 10 + digits[j];
  return v;
}

/**
 * The multiplication targets of `examples`, in CoT order then the answer; empty
 * when any example is not multiplication in the papers' format.
 */
export function multTargets(examples: CotExample[]): Target[] {
  const parsed = examples.map(multSegments);
  if (parsed.length === 0 || parsed.some((p) => p === null)) return [];
  const first = parsed[0]!;
  // Every example of one size has the same segments; a mixed file keeps what they share.
  const shape = (s: Segment[]) => s.map((x) => `${x.name}:${x.digits.length}`).join(',');
  if (parsed.some((p) => shape(p!) !== shape(first))) return [];
  const classes: Target[] = [];
  const values: Target[] = [];
  first.forEach((seg, s) => {
    seg.digits.forEach((_, j) => {
      classes.push({
        name: `${seg.name}.d${j}`,
        kind: 'class',
        description: `digit ${j} of the ${seg.description} (least significant first)`,
        labels: parsed.map((p) => String(p![s].digits[j])),
        cotSlot: seg.at >= 0 ? `cot.${seg.at + j}` : undefined,
      });
    });
    values.push({ name: seg.name, kind: 'value', description: `the ${seg.description}, as a number`, labels: parsed.map((p) => valueOf(p![s].digits)) });
  });
  const sums = examples.map((ex) => {
    const { a, b } = parseMultInput(ex.input)!;
    return runningSums(a, b);
  });
  const runningSumTargets: Target[] = sums[0].map((_, k) => ({
    name: `chat${k}`,
    kind: 'value',
    description: `ĉ_${k} = s_${k} + r_${k - 1}, the running sum behind answer digit ${k} (Bai et al. 2025; the answer's token of digit ${k} is answer.${k + 1})`,
    labels: sums.map((s) => s[k] ?? null),
  }));
  return [...classes, ...values, ...runningSumTargets];
}
