// The balancing algorithms on their own (src/balancer/algorithms.ts); how each compares with Kong's
// kong/runloop/balancer/{round_robin,consistent_hashing,least_connections,latency}.lua is in docs/load-balancing.md.
import t from 'tap';
import { ConsistentHashing, Latency, LeastConnections, RoundRobin, hash32 } from '../../src/balancer/algorithms';

const all = () => true;

function spread(pick: () => number, n: number, size: number): number[] {
  const counts = new Array(size).fill(0);
  for (let i = 0; i < n; i++) counts[pick()]++;
  return counts;
}

t.test('round-robin: exactly the weights over a cycle, smoothly (no burst to the heaviest)', async (t) => {
  const rr = new RoundRobin([5, 1, 1]);
  const seq = Array.from({ length: 7 }, () => rr.pick(all));
  t.same(seq, [0, 0, 1, 0, 2, 0, 0], 'nginx smooth weighted round-robin order');
  const rr2 = new RoundRobin([100, 50, 25]);
  t.same(spread(() => rr2.pick(all), 3500, 3), [2000, 1000, 500]);
  let longest = 0;
  let run = 0;
  let last = -1;
  const rr3 = new RoundRobin([100, 100, 100]);
  for (let i = 0; i < 300; i++) {
    const p = rr3.pick(all);
    run = p === last ? run + 1 : 1;
    last = p;
    longest = Math.max(longest, run);
  }
  t.equal(longest, 1, 'equal weights alternate strictly');
});

t.test('round-robin: targets not eligible are skipped, the others keep their ratio', async (t) => {
  const rr = new RoundRobin([1, 1, 2]);
  t.same(spread(() => rr.pick((i) => i !== 1), 300, 3), [100, 0, 200]);
  t.equal(rr.pick(() => false), -1);
});

t.test('consistent-hashing: same key same target; spread follows weights', async (t) => {
  const ring = new ConsistentHashing(['a:80', 'b:80', 'c:80'], [100, 100, 100], 10000);
  t.equal(ring.pick(all, 'user-1'), ring.pick(all, 'user-1'));
  const counts = spread(
    (() => {
      let k = 0;
      return () => ring.pick(all, `key-${k++}`);
    })(),
    30000,
    3,
  );
  for (const c of counts) t.ok(c > 8000 && c < 12000, `about a third each (${counts})`);
});

t.test('consistent-hashing: a fourth target takes only keys for itself; the others stay', async (t) => {
  const three = new ConsistentHashing(['a:80', 'b:80', 'c:80'], [100, 100, 100], 10000);
  const four = new ConsistentHashing(['a:80', 'b:80', 'c:80', 'd:80'], [100, 100, 100, 100], 10000);
  let kept = 0;
  let movedElsewhere = 0;
  const n = 10000;
  for (let k = 0; k < n; k++) {
    const before = three.pick(all, `k${k}`);
    const after = four.pick(all, `k${k}`);
    if (before === after) kept++;
    else if (after !== 3) movedElsewhere++;
  }
  t.equal(movedElsewhere, 0, 'every key that moved went to the new target');
  t.ok(kept / n > 0.7, `about three quarters kept (the share the new target must take): ${kept / n}`);
  const light = new ConsistentHashing(['a:80', 'b:80', 'c:80', 'd:80'], [100, 100, 100, 30], 10000);
  let keptLight = 0;
  for (let k = 0; k < n; k++) if (three.pick(all, `k${k}`) === light.pick(all, `k${k}`)) keptLight++;
  t.ok(keptLight / n >= 0.9, `a fourth target of weight 30 leaves ≥ 90% of keys in place: ${keptLight / n}`);
});

t.test('consistent-hashing: a key whose target is down goes to the next, and comes back', async (t) => {
  const ring = new ConsistentHashing(['a:80', 'b:80', 'c:80'], [100, 100, 100], 10000);
  const home = ring.pick(all, 'sticky');
  const away = ring.pick((i) => i !== home, 'sticky');
  t.not(away, home);
  t.equal(ring.pick((i) => i !== home, 'sticky'), away, 'stable while it is down');
  t.equal(ring.pick(all, 'sticky'), home);
  t.ok(new ConsistentHashing(['a:80'], [100], 10).pick(all, undefined) === 0, 'no key: round-robin');
});

t.test('least-connections: fewest in flight per weight; idle ties go round', async (t) => {
  const active = [0, 0, 0];
  const lc = new LeastConnections([100, 100, 100], (i) => active[i]);
  t.same([lc.pick(all), lc.pick(all), lc.pick(all)], [0, 1, 2]);
  active[0] = 3;
  active[1] = 1;
  t.equal(lc.pick(all), 2);
  active[2] = 5;
  t.equal(lc.pick(all), 1);
  const weighted = new LeastConnections([200, 100], (i) => [1, 0][i]);
  t.equal(weighted.pick(all), 0, '(1+1)/200 < (0+1)/100');
});

t.test('latency: unmeasured targets first, then the lowest moving average', async (t) => {
  const avg: Array<number | undefined> = [undefined, undefined, undefined];
  const lat = new Latency([100, 100, 100], () => 0, (i) => avg[i]);
  t.same([lat.pick(all), lat.pick(all), lat.pick(all)], [0, 1, 2]);
  avg[0] = 50;
  avg[1] = 5;
  avg[2] = 20;
  t.equal(lat.pick(all), 1);
  t.equal(lat.pick((i) => i !== 1), 2);
});

t.test('hash32 spreads near keys', async (t) => {
  t.not(hash32('a'), hash32('b'));
  t.equal(hash32('same'), hash32('same'));
});
