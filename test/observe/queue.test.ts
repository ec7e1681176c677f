// The batch queue every log plugin shares, after Kong's kong/tools/queue.lua (spec/01-unit/27-queue_spec.lua).
import t from 'tap';
import v8 from 'node:v8';
import vm from 'node:vm';
import { BatchQueue, drainQueues, droppedEntries, joinBytes, type QueueConfig } from '../../src/observe/queue';
import { ByteStore } from '../../src/observe/entry-store';
import { waitFor } from '../helpers/wait';

const SPEC = 'spec/01-unit/27-queue_spec.lua';

const conf = (over: Partial<QueueConfig> = {}): QueueConfig => ({
  max_batch_size: 1,
  max_coalescing_delay: 3600,
  max_entries: 10000,
  max_bytes: null,
  max_retry_time: 60,
  initial_retry_delay: 0.001,
  max_retry_delay: 60,
  concurrency_limit: 1,
  ...over,
});

/** A text queue whose batches the test reads back as strings. */
const texts = (name: string, c: QueueConfig, handler: (batch: string[]) => Promise<void>) =>
  new BatchQueue(name, c, (batch) => handler(batch.map((entry) => entry.toString())));

const dropped = (plugin: string, reason: string) => droppedEntries.get(`${plugin}\n${reason}`) ?? 0;

/** A handler that records each batch and holds it until released. */
function held() {
  const batches: string[][] = [];
  const releases: Array<() => void> = [];
  return {
    batches,
    handler: (b: string[]) => {
      batches.push(b);
      return new Promise<void>((resolve) => releases.push(resolve));
    },
    release: () => releases.splice(0).forEach((r) => r()),
  };
}

t.test(`${SPEC}: a batch leaves once max_batch_size entries are queued, one batch at a time`, async (t) => {
  const h = held();
  const q = texts('batching', conf({ max_batch_size: 3 }), h.handler);
  for (const e of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) q.add(e);
  t.same(h.batches, [['a', 'b', 'c']], 'concurrency_limit 1: the second full batch waits for the first');
  h.release();
  await waitFor('the second batch', () => (h.batches.length === 2 ? true : undefined));
  t.same(h.batches[1], ['d', 'e', 'f']);
  h.release();
  await new Promise((r) => setImmediate(r));
  t.equal(h.batches.length, 2, 'the last entry waits for the coalescing delay');
  t.equal(q.size, 1);
  q.close();
  await waitFor('the rest', () => (h.batches.length === 3 ? true : undefined));
  t.same(h.batches[2], ['g'], 'closed: sent without waiting');
  h.release();
  await q.whenDrained();
});

t.test(`${SPEC}: entries wait at most max_coalescing_delay, then leave together`, async (t) => {
  const batches: string[][] = [];
  const q = texts('coalescing', conf({ max_batch_size: 100, max_coalescing_delay: 0.05 }), async (b) => void batches.push(b));
  q.add('a');
  q.add('b');
  t.same(batches, [], 'not sent at once');
  await waitFor('the batch', () => (batches.length > 0 ? true : undefined));
  t.same(batches, [['a', 'b']]);
  q.close();
});

t.test(`${SPEC}: a full queue drops its oldest entries, counts them and never blocks`, async (t) => {
  const h = held();
  const before = dropped('full', 'queue full');
  const q = texts('full', conf({ max_entries: 2, max_coalescing_delay: 0 }), h.handler);
  for (const e of ['a', 'b', 'c', 'd']) t.equal(q.add(e), true);
  t.same(h.batches, [['a']], 'a is being sent');
  t.equal(q.size, 2);
  t.equal(dropped('full', 'queue full') - before, 1, 'b was dropped');
  h.release();
  await waitFor('c', () => (h.batches.length === 2 ? true : undefined));
  h.release();
  await waitFor('d', () => (h.batches.length === 3 ? true : undefined));
  h.release();
  t.same(h.batches, [['a'], ['c'], ['d']]);
  q.close();
});

