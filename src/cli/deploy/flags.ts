import { parseArgs } from 'node:util';

/** A refusal of the deploy commands' input: printed as is, exit code 2, nothing run. */
export class DeployUsageError extends Error {}

/** `value`: takes one value; `list`: takes a value, repeatable; `switch`: takes none. */
export type FlagKind = 'value' | 'list' | 'switch';

export interface ParsedFlags {
  values: Map<string, string>;
  lists: Map<string, string[]>;
  switches: Set<string>;
  help: boolean;
}

/**
 * Reads `--name value`, `--name=value` and bare switches. parseArgs does the splitting; the checks are ours, so that
 * each refusal names the flag in the words the usage text uses. As in a shell script, a value may not be empty or
 * start with `--` unless given inline (`--env=--odd`): `--project --region x` is a forgotten value, not a project.
 */
export function parseFlags(argv: string[], spec: Record<string, FlagKind>): ParsedFlags {
  const options = Object.fromEntries(
    Object.entries(spec).map(([name, kind]) => [name, kind === 'switch' ? { type: 'boolean' as const } : { type: 'string' as const, multiple: kind === 'list' }]),
  );
  const { tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  const parsed: ParsedFlags = { values: new Map(), lists: new Map(), switches: new Set(), help: false };
  for (const token of tokens) {
    if (token.kind === 'positional') throw new DeployUsageError(`unexpected argument '${token.value}' (see --help)`);
    if (token.kind === 'option-terminator') throw new DeployUsageError(`unexpected argument '--' (see --help)`);
    if (token.name === 'help' || token.name === 'h') {
      parsed.help = true;
      continue;
    }
    const kind = spec[token.name];
    if (!kind) throw new DeployUsageError(`unknown option '${token.rawName}' (see --help)`);
    if (kind === 'switch') {
      if (token.value !== undefined) throw new DeployUsageError(`${token.rawName} takes no value, got '${token.value}'`);
      parsed.switches.add(token.name);
      continue;
    }
    const value = token.value;
    if (value === undefined || value === '' || (!token.inlineValue && value.startsWith('--'))) {
      throw new DeployUsageError(`${token.rawName} needs a value (see --help)`);
    }
    if (kind === 'list') parsed.lists.set(token.name, [...(parsed.lists.get(token.name) ?? []), value]);
    else parsed.values.set(token.name, value);
  }
  return parsed;
}

/** The flag's value, else the environment variable's (empty counts as unset), else the default. */
export function setting(flags: ParsedFlags, env: NodeJS.ProcessEnv, flag: string, envName: string, fallback = ''): string {
  return flags.values.get(flag) ?? (env[envName] || fallback);
}

/** A whole number (digits only, as the usage text says), or a refusal naming the flag. */
export function wholeNumber(flag: string, value: string): number {
  if (!/^[0-9]+$/.test(value)) throw new DeployUsageError(`--${flag} takes a whole number, got '${value}'`);
  return Number(value);
}
