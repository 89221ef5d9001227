/** A log destination for createFlowposServer's `logStream` that keeps every line pino writes. */
export class LogCapture {
  readonly lines: string[] = [];

  write(chunk: string): void {
    for (const line of chunk.split('\n')) if (line) this.lines.push(line);
  }

  /** Parsed lines; throws if any line is not one JSON object. */
  json(): Record<string, any>[] { // eslint-disable-line @typescript-eslint/no-explicit-any
    return this.lines.map((l) => {
      const v = JSON.parse(l) as unknown;
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`not a JSON object: ${l}`);
      return v as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    });
  }

  /** The request lines (one per request), in order. */
  requests(): Record<string, any>[] { // eslint-disable-line @typescript-eslint/no-explicit-any
    return this.json().filter((l) => l.httpRequest);
  }
}

/** Log lines are written once a response has been sent; give the last one a moment. */
export function settle(ms = 50): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
