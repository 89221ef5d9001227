/**
 * Reads a V8 CPU profile (`node --cpu-prof`) and says where the time went inside a window: self time per
 * function, and time per area (flowpos src/ files, each package, Node internals, GC, idle).
 */
interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Sampled time inside the window (µs), idle included. */
  totalUs: number;
  /** Time not idle. */
  busyUs: number;
  /** Self time per function, busiest first. */
  frames: { frame: string; area: string; us: number; share: number }[];
  /** Self time per area, busiest first. */
  areas: { area: string; us: number; share: number }[];
  /** Inclusive time of the stacks passing through each flowpos-relevant layer. */
  layers: { layer: string; us: number; share: number }[];
}

const ROOT = new URL('../../', import.meta.url).href;

/** Where a frame's code lives: `src/<file>`, a package name, `node:<module>`, or V8's own buckets. */
export function areaOf(frame: CallFrame): string {
  const url = frame.url;
  if (!url) {
    if (frame.functionName === '(garbage collector)') return 'GC';
    if (frame.functionName === '(idle)') return 'idle';
    if (frame.functionName === '(program)') return 'V8/native';
    return 'native';
  }
  if (url.startsWith('node:')) return 'node internals';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith(ROOT)) return url.slice(ROOT.length).replace(/\?.*$/, '');
  return url.replace(/^file:\/\//, '');
}

function label(frame: CallFrame): string {
  const file = /node_modules\/(.*)$/.exec(frame.url)?.[1] ?? (frame.url.startsWith(ROOT) ? frame.url.slice(ROOT.length) : frame.url);
  return `${frame.functionName || '(anonymous)'}${file ? ` ${file}:${frame.lineNumber + 1}` : ''}`;
}

/** Layers a sample is counted in when any frame of its stack belongs there (inclusive time). */
const LAYERS: [string, (f: CallFrame) => boolean][] = [
  ['HTTP: Fastify + node:http', (f) => /node_modules\/fastify\//.test(f.url) || /^node:_http|^node:net$/.test(f.url)],
  ['auth (src/auth)', (f) => f.url.includes('/src/auth/')],
  ['rate limit (src/http/rate-limit, redis-rate-limiter)', (f) => /\/src\/(http\/rate-limit|state\/redis-rate-limiter)\.ts/.test(f.url)],
  ['session layer (src/mcp)', (f) => f.url.includes('/src/mcp/')],
  ['MCP SDK (@modelcontextprotocol)', (f) => f.url.includes('node_modules/@modelcontextprotocol/')],
  ['web Request/Response objects (undici in Node)', (f) => f.url === 'node:internal/deps/undici/undici'],
  ['zod', (f) => f.url.includes('node_modules/zod/')],
  ['POS tools and domain (src/pos)', (f) => f.url.includes('/src/pos/')],
  ['Redis client (node-redis)', (f) => f.url.includes('node_modules/@redis/')],
  ['timers firing (mostly node-redis command timeouts)', (f) => f.functionName === 'listOnTimeout'],
  ['PostgreSQL client (pg)', (f) => /node_modules\/pg(-[a-z]+)?\//.test(f.url)],
  ['logging (pino, child loggers, request log)', (f) => /node_modules\/(pino|sonic-boom|@pinojs)|\/src\/http\/(request-log|logger)\.ts/.test(f.url)],
  ['metrics (prom-client)', (f) => /node_modules\/prom-client|\/src\/http\/metrics\.ts/.test(f.url)],
  ['tracing (src/http/tracing, trace-context)', (f) => /\/src\/http\/(tracing|trace-context)\.ts|@opentelemetry/.test(f.url)],
];

/** A built file (dist/x.js) is counted as its source (src/x.ts), so areas and layers read the same either way. */
function asSource(url: string): string {
  return url.startsWith(`${ROOT}dist/`) ? `${ROOT}src/${url.slice(ROOT.length + 5).replace(/\.js$/, '.ts')}` : url;
}

export function summarise(profile: CpuProfile, window?: { fromUs: number; toUs: number }, top = 30): ProfileSummary {
  for (const n of profile.nodes) n.callFrame.url = asSource(n.callFrame.url);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (window && (t < window.fromUs || t > window.toUs)) continue;
    // A sample's time is the gap to the next one.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + dt);
  }
  let totalUs = 0;
  let idleUs = 0;
  const frames = new Map<string, { area: string; us: number }>();
  const areas = new Map<string, number>();
  const layers = new Map<string, number>();
  for (const [id, us] of self) {
    const node = byId.get(id)!;
    totalUs += us;
    const area = areaOf(node.callFrame);
    if (area === 'idle') idleUs += us;
    const key = label(node.callFrame);
    const f = frames.get(key) ?? { area, us: 0 };
    f.us += us;
    frames.set(key, f);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const hit = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur)!.callFrame;
      for (const [name, test] of LAYERS) if (!hit.has(name) && test(frame)) hit.add(name);
    }
    for (const name of hit) layers.set(name, (layers.get(name) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;
  const share = (us: number) => (busyUs ? us / busyUs : 0);
  return {
    totalUs,
    busyUs,
    frames: [...frames]
      .filter(([, f]) => f.area !== 'idle')
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, top)
      .map(([frame, f]) => ({ frame, area: f.area, us: f.us, share: share(f.us) })),
    areas: [...areas]
      .filter(([a]) => a !== 'idle')
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, us, share: share(us) })),
    layers: LAYERS.map(([layer]) => ({ layer, us: layers.get(layer) ?? 0, share: share(layers.get(layer) ?? 0) })).sort((a, b) => b.us - a.us),
  };
}