t.test(`${SPEC}: max_bytes bounds the bytes waiting; an entry larger than it is refused`, async (t) => {
  const h = held();
  const before = dropped('bytes', 'queue full');
  const q = texts('bytes', conf({ max_bytes: 10, max_coalescing_delay: 0 }), h.handler);
  q.add('sent'); // in flight: not counted
  q.add('aaaaa');
  q.add('bbbbb');
  q.add('ccccc');
  t.equal(q.size, 2);
  t.equal(q.add('x'.repeat(11)), false);
  t.equal(dropped('bytes', 'queue full') - before, 2, 'aaaaa and the oversized entry');
  for (let i = 2; i <= 3; i++) {
    h.release();
    await waitFor(`batch ${i}`, () => (h.batches.length === i ? true : undefined));
  }
  t.same(h.batches, [['sent'], ['bbbbb'], ['ccccc']]);
  h.release();
  q.close();
});

t.test(`${SPEC}: a failed batch is retried with exponential backoff until it succeeds`, async (t) => {
  const calls: number[] = [];
  const q = texts('retry', conf({ max_coalescing_delay: 0, initial_retry_delay: 0.02, max_retry_delay: 0.08 }), async (b) => {
    calls.push(Date.now());
    if (calls.length <= 4) throw new Error('collector down');
    t.same(b, ['entry']);
  });
  q.add('entry');
  await waitFor('the fifth try', () => (calls.length === 5 ? true : undefined));
  const gaps = calls.slice(1).map((at, i) => at - calls[i]);
  // Timers never fire early by more than a millisecond: each wait is at least the delay asked for.
  t.ok(gaps[0] >= 19, `first retry after ~20 ms (${gaps[0]})`);
  t.ok(gaps[1] >= 39, `then ~40 ms (${gaps[1]})`);
  t.ok(gaps[2] >= 79 && gaps[3] >= 79, `then capped by max_retry_delay (${gaps[2]}, ${gaps[3]})`);
  await q.whenDrained();
  q.close();
});

t.test(`${SPEC}: a batch failing past max_retry_time is dropped and counted`, async (t) => {
  const before = dropped('give-up', 'retries exhausted');
  let calls = 0;
  const q = texts('give-up', conf({ max_batch_size: 2, max_coalescing_delay: 0, max_retry_time: 0 }), async () => {
    calls++;
    throw new Error('collector down');
  });
  q.add('a');
  await q.whenDrained();
  t.equal(calls, 1);
  t.equal(dropped('give-up', 'retries exhausted') - before, 1);
  q.close();
});

t.test(`${SPEC}: concurrency_limit -1 sends batches without waiting for the previous`, async (t) => {
  const h = held();
  const q = texts('parallel', conf({ concurrency_limit: -1, max_coalescing_delay: 0 }), h.handler);
  q.add('a');
  q.add('b');
  q.add('c');
  t.same(h.batches, [['a'], ['b'], ['c']]);
  h.release();
  await q.whenDrained();
  q.close();
});

t.test('at stop, what is queued is sent within the grace; what is left then is dropped and counted', async (t) => {
  const sent: string[][] = [];
  const q = texts('stop', conf({ max_batch_size: 100 }), async (b) => void sent.push(b));
  q.add('a');
  q.add('b');
  const stuck = held();
  const before = dropped('stuck', 'shutdown');
  const s = texts('stuck', conf({ max_coalescing_delay: 0 }), stuck.handler);
  s.add('in flight');
  s.add('waiting');
  await drainQueues(100);
  t.same(sent, [['a', 'b']]);
  t.equal(dropped('stuck', 'shutdown') - before, 1, 'the entry still waiting behind a collector that never answered');
  t.equal(s.add('late'), false, 'nothing is taken after the grace');
  stuck.release();
});

t.test('a full queue whose batch is still out keeps its memory bounded: dropping compacts what it holds', async (t) => {
  const h = held();
  const q = texts('full-while-sending', conf({ max_entries: 10, max_batch_size: 5, max_coalescing_delay: 0 }), h.handler);
  for (let i = 0; i < 100_000; i++) q.add(`e${i}`);
  t.equal(h.batches.length, 1, 'one batch out, never answered');
  t.equal(q.size, 10, 'max_entries kept');
  const store = (q as unknown as { store: { chunkOf: unknown[]; chunks: unknown[] } }).store;
  t.ok(store.chunkOf.length <= 2 * 1024 + 10, `the queue's arrays hold ${store.chunkOf.length} slots, not one per entry added`);
  t.ok(store.chunks.length <= 2, `${store.chunks.length} chunks of bytes kept: the ones no queued entry uses are let go`);
  h.release();
  await waitFor('the second batch', () => (h.batches.length === 2 ? true : undefined));
  t.same(h.batches[1], ['e99990', 'e99991', 'e99992', 'e99993', 'e99994'], 'the newest entries are the ones kept, in order');
  h.release();
  await waitFor('the third batch', () => (h.batches.length === 3 ? true : undefined));
  t.same(h.batches[2], ['e99995', 'e99996', 'e99997', 'e99998', 'e99999']);
  h.release();
  await q.whenDrained();
});

