/**
 * Probe targets: one label per example, read from its text. A method gives
 * its own (ICoT-SI's multiplication digits: methods/icot/probes/targets.ts);
 * any data set also takes user-defined targets: a regular expression run over
 * the input, the CoT or the answer; the chosen group of the chosen match is the
 * label (a class), or its number (a value). An example where it does not match
 * has no label and is left out of that target's probes.
 */

export type TargetKind = 'class' | 'value';

/** An example as probes read it: its input (which also groups examples for the cross-validation), its CoT and its answer, as text. */
export interface ProbeExample {
  input: string;
  cot: string;
  answer: string;
}

export interface Target {
  name: string;
  kind: TargetKind;
  /** In words, for legends. */
  description: string;
  /** Per example: the label (a class name or a number), or null where it is undefined. */
  labels: (string | number | null)[];
  /** The CoT slot where the text writes it (multiplication digits), e.g. `cot.6`. */
  cotSlot?: string;
}

export interface PatternTarget {
  name: string;
  source: 'input' | 'cot' | 'answer';
  /** A JavaScript regular expression. */
  pattern: string;
  /** Which match (0 = the first). */
  occurrence: number;
  /** Which group (0 = the whole match). */
  group: number;
  kind: TargetKind;
}

/** A user-defined target; throws naming the field when the pattern is not a valid regular expression. */
export function patternTarget(spec: PatternTarget, examples: ProbeExample[]): Target {
  let re: RegExp;
  try {
    re = new RegExp(spec.pattern, 'g');
  } catch (error) {
    throw new Error(`target "${spec.name}": pattern ${JSON.stringify(spec.pattern)} is not a regular expression (${(error as Error).message})`);
  }
  const labels = examples.map((ex) => {
    const matches = [...ex[spec.source].matchAll(re)];
    const m = matches[spec.occurrence];
    const text = m?.[spec.group];
    if (text === undefined) return null;
    if (spec.kind === 'class') return text;
    const v = Number(text.replaceAll(',', ''));
    return Number.isFinite(v) ? v : null;
  });
  return {
    name: spec.name,
    kind: spec.kind,
    description: `group ${spec.group} of match ${spec.occurrence + 1} of /${spec.pattern}/ in the ${spec.source}`,
    labels,
  };
}
