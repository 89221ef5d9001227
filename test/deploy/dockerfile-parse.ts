/**
 * Just enough of a Dockerfile parser to check ours without a Docker engine: instructions with their line
 * continuations joined and comments dropped, stages with their base image (ARG defaults substituted), COPY
 * sources and flags, and exec-form (JSON) arguments.
 */

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

export interface Copy {
  from?: string;
  sources: string[];
  dest: string;
  line: number;
}

export interface Stage {
  name?: string;
  image: string;
  index: number;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  globalArgs: Record<string, string>;
  stages: Stage[];
}

export function parseInstructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  let buffer = '';
  let start = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const trimmed = raw.trim();
    if (buffer === '' && (trimmed === '' || trimmed.startsWith('#'))) continue;
    // A comment line inside a continued instruction is dropped, as Docker does.
    if (buffer !== '' && trimmed.startsWith('#')) continue;
    if (buffer === '') start = i + 1;
    if (trimmed.endsWith('\\')) {
      buffer += `${trimmed.slice(0, -1)} `;
      continue;
    }
    buffer += trimmed;
    const m = /^(\S+)\s*(.*)$/s.exec(buffer);
    if (m) out.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start });
    buffer = '';
  }
  if (buffer.trim()) throw new Error(`Dockerfile ends inside a continued instruction (line ${start})`);
  return out;
}

export function parseDockerfile(text: string): Dockerfile {
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const ins of parseInstructions(text)) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`cannot read FROM at line ${ins.line}: ${ins.args}`);
      const image = m[1]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => globalArgs[(a ?? b)!] ?? '');
      stages.push({ ...(m[2] ? { name: m[2] } : {}), image, index: stages.length, instructions: [] });
      continue;
    }
    const stage = stages[stages.length - 1];
    if (!stage) {
      if (ins.keyword !== 'ARG') throw new Error(`${ins.keyword} before the first FROM (line ${ins.line})`);
      const [name, value] = ins.args.split('=', 2);
      globalArgs[name!.trim()] = (value ?? '').trim();
      continue;
    }
    stage.instructions.push(ins);
  }
  return { globalArgs, stages };
}

/** Splits shell-form arguments on whitespace, or reads exec form (a JSON array). */
export function words(args: string): string[] {
  if (args.startsWith('[')) return JSON.parse(args) as string[];
  return args.split(/\s+/).filter(Boolean);
}

/** The JSON array of an exec-form CMD/ENTRYPOINT/HEALTHCHECK CMD, or null for shell form. */
export function execForm(args: string): string[] | null {
  if (!args.trim().startsWith('[')) return null;
  return JSON.parse(args) as string[];
}

export function copies(stage: Stage): Copy[] {
  return stage.instructions
    .filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')
    .map((i) => {
      const parts = words(i.args);
      const flags = parts.filter((p) => p.startsWith('--'));
      const paths = parts.filter((p) => !p.startsWith('--'));
      const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
      if (paths.length < 2) throw new Error(`COPY needs a source and a destination (line ${i.line})`);
      return { ...(from ? { from } : {}), sources: paths.slice(0, -1), dest: paths[paths.length - 1]!, line: i.line };
    });
}

/** Docker's .dockerignore, simplified: one pattern a line, `#` comments, `*` within a segment, no negation. */
export function parseDockerignore(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.replace(/^\/+|\/+$/g, ''));
}

/** Whether the context path (or a path below it) is excluded by a pattern. */
export function ignored(path: string, patterns: string[]): boolean {
  const clean = path.replace(/^\.\/+/, '').replace(/\/+$/, '');
  return patterns.some((p) => {
    if (p.startsWith('!')) throw new Error(`negated .dockerignore patterns are not supported by this check: ${p}`);
    const re = new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}(/.*)?$`);
    return re.test(clean);
  });
}
