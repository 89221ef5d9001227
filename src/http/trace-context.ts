import type { IncomingHttpHeaders } from 'node:http';

/** The trace a request belongs to, as its caller (or Cloud Run's front end) told us. */
export interface TraceContext {
  /** 32 lower-case hex digits. */
  traceId: string;
  /** 16 lower-case hex digits: the caller's span, or ours once a span is started for the request. */
  spanId?: string;
  sampled?: boolean;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;
const CLOUD_TRACE = /^([0-9a-fA-F]{32})(?:\/(\d{1,20}))?(?:;o=([01]))?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** W3C `traceparent`: `00-<trace id>-<parent span id>-<flags>`; undefined when malformed or all zeros. */
export function parseTraceparent(value: string | undefined): TraceContext | undefined {
  const m = value === undefined ? null : TRACEPARENT.exec(value.trim());
  if (!m) return undefined;
  const [, version, traceId, spanId, flags] = m as unknown as [string, string, string, string, string];
  if (version === 'ff' || (version === '00' && m[0].length !== 55) || traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, sampled: (Number.parseInt(flags, 16) & 1) === 1 };
}

/** Google's `X-Cloud-Trace-Context: <trace id>/<decimal span id>;o=<0|1>`. */
export function parseCloudTraceContext(value: string | undefined): TraceContext | undefined {
  const m = value === undefined ? null : CLOUD_TRACE.exec(value.trim());
  if (!m?.[1]) return undefined;
  const traceId = m[1].toLowerCase();
  if (traceId === ZERO_TRACE) return undefined;
  let spanId: string | undefined;
  if (m[2]) {
    const n = BigInt(m[2]);
    if (n > 0n && n < 2n ** 64n) spanId = n.toString(16).padStart(16, '0');
  }
  return { traceId, ...(spanId ? { spanId } : {}), ...(m[3] ? { sampled: m[3] === '1' } : {}) };
}

/** The request's trace from its headers: `traceparent` first (W3C, what OpenTelemetry sends), then Cloud Run's header. */
export function incomingTrace(headers: IncomingHttpHeaders): TraceContext | undefined {
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  return parseTraceparent(one(headers.traceparent)) ?? parseCloudTraceContext(one(headers['x-cloud-trace-context']));
}

/** The fields Cloud Logging uses to put a log line under its trace (needs the project id). */
export function cloudLoggingTraceFields(projectId: string | undefined, trace: TraceContext | undefined): Record<string, unknown> {
  if (!projectId || !trace) return {};
  return {
    'logging.googleapis.com/trace': `projects/${projectId}/traces/${trace.traceId}`,
    ...(trace.spanId ? { 'logging.googleapis.com/spanId': trace.spanId } : {}),
    ...(trace.sampled !== undefined ? { 'logging.googleapis.com/trace_sampled': trace.sampled } : {}),
  };
}
