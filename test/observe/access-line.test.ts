// The access log line is built as one string: it must be the line pino wrote from the same entry, byte for byte.
import t from 'tap';
import pino from 'pino';
import type { AccessEntry } from '../../src/observe/access-log';
import { accessLine, jsonString } from '../../src/observe/access-line';

const TIME = '"time":"2026-01-02T03:04:05.006Z"';

/** The line pino writes for `entry` with the access log's former settings: no base fields, no level, time first. */
function pinoLine(entry: AccessEntry): string {
  const lines: string[] = [];
  const logger = pino({ base: null, timestamp: () => TIME, formatters: { level: () => ({}) } }, { write: (s: string) => void lines.push(s) });
  logger.info(entry);
  return lines.join('');
}

const served: AccessEntry = {
  request_id: '0123456789abcdef0123456789abcdef',
  client_ip: '::ffff:127.0.0.1',
  method: 'GET',
  path: '/bench?apikey=[REDACTED]&x=1',
  status: 200,
  latency_ms: 12,
  upstream_latency_ms: 10,
  gateway_latency_ms: 2,
  bytes_in: 120,
  bytes_out: 345,
  route: 'bench',
  service: 'bench-upstream',
  consumer: 'alice',
  correlation_id: '5c0e8f0a-1b2c-4d3e-8f90-123456789abc#7',
  reason: undefined,
};

const refused: AccessEntry = {
  request_id: 'given-id:1.2_3',
  client_ip: undefined,
  method: undefined,
  path: '',
  status: 400,
  latency_ms: 0,
  upstream_latency_ms: undefined,
  gateway_latency_ms: 0,
  bytes_in: 0,
  bytes_out: 0,
  route: undefined,
  service: undefined,
  consumer: undefined,
  reason: 'bad request',
};

const awkward: AccessEntry = {
  ...served,
  // What a client can put in a target (non-ASCII bytes arrive as latin1 characters), and names from a config.
  path: '/a"b\\c\td\u0001e/\u00e9\u00ff/' + 'x'.repeat(120),
  route: 'r\u00e9sum\u00e9 "quoted"',
  service: 'svc \u2028 \ud83d\ude00',
  consumer: 'c\\d\u0001',
  reason: 'client closed',
};

t.test('the line is the one pino wrote for the same entry', async (t) => {
  for (const [name, entry] of Object.entries({ served, refused, awkward })) {
    t.equal(accessLine(entry, TIME), pinoLine(entry), name);
  }
});

t.test('the line parses back to the entry, its undefined fields left out', async (t) => {
  for (const entry of [served, refused, awkward]) {
    const expected = Object.fromEntries(Object.entries(entry).filter(([, v]) => v !== undefined));
    const line = accessLine(entry, TIME);
    t.ok(line.endsWith('}\n'));
    t.same(JSON.parse(line), { time: '2026-01-02T03:04:05.006Z', ...expected });
  }
});

t.test('strings are written as is only when nothing in them needs escaping', async (t) => {
  t.equal(jsonString('/plain/path?a=1'), '"/plain/path?a=1"');
  for (const s of ['a"b', 'a\\b', 'a\nb', '\u007f', '\u00e9', '\ud800']) t.equal(jsonString(s), JSON.stringify(s), JSON.stringify(s));
});
