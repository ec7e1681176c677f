/**
 * A log line for people: `HH:MM:SS.mmm LEVEL message key=value …` for events, `HH:MM:SS.mmm METHOD path status
 * Nms key=value …` for access lines. Takes pino's JSON line, so both formats always carry the same fields.
 */
export function prettyLine(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json);
  } catch {
    return json;
  }
  const { time, level, msg, ...rest } = record;
  const head: string[] = [typeof time === 'string' ? time.slice(11, 23) : ''];
  if (typeof level === 'string') head.push(level.toUpperCase().padEnd(5));
  if (typeof msg === 'string') head.push(msg);
  if (rest.method !== undefined && rest.status !== undefined) {
    head.push(`${rest.method} ${rest.path} ${rest.status} ${rest.latency_ms}ms`);
    delete rest.method;
    delete rest.path;
    delete rest.status;
    delete rest.latency_ms;
  }
  for (const [k, v] of Object.entries(rest)) head.push(`${k}=${typeof v === 'string' && /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v)}`);
  return `${head.join(' ')}\n`;
}

/** A pino destination that writes each line through `prettyLine`. */
export function prettyDestination(out: { write(s: string): unknown }): { write(s: string): void } {
  return { write: (s: string) => void out.write(prettyLine(s)) };
}
