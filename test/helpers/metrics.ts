/** The value of the Prometheus sample `name{labels…}` in a /metrics text (labels: a subset that must match). */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

/** The sum of one sample over several instances (absent counts as 0). */
export async function metricSum(urls: readonly string[], name: string, labels: Record<string, string> = {}): Promise<number> {
  let sum = 0;
  for (const url of urls) sum += metric(await (await fetch(`${url}/metrics`)).text(), name, labels) ?? 0;
  return sum;
}
