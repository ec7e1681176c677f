/**
 * Where POST /config finds the declarative config, as in Kong: a JSON body that is the config itself (it has
 * `_format_version`), or a `config` field (JSON, urlencoded or multipart form) holding YAML or JSON text, or else
 * the raw body. Undefined when there is none.
 */
export function configTextOf(body: Buffer, contentType: string | undefined): string | undefined {
  if (body.length === 0) return undefined;
  const text = body.toString('utf8');
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  let config: string | undefined;
  if (type === 'application/json') config = fromJson(text);
  else if (type === 'application/x-www-form-urlencoded') config = new URLSearchParams(text).get('config') ?? undefined;
  else if (type === 'multipart/form-data') config = multipartField(text, contentType!, 'config');
  else config = text;
  return config === undefined || config.trim() === '' ? undefined : config;
}

function fromJson(text: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text; // not JSON after all: the config parser reports where it breaks
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return text;
  const doc = parsed as Record<string, unknown>;
  if ('_format_version' in doc) return text;
  return typeof doc.config === 'string' ? doc.config : undefined;
}

/** The text of one field of a multipart/form-data body (`curl -F config=@kong.yml`). */
function multipartField(text: string, contentType: string, field: string): string | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (m === null) return undefined;
  const delimiter = `--${m[1] ?? m[2]}`;
  for (const part of text.split(delimiter).slice(1)) {
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd === -1) continue;
    const headers = part.slice(0, headerEnd);
    const name = /content-disposition:[^\r\n]*\bname="([^"]*)"/i.exec(headers)?.[1];
    if (name !== field) continue;
    const content = part.slice(headerEnd + 4);
    return content.endsWith('\r\n') ? content.slice(0, -2) : content;
  }
  return undefined;
}
