import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * CPU placement: servers on core 0, everything else (load generator, Redis, PostgreSQL backends, the cluster's
 * balancer) on core 1, when `taskset` exists and there are two cores or more. Best effort: a placement that
 * fails (no permission, no taskset) is reported, never fatal.
 */
let available: boolean | undefined;

export function canPin(): boolean {
  if (available === undefined) {
    const probe = spawnSync('taskset', ['--version'], { encoding: 'utf8' });
    available = !probe.error && probe.status === 0 && availableParallelism() >= 2;
  }
  return available;
}

/** `command args…`, prefixed with `taskset -c <cpu>` when pinning is possible and asked for. */
export function pinnedCommand(cpu: string | undefined, command: string, args: string[]): { command: string; args: string[] } {
  if (!cpu || !canPin()) return { command, args };
  return { command: 'taskset', args: ['-c', cpu, command, ...args] };
}

/** Moves every thread of `pid` to `cpu`; false when that failed. */
export function pinPid(pid: number, cpu: string): boolean {
  if (!canPin()) return false;
  const r = spawnSync('taskset', ['-a', '-p', '-c', cpu, String(pid)], { encoding: 'utf8' });
  return !r.error && r.status === 0;
}

/** Resident set size of a process from /proc (bytes), or undefined where /proc is not available. */
export function procRss(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/** CPU time (user + system, seconds) a process has used so far, from /proc; undefined where unavailable. */
export function procCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
    return Number.isFinite(ticks) ? ticks / CLOCK_TICKS : undefined;
  } catch {
    return undefined;
  }
}

/** USER_HZ; 100 on every Linux this runs on (getconf CLK_TCK). */
const CLOCK_TICKS = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();