t.test('entries wait as bytes in shared chunks; a batch being sent keeps its bytes while more arrive', async (t) => {
  const store = new ByteStore();
  const wide = 'é€😀'.repeat(50);
  const huge = 'x'.repeat(300 * 1024);
  const texts = [...Array.from({ length: 500 }, (_, i) => `{"n":${i},"s":"${wide}"}`), huge, 'last'];
  const bytesOf = (list: string[]) => list.reduce((n, e) => n + Buffer.byteLength(e), 0);
  for (const text of texts) store.push(text);
  t.equal(store.size, texts.length);
  t.equal(store.bytesOf(wide), Buffer.byteLength(wide), 'max_bytes counts UTF-8 bytes');
  t.equal(store.bytes, bytesOf(texts));
  const first = store.take(200);
  t.equal(store.bytes, bytesOf(texts) - bytesOf(texts.slice(0, 200)), 'a batch taken no longer counts');
  for (let i = 0; i < 1000; i++) store.push(`later ${i}`);
  t.same(first.map(String), texts.slice(0, 200), 'the batch taken is intact after more entries were written');
  const before = store.bytes;
  store.dropOldest();
  t.equal(before - store.bytes, Buffer.byteLength(texts[200]), 'an entry dropped no longer counts');
  const rest = store.take(store.size).map(String);
  t.same(rest, [...texts.slice(201), ...Array.from({ length: 1000 }, (_, i) => `later ${i}`)], 'every entry back in order, the one larger than a chunk too');
  t.equal(store.size, 0);
  t.equal(store.bytes, 0);
});

t.test('encoded entries are copied in: the bytes given can be reused at once, and max_bytes counts them', async (t) => {
  const store = new ByteStore();
  const scratch = Buffer.from('first');
  store.push(scratch);
  scratch.write('XXXXX');
  store.push(scratch);
  t.equal(store.bytesOf(scratch), 5);
  t.same(store.take(2).map(String), ['first', 'XXXXX']);
});

t.test('joinBytes: the body of a batch, as the collectors expect it', async (t) => {
  const batch = ['{"a":1}', '{"b":"é"}'].map((e) => Buffer.from(e));
  t.equal(joinBytes(batch, '[', ',', ']').toString(), '[{"a":1},{"b":"é"}]');
  t.equal(joinBytes(batch, '', '\n', '\n').toString(), '{"a":1}\n{"b":"é"}\n');
  t.equal(joinBytes([], '[', ',', ']').toString(), '[]');
});

t.test('a full queue (collector down) keeps its entries off the JS heap, so collections have nothing of them to copy', async (t) => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const stuck = held();
  const q = texts('off-heap', conf({ max_coalescing_delay: 0 }), stuck.handler);
  const padding = 'p'.repeat(1000);
  // V8 frees dead buffers' memory after a collection, on another thread: waited for, so that buffers of the tests
  // before are not counted as freed between the two readings.
  const settled = async () => {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 100));
    gc();
    return process.memoryUsage();
  };
  const before = await settled();
  let queuedBytes = 0;
  for (let i = 0; i < 10_000; i++) {
    const entry = `{"i":${i},"padding":"${padding}"}`;
    queuedBytes += entry.length;
    q.add(entry);
  }
  const after = await settled();
  t.equal(q.size, 9_999, 'one batch out, never answered; the rest wait');
  const heapMb = (after.heapUsed - before.heapUsed) / 1e6;
  const offHeapMb = (after.arrayBuffers - before.arrayBuffers) / 1e6;
  // As strings, 10,000 entries of ~1 KB held 10 MB or more of heap.
  t.ok(heapMb < 2, `JS heap grew ${heapMb.toFixed(2)} MB`);
  t.ok(offHeapMb >= (0.9 * queuedBytes) / 1e6, `buffers grew ${offHeapMb.toFixed(2)} MB for ${(queuedBytes / 1e6).toFixed(2)} MB queued`);
  q.abandon();
  stuck.release();
});
