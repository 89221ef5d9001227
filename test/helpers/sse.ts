/** Reads an SSE response event by event, as a client would, with a bound on how long to wait for each. */
export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
  retry?: number;
}

export class SseReader {
  private buffer = '';
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();

  constructor(response: Response) {
    if (!response.body) throw new Error('response has no body');
    this.reader = response.body.getReader();
  }

  /** The next event (comments skipped), or null when the stream ended. */
  async next(timeoutMs = 5000): Promise<SseEvent | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const cut = this.buffer.indexOf('\n\n');
      if (cut !== -1) {
        const block = this.buffer.slice(0, cut);
        this.buffer = this.buffer.slice(cut + 2);
        const ev = parse(block);
        if (ev) return ev;
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for an SSE event');
      let timer: NodeJS.Timeout | undefined;
      const chunk = await Promise.race([
        this.reader.read(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('timed out waiting for an SSE event')), left);
        }),
      ]).finally(() => clearTimeout(timer));
      if (chunk.done) return null;
      this.buffer += this.decoder.decode(chunk.value, { stream: true });
    }
  }

  /** Skips to the next event whose JSON data satisfies `match`. */
  async until(match: (data: any) => boolean, timeoutMs = 5000): Promise<{ event: SseEvent; data: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ev = await this.next(Math.max(1, deadline - Date.now()));
      if (!ev) throw new Error('stream ended before the expected event');
      if (!ev.data) continue;
      const data = JSON.parse(ev.data);
      if (match(data)) return { event: ev, data };
    }
  }

  async cancel(): Promise<void> {
    await this.reader.cancel().catch(() => {});
  }
}

function parse(block: string): SseEvent | null {
  const ev: SseEvent = { data: '' };
  let any = false;
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':') || line === '') continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    any = true;
    if (field === 'id') ev.id = value;
    else if (field === 'event') ev.event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'retry') ev.retry = Number(value);
  }
  // Like EventSource: a block without data (a bare retry hint) dispatches nothing — except the priming event,
  // whose empty data line is what marks it as an event.
  if (!any || (!block.split('\n').some((l) => l.startsWith('data')))) return null;
  ev.data = data.join('\n');
  return ev;
}
