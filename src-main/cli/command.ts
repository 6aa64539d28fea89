/**
 * What a `stepwise` command is: a name (one word, or two for a subcommand
 * such as `data mult`), its options (each with the line `--help` shows), the
 * arguments it takes, and what it does. Adding a command is one file in
 * ./commands/ and one line in ./commands/index.ts.
 */

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** The value's name in help, e.g. PORT. */
  value?: string;
  /** A string option that may be given several times; its value is then an array. */
  multiple?: boolean;
  description: string;
}

/** Options every command takes. */
export const COMMON_OPTIONS = {
  'data-dir': {
    type: 'string',
    value: 'DIR',
    description: 'Data folder (default: $STEPWISE_DATA_DIR, else the platform data folder, e.g. ~/.local/share/stepwise)',
  },
  help: { type: 'boolean', short: 'h', description: 'Show this help' },
} as const satisfies Record<string, OptionSpec>;

export type OptionValues<O extends Record<string, OptionSpec>> = {
  [K in keyof O]: O[K]['type'] extends 'boolean' ? boolean | undefined : O[K] extends { multiple: true } ? string[] | undefined : string | undefined;
};

/** An argument that is not an option, e.g. the FILE of `stepwise data import FILE`. */
export interface ArgumentSpec {
  /** As help shows it, e.g. FILE. */
  name: string;
  description: string;
  /** It may be left out (only the last arguments may be). */
  optional?: boolean;
}

export interface Command<O extends Record<string, OptionSpec>> {
  name: string;
  /** One line, shown in `stepwise --help`. */
  summary: string;
  /** The command's own options; COMMON_OPTIONS come on top. */
  options: O;
  /** Its arguments, in order (none if left out). */
  args?: ArgumentSpec[];
  /** Answers the process exit code. `args` has one value per ArgumentSpec given (every required one). */
  run(values: OptionValues<O & typeof COMMON_OPTIONS>, args: string[]): Promise<number>;
}

/** A command as the registry holds it, its option types erased. */
export interface AnyCommand {
  name: string;
  summary: string;
  options: Record<string, OptionSpec>;
  args?: ArgumentSpec[];
  run(values: Record<string, string | boolean | string[] | undefined>, args: string[]): Promise<number>;
}

/** Checks a command's `run` against its own options, then erases them for the registry. */
export function defineCommand<const O extends Record<string, OptionSpec>>(command: Command<O>): AnyCommand {
  return command as unknown as AnyCommand;
}

/** A mistake in how the command was called: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
