import type { AccessEntry } from './access-log';

/**
 * A JSON string literal, as pino writes one: as is between quotes when it holds only printable ASCII other than
 * `"` and `\` (every field of a usual line), else JSON.stringify's.
 */
export function jsonString(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 32 || c > 126 || c === 34 /* " */ || c === 92 /* \ */) return JSON.stringify(s);
  }
  return `"${s}"`;
}

const optionalString = (name: string, value: string | undefined) => (value === undefined ? '' : `,"${name}":${jsonString(value)}`);

/**
 * The access log line of `entry`, the bytes pino wrote for it (`{time, …entry fields in order}`, fields left out
 * when undefined), built as one string: no per-key loop or type dispatch on the request path. `time` is the line's
 * first field, `"time":"…"`.
 */
export function accessLine(e: AccessEntry, time: string): string {
  return (
    `{${time},"request_id":${jsonString(e.request_id)}` +
    optionalString('client_ip', e.client_ip) +
    optionalString('method', e.method) +
    `,"path":${jsonString(e.path)},"status":${e.status},"latency_ms":${e.latency_ms}` +
    (e.upstream_latency_ms === undefined ? '' : `,"upstream_latency_ms":${e.upstream_latency_ms}`) +
    `,"gateway_latency_ms":${e.gateway_latency_ms},"bytes_in":${e.bytes_in},"bytes_out":${e.bytes_out}` +
    optionalString('route', e.route) +
    optionalString('service', e.service) +
    optionalString('consumer', e.consumer) +
    optionalString('correlation_id', e.correlation_id) +
    optionalString('reason', e.reason) +
    '}\n'
  );
}
