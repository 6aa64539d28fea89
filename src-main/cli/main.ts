/**
 * The `stepwise` command line: finds the command, parses its flags strictly
 * (node:util parseArgs), runs it, and answers the exit code: 0 done, 1 failed,
 * 2 called wrongly (unknown command or flag, bad value).
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import pkg from '../../package.json' with { type: 'json' };
import { COMMON_OPTIONS, UsageError } from './command.ts';
import type { AnyCommand, ArgumentSpec, OptionSpec } from './command.ts';
import { COMMANDS } from './commands/index.ts';
import { loadMethodModules } from '../methods/index.ts';

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(overview());
    return 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  // A subcommand (`data mult`) is a command named by two words.
  const sub = COMMANDS.find((c) => rest.length > 0 && c.name === `${name} ${rest[0]}`);
  const command = sub ?? COMMANDS.find((c) => c.name === name);
  if (!command) {
    const family = COMMANDS.filter((c) => c.name.startsWith(`${name} `)).map((c) => c.name);
    const what = name.startsWith('-')
      ? `unknown option ${name}`
      : family.length > 0
        ? `"${name}" needs one of ${family.join(', ')}${rest[0] && !rest[0].startsWith('-') ? ` (got "${name} ${rest[0]}")` : ''}`
        : `unknown command "${name}"`;
    process.stderr.write(`stepwise: ${what}. Commands: ${COMMANDS.map((c) => c.name).join(', ')}. Run \`stepwise --help\` for more.\n`);
    return 2;
  }

  const options = { ...command.options, ...COMMON_OPTIONS };
  let values: Record<string, string | boolean | string[] | undefined>;
  let positionals: string[];
  try {
    const parsed = parseArgs({ args: sub ? rest.slice(1) : rest, options: toParseArgs(options), strict: true, allowPositionals: Boolean(command.args?.length) });
    // Only `multiple` string options give arrays, and those hold strings.
    values = parsed.values as Record<string, string | boolean | string[] | undefined>;
    positionals = parsed.positionals;
  } catch (error) {
    process.stderr.write(`stepwise ${command.name}: ${describeParseError(error)}. Run \`stepwise ${command.name} --help\` for its options.\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(help(command));
    return 0;
  }
  // Methods of the user's own, beside the built-in ones (src-main/methods/index.ts).
  if (process.env.STEPWISE_METHODS) {
    try {
      await loadMethodModules(process.env.STEPWISE_METHODS);
    } catch (error) {
      process.stderr.write(`stepwise ${command.name}: ${(error as Error).message}\n`);
      return 2;
    }
  }
  const expected = command.args ?? [];
  const required = expected.filter((a) => !a.optional).length;
  if (positionals.length < required || positionals.length > expected.length) {
    const names = expected.map(usageName).join(' ');
    const problem =
      positionals.length < required
        ? `expected ${names}, got ${positionals.length === 0 ? 'nothing' : `only "${positionals.join(' ')}"`}`
        : `expected only ${names}, got also "${positionals.slice(expected.length).join(' ')}"`;
    process.stderr.write(`stepwise ${command.name}: ${problem}. Run \`stepwise ${command.name} --help\` for its options.\n`);
    return 2;
  }
  try {
    return await command.run(values, positionals);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`stepwise ${command.name}: ${error.message}. Run \`stepwise ${command.name} --help\` for its options.\n`);
      return 2;
    }
    process.stderr.write(`stepwise ${command.name}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

function toParseArgs(options: Record<string, OptionSpec>) {
  return Object.fromEntries(
    Object.entries(options).map(([name, spec]) => [
      name,
      { type: spec.type, ...(spec.short ? { short: spec.short } : {}), ...(spec.multiple ? { multiple: true } : {}) },
    ]),
  );
}

/** parseArgs says e.g. "Unknown option '--bogus'. To specify a positional…"; keep the part that names the flag. */
function describeParseError(error: unknown): string {
  const { code, message } = error as { code?: string; message: string };
  const quoted = /'([^']+)'/.exec(message)?.[1];
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${quoted}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument "${quoted}" (this command takes options only)`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return message.replace(/\.$/, '');
    default:
      return message;
  }
}

function optionLines(options: Record<string, OptionSpec>): string {
  const rows = Object.entries(options).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.value ? ` ${spec.value}` : ''}`;
    return [flag, spec.description] as const;
  });
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  return rows.map(([flag, description]) => `  ${flag.padEnd(width)}${description}\n`).join('');
}

function help(command: AnyCommand): string {
  const args = command.args ?? [];
  const usage = `Usage: stepwise ${command.name}${args.map((a) => ` ${usageName(a)}`).join('')} [options]\n\n${command.summary}\n\n`;
  const argLines = args.length ? `Arguments:\n${args.map((a) => `  ${a.name.padEnd(10)}${a.description}\n`).join('')}\n` : '';
  return `${usage}${argLines}Options:\n${optionLines({ ...command.options, ...COMMON_OPTIONS })}`;
}

/** FILE, or [FILE] when it may be left out. */
function usageName(arg: ArgumentSpec): string {
  return arg.optional ? `[${arg.name}]` : arg.name;
}

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return (
    `Stepwise ${pkg.version}: a lab for teaching small language models to reason, and then to reason silently.\n\n` +
    'Usage: stepwise <command> [options]\n\nCommands:\n' +
    COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}\n`).join('') +
    '\nEnvironment:\n' +
    '  STEPWISE_DATA_DIR  the data folder (runs, models, datasets), unless --data-dir gives one\n' +
    `  STEPWISE_METHODS   method modules of your own to load beside the built-in ones, separated by "${path.delimiter}" (each exports a method definition: see docs/ARCHITECTURE.md)\n` +
    '\nRun `stepwise <command> --help` for a command\'s options.\n'
  );
}
