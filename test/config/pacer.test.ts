import t from 'tap';
import { Pacer } from '../../src/config/pacer';

/** A pacer on a clock the test moves, recording each break it asks for. */
function pacerOn(sliceMs: number, rest: boolean) {
  const clock = { ms: 0 };
  const breaks: number[] = [];
  const pacer = new Pacer(
    sliceMs,
    rest,
    () => clock.ms,
    async (ms) => {
      breaks.push(ms);
    },
  );
  return { clock, breaks, pacer };
}

t.test('no break inside a slice', async (t) => {
  const { clock, breaks, pacer } = pacerOn(3, true);
  clock.ms = 1;
  await pacer.between();
  clock.ms = 2.9;
  await pacer.between();
  t.same(breaks, []);
});

t.test('with rest, a used-up slice is followed by a break as long as it took, and a new slice starts', async (t) => {
  const { clock, breaks, pacer } = pacerOn(3, true);
  clock.ms = 4;
  await pacer.between();
  clock.ms = 6; // 2 ms into the new slice
  await pacer.between();
  clock.ms = 10;
  await pacer.between();
  t.same(breaks, [4, 6]);
});

t.test('a slice stretched by a long pause rests at most 50 ms', async (t) => {
  const { clock, breaks, pacer } = pacerOn(3, true);
  clock.ms = 400;
  await pacer.between();
  t.same(breaks, [50]);
});

t.test('without rest, a used-up slice only gives the event loop a turn', async (t) => {
  const { clock, breaks, pacer } = pacerOn(3, false);
  clock.ms = 5;
  await pacer.between();
  t.same(breaks, [0]);
});

t.test('the default break lets timers and I/O run', async (t) => {
  let clock = 0;
  const pacer = new Pacer(1, true, () => clock);
  let ticked = false;
  setImmediate(() => (ticked = true));
  clock = 2;
  await pacer.between();
  t.ok(ticked);
});
