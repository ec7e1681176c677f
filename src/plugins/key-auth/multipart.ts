import { DUPLICATE, type Found } from './params';

/** The boundary of a multipart/form-data content type, or undefined. */
export function boundaryOf(contentType: string): string | undefined {
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m === null ? undefined : (m[1] ?? m[2]);
}

export interface Part {
  /** Where the part's delimiter line starts and where the next delimiter starts: cutting [start, end) removes it. */
  start: number;
  end: number;
  name: string | undefined;
  isFile: boolean;
  valueStart: number;
  valueEnd: number;
}

/** The parts of a multipart body; stops quietly at the first malformed part. */
function parts(body: Buffer, boundary: string): Part[] {
  return multipartParts(body, boundary).parts;
}

/** The parts of a multipart body, and whether it ended with its closing delimiter (else parsing stopped early). */
export function multipartParts(body: Buffer, boundary: string): { parts: Part[]; complete: boolean } {
  const delimiter = Buffer.from(`--${boundary}`);
  const next = Buffer.from(`\r\n--${boundary}`);
  const out: Part[] = [];
  let complete = false;
  // The first delimiter opens the body or ends a preamble.
  let at = 0;
  if (!body.subarray(0, delimiter.length).equals(delimiter)) {
    const afterPreamble = body.indexOf(next);
    at = afterPreamble === -1 ? -1 : afterPreamble + 2;
  }
  while (at !== -1) {
    const afterDelimiter = at + delimiter.length;
    if (body[afterDelimiter] === 0x2d && body[afterDelimiter + 1] === 0x2d) {
      complete = true; // the closing delimiter
      break;
    }
    const headersStart = body.indexOf('\r\n', afterDelimiter);
    if (headersStart === -1) break;
    const headersEnd = body.indexOf('\r\n\r\n', headersStart);
    const following = body.indexOf(next, headersStart);
    if (headersEnd === -1 || following === -1 || headersEnd > following) break;
    const headers = body.subarray(headersStart + 2, headersEnd).toString('latin1');
    const disposition = /^content-disposition:\s*form-data(.*)$/im.exec(headers);
    const name = disposition ? /;\s*name="([^"]*)"/i.exec(disposition[1])?.[1] : undefined;
    out.push({
      start: at,
      end: following + 2,
      name,
      isFile: disposition !== null && /;\s*filename\*?=/i.test(disposition[1]),
      valueStart: headersEnd + 4,
      valueEnd: following,
    });
    at = following + 2;
  }
  return { parts: out, complete };
}

/** The text field `name` of a multipart body (file parts are not keys). */
export function multipartField(body: Buffer, boundary: string, name: string): Found {
  const fields = parts(body, boundary).filter((p) => p.name === name && !p.isFile);
  if (fields.length > 1) return DUPLICATE;
  return fields.length === 1 ? body.subarray(fields[0].valueStart, fields[0].valueEnd).toString('utf8') : undefined;
}

/** The body without the text field `name`, or undefined when it has none. */
export function removeMultipartField(body: Buffer, boundary: string, name: string): Buffer | undefined {
  const cut = parts(body, boundary).filter((p) => p.name === name && !p.isFile);
  if (cut.length === 0) return undefined;
  const kept: Buffer[] = [];
  let from = 0;
  for (const p of cut) {
    kept.push(body.subarray(from, p.start));
    from = p.end;
  }
  kept.push(body.subarray(from));
  return Buffer.concat(kept);
}
