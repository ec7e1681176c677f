const TAG = /^\s*(\S+)\s*=\s*(.*\S)\s*$/;

/**
 * The tags a client sent in the tags header: `name=value` items separated by `;` (kong/plugins/zipkin/request_tags.lua).
 * Items that do not parse are skipped; the valid ones are kept.
 */
export function parseTagsHeader(value: string | string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (value === undefined) return out;
  for (const line of Array.isArray(value) ? value : [value]) {
    for (const item of line.split(';')) {
      const m = TAG.exec(item);
      if (m !== null) out[m[1]] = m[2];
    }
  }
  return out;
}
