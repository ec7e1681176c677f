// The local policy across a worker pool, without processes: the primary's grants (grantLease on the real
// counters) and workers' lease holders (LeasedCounters), joined by an in-process transport that counts calls.
import t from 'tap';
import { grantLease, leaseSize, LeasedCounters, MAX_LEASE, type Lease, type LeaseRequest } from '../../src/plugins/rate-limiting/leases';
import { acquireCounters, releaseCounters } from '../../src/plugins/rate-limiting/local-counters';
import { PERIODS, type PeriodIndex } from '../../src/plugins/rate-limiting/windows';
import { roomInWindow } from '../helpers/windows';

const P = (name: (typeof PERIODS)[number]) => PERIODS.indexOf(name) as PeriodIndex;

/** `workers` lease holders on one scope of the primary's counters, and how many leases each asked for. */
function pool(scope: string, workers: number) {
  const counters = acquireCounters(scope);
  const asked = Array.from({ length: workers }, () => 0);
  const holders = asked.map(
    (_, i) =>
      new LeasedCounters(scope, async (request: LeaseRequest): Promise<Lease> => {
        asked[i]++;
        await new Promise((r) => setImmediate(r)); // an IPC round trip's worth of waiting
        return grantLease(request, workers, Date.now());
      }),
  );
  return {
    holders,
    asked,
    close: () => {
      holders.forEach((h) => h.close());
      releaseCounters(counters);
    },
  };
}

t.before(() => roomInWindow('hour', 10_000));

t.test('a lease is a share of the room left: half of it over the workers, one near the limit, capped', async (t) => {
  t.equal(leaseSize(1000, 2), MAX_LEASE, 'capped');
  t.equal(leaseSize(100, 2), 25);
  t.equal(leaseSize(8, 2), 2);
  t.equal(leaseSize(3, 2), 1, 'near the limit, one at a time');
  t.equal(leaseSize(1, 4), 1);
  t.equal(leaseSize(1_000_000, 1), MAX_LEASE);
});

t.test('grants never go past the limit, in any period', async (t) => {
  const counters = acquireCounters('grants');
  const request: LeaseRequest = { scope: 'grants', identifier: 'a', periods: [P('minute'), P('hour')], limits: [10, 12] };
  const now = Date.now();
  const grants: Lease[] = [];
  for (let i = 0; i < 20; i++) grants.push(grantLease(request, 2, now));
  const total = grants.reduce((n, g) => n + g.granted, 0);
  t.equal(total, 10, 'the minute limit is reached exactly');
  t.same(grants[0], { granted: 2, usage: [0, 0], from: grants[0].from, until: grants[0].until }, 'the first: a quarter of 10');
  t.ok(grants[0].from <= now && now < grants[0].until && grants[0].until - grants[0].from <= 60_000, 'held for the minute at most');
  const refused = grants.find((g) => g.granted === 0)!;
  t.same(refused.usage, [10, 10], 'a refusal reports the usage');
  t.same(grantLease({ ...request, identifier: 'b' }, 2, now).granted, 2, 'another identifier has its own room');
  t.same(grantLease({ ...request, scope: 'gone' }, 2, now).granted, 1, 'a scope no longer configured lets the request through');
  releaseCounters(counters);
});

t.test('two workers together let exactly the limit through; Remaining counts each permit once', async (t) => {
  const p = pool('exact', 2);
  const periods = [P('hour')];
  const limits = [50];
  const results = await Promise.all(
    Array.from({ length: 120 }, async (_, i) => {
      const usage = [0];
      const allowed = await p.holders[i % 2].take('who', periods, limits, usage);
      return { allowed, usage: usage[0] };
    }),
  );
  const passed = results.filter((r) => r.allowed);
  t.equal(passed.length, 50);
  t.same(passed.map((r) => r.usage).sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i), 'usage 0..49, each once');
  t.ok(results.filter((r) => !r.allowed).every((r) => r.usage === 50), 'refusals see the limit used up');
  t.ok(p.asked[0] + p.asked[1] < 50, `fewer round trips than requests (${p.asked[0] + p.asked[1]})`);
  p.close();
});

t.test('held permits and refusals answer without asking again', async (t) => {
  const p = pool('held', 1);
  const [worker] = p.holders;
  const usage = [0];
  t.equal(await worker.take('x', [P('hour')], [6], usage), true);
  t.equal(p.asked[0], 1);
  t.equal(worker.takeHeld('x', Date.now(), usage), true, 'the rest of the block is here');
  t.equal(usage[0], 1);
  while (await worker.take('x', [P('hour')], [6], usage));
  const asked = p.asked[0];
  t.equal(worker.takeHeld('x', Date.now(), usage), false, 'the refusal is held');
  t.equal(usage[0], 6);
  t.equal(p.asked[0], asked);
  t.equal(worker.takeHeld('x', Date.now() + 3_600_000, usage), undefined, 'until its window ends');
  t.equal(worker.takeHeld('y', Date.now(), usage), undefined, 'another identifier holds nothing yet');
  p.close();
});

t.test('requests waiting on one identifier share one question to the primary', async (t) => {
  const p = pool('shared', 1);
  const [worker] = p.holders;
  const results = await Promise.all(Array.from({ length: 10 }, () => worker.take('z', [P('hour')], [1000], [0])));
  t.ok(results.every(Boolean));
  t.equal(p.asked[0], 1, 'one lease of 100 served all ten');
  p.close();
});
