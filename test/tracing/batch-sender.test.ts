import t from 'tap';
import { BatchSender, type QueueConfig } from '../../src/tracing/batch-sender';
import { startUpstream, type Upstream } from '../helpers/http';
import { waitFor } from '../helpers/wait';

// The spans' queue, after Kong's kong/tools/queue.lua semantics (spec/01-unit/27-queue_spec.lua): batches of
// max_batch_size, bounded by max_entries (the oldest dropped), retried with backoff until the collector answers.
const QUEUE: QueueConfig = {
  max_batch_size: 2,
  max_coalescing_delay: 0.01,
  max_entries: 3,
  max_bytes: null,
  max_retry_time: 60,
  initial_retry_delay: 0.01,
  max_retry_delay: 0.05,
  concurrency_limit: 1,
};

let mode: 'ok' | 'hold' = 'ok';
const held: Array<() => void> = [];
let received: number[][] = [];
let collector: Upstream;

t.before(async () => {
  collector = await startUpstream((_req, res, body) => {
    const answer = () => {
      received.push(JSON.parse(body.toString('utf8')));
      res.writeHead(200).end();
    };
    if (mode === 'hold') held.push(answer);
    else answer();
  });
});
t.teardown(() => collector.close());

const sender = (queue: Partial<QueueConfig> = {}) =>
  new BatchSender({
    name: 'test',
    endpoint: new URL(`http://127.0.0.1:${collector.port}/spans`),
    contentType: 'application/json',
    connectTimeout: 1000,
    sendTimeout: 1000,
    readTimeout: 10_000,
    queue: { ...QUEUE, ...queue },
    encode: (entries) => Buffer.from(JSON.stringify(entries)),
  });

t.test('entries go in batches of max_batch_size, in order', async (t) => {
  received = [];
  const s = sender();
  for (const n of [1, 2, 3]) s.add(n);
  await waitFor('3 entries', () => (received.flat().length === 3 ? true : undefined));
  t.same(received, [[1, 2], [3]]);
  await s.close();
});

t.test('a collector that does not answer: the queue keeps max_entries, drops the oldest, delivers the rest later', async (t) => {
  received = [];
  mode = 'hold';
  const s = sender({ max_batch_size: 1 });
  s.add(1); // in flight, held by the collector
  await waitFor('the first POST', () => (held.length === 1 ? true : undefined));
  for (const n of [2, 3, 4, 5, 6]) s.add(n);
  t.equal(s.dropped, 2, 'two dropped: max_entries 3 while one batch is in flight');
  mode = 'ok';
  held.shift()!();
  await waitFor('the rest', () => (received.flat().length === 4 ? true : undefined));
  t.same(received.flat(), [1, 4, 5, 6], 'the newest kept, each sent once');
  await s.close();
});
