/** A fetch that sends each request to the next instance in turn: a load balancer with no affinity at all. */
export function roundRobin(bases: string[]): { fetch: typeof fetch; hits: number[] } {
  let n = 0;
  const hits = bases.map(() => 0);
  const rr = (input: string | URL | Request, init?: RequestInit) => {
    const i = n++ % bases.length;
    hits[i]!++;
    const target = new URL(input instanceof Request ? input.url : input.toString());
    const base = new URL(bases[i]!);
    target.host = base.host;
    return fetch(target, init);
  };
  return { fetch: rr as typeof fetch, hits };
}
