import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { DeployUsageError } from './flags.js';

/**
 * How the deploy commands reach gcloud: spawned with an argument array (no shell, so no value is ever re-parsed),
 * or, for --dry-run, printed one command a line as `+ word word …`, quoted the way a POSIX shell would need, so the
 * output can be pasted into a shell or split back into words.
 */
export interface Gcloud {
  readonly dryRun: boolean;
  /** Runs a command; a non-zero exit throws GcloudFailed. */
  run(command: string[]): Promise<void>;
  /** Runs a command that reads `value` on stdin; a dry run names the value (`what`) and its length, never the value. */
  runWithValue(command: string[], value: string, what: string): Promise<void>;
  /** Whether a command exits 0; its output is discarded. */
  succeeds(command: string[]): Promise<boolean>;
  /** A command's stdout without the trailing newline. */
  output(command: string[]): Promise<string>;
  /** A line of explanation in a dry run's output. */
  note(line: string): void;
}

export class GcloudFailed extends Error {
  constructor(
    readonly command: string[],
    readonly exitCode: number,
  ) {
    super(`${command.slice(0, 4).join(' ')} … failed (exit ${exitCode})`);
  }
}

/** An argument as the shell would need it: bare when plain, else in single quotes. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@,^%+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

export function printedCommand(command: string[]): string {
  return ['+', ...command.map(shellQuote)].join(' ');
}

export function dryRunGcloud(out: (line: string) => void): Gcloud {
  return {
    dryRun: true,
    run: async (command) => out(printedCommand(command)),
    runWithValue: async (command, value, what) => out(`${printedCommand(command)} < (${what}, ${value.length} characters)`),
    // Only the checks a real run makes depend on it; a dry run shows every branch instead.
    succeeds: async () => false,
    output: async (command) => {
      out(printedCommand(command));
      return '';
    },
    note: (line) => out(`# ${line}`),
  };
}

export function realGcloud(env: NodeJS.ProcessEnv): Gcloud {
  const exec = (command: string[], stdin: string | undefined, capture: boolean, quiet = false) =>
    new Promise<{ code: number; stdout: string }>((resolve, reject) => {
      const child = spawn(command[0]!, command.slice(1), {
        env,
        stdio: [stdin === undefined ? 'inherit' : 'pipe', capture ? 'pipe' : quiet ? 'ignore' : 'inherit', quiet ? 'ignore' : 'inherit'],
      });
      let stdout = '';
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.once('error', reject);
      child.once('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout }));
      if (stdin !== undefined) child.stdin!.end(stdin);
    });
  const checked = async (command: string[], stdin?: string, capture = false) => {
    const r = await exec(command, stdin, capture);
    if (r.code !== 0) throw new GcloudFailed(command, r.code);
    return r.stdout;
  };
  return {
    dryRun: false,
    run: async (command) => void (await checked(command)),
    runWithValue: async (command, value) => void (await checked(command, value)),
    succeeds: async (command) => (await exec(command, undefined, false, true)).code === 0,
    output: async (command) => (await checked(command, undefined, true)).replace(/\n+$/, ''),
    note: () => {},
  };
}

/** `command -v gcloud`: an executable gcloud on PATH. */
export function hasGcloud(env: NodeJS.ProcessEnv): boolean {
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    try {
      accessSync(join(dir, 'gcloud'), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

export function requireGcloud(env: NodeJS.ProcessEnv): void {
  if (!hasGcloud(env)) throw new DeployUsageError('gcloud is not installed (https://cloud.google.com/sdk/docs/install)');
}

/** gcloud's default project (`gcloud config get-value project`), or '' when it has none or is not installed. */
export async function defaultProject(env: NodeJS.ProcessEnv): Promise<string> {
  if (!hasGcloud(env)) return '';
  try {
    return (await realGcloud(env).output(['gcloud', 'config', 'get-value', 'project'])).trim();
  } catch {
    return '';
  }
}
