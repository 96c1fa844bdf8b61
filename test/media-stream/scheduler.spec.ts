import t from 'tap'
import { COALESCE_MS, FrameScheduler } from '../../lib/media/stream/scheduler.ts'
import { FakeClock } from './fake-clock.ts'

function setup (maxCatchUpFrames = 2) {
  const clock = new FakeClock()
  const scheduler = new FrameScheduler({ clock, timers: clock, maxCatchUpFrames })
  const ticks: Array<{ frames: number, now: number }> = []
  const remove = scheduler.add({ onTick: (frames, now) => { ticks.push({ frames, now }) } })
  return { clock, scheduler, ticks, remove }
}

t.test('ticks once per frame on an absolute grid', async (t) => {
  const { clock, ticks, remove } = setup()
  clock.advance(1000)
  // Tick 0 at once, then one every 20 ms: 51 ticks in [0, 1000].
  t.equal(ticks.length, 51)
  t.ok(ticks.every((x) => x.frames === 1))
  t.same(ticks.slice(0, 3).map((x) => x.now - 1000), [0, 20, 40])
  remove()
  t.equal(clock.pending, 0, 'the last unsubscribe stops the timer')
})

t.test('a late wake-up catches up the missed slot, no drift accumulates', async (t) => {
  const { clock, ticks, scheduler, remove } = setup()
  clock.advance(0)
  clock.stall(25) // the timer for t=20 fires at t=25
  clock.advance(0)
  t.same(ticks.map((x) => x.frames), [1, 1], 'one slot due at 20 ms')
  clock.stall(30) // now 55: slots 40 fell due, 60 not yet
  clock.advance(0)
  t.same(ticks.map((x) => x.frames), [1, 1, 1])
  clock.advance(5) // 60
  t.equal(ticks.length, 4)
  t.equal(ticks[3]?.now, 1060, 'the grid is still anchored at the start')
  clock.stall(45) // the timer for 80 fires at 105: slots 80 and 100 are due
  clock.advance(0)
  t.equal(ticks[4]?.frames, 2, 'a wake-up 25 ms late hands out both missed slots')
  t.equal(scheduler.stats.lateWakeups, 1)
  t.equal(scheduler.stats.skippedFrames, 0)
  remove()
})

t.test('a long stall skips slots beyond the catch-up bound instead of bursting', async (t) => {
  const { clock, ticks, scheduler, remove } = setup(2)
  clock.advance(0)
  clock.stall(500) // 25 slots missed
  clock.advance(0)
  t.equal(ticks[1]?.frames, 2, 'at most maxCatchUpFrames at once')
  t.equal(scheduler.stats.skippedFrames, 23, 'slots 20..500 are 25: 2 sent, 23 skipped')
  const before = ticks.length
  clock.advance(20)
  t.equal(ticks.length, before + 1)
  t.equal(ticks.at(-1)?.frames, 1, 'back to one frame per tick')
  remove()
})

t.test('subscribers share one timer; a throwing subscriber does not stop the others', async (t) => {
  const clock = new FakeClock()
  const errors: unknown[] = []
  const scheduler = new FrameScheduler({ clock, timers: clock, onError: (err) => { errors.push(err) } })
  let good = 0
  const removes = [
    scheduler.add({ onTick: () => { throw new Error('boom') } }),
    ...Array.from({ length: 100 }, () => scheduler.add({ onTick: () => { good++ } })),
  ]
  t.equal(clock.pending, 1, 'one timer for 101 subscribers')
  clock.advance(40)
  t.equal(good, 300)
  t.equal(errors.length, 3)
  t.equal(scheduler.stats.errors, 3)
  for (const r of removes) { r(); r() }
  t.equal(scheduler.size, 0)
  t.equal(scheduler.running, false)
  t.equal(clock.pending, 0)
})

t.test('unsubscribing and resubscribing inside a tick arms exactly one timer', async (t) => {
  const clock = new FakeClock()
  const scheduler = new FrameScheduler({ clock, timers: clock })
  let remove: () => void = () => {}
  let again: (() => void) | undefined
  remove = scheduler.add({
    onTick: () => {
      if (again !== undefined) return
      remove()
      again = scheduler.add({ onTick: () => {} })
    },
  })
  clock.advance(0)
  t.equal(clock.pending, 1)
  again?.()
  t.equal(clock.pending, 0)
})

t.test('lanes: own anchors on the one timer, close ones served together, drift-free, closed lanes stop', async (t) => {
  const { clock, scheduler, ticks, remove } = setup()
  const a: number[] = []
  const b: number[] = []
  clock.advance(10) // half a frame off the grid: beyond the 3 ms a wake-up reaches ahead
  const closeA = scheduler.addLane({ onTick: (_f, now) => { a.push(now) } }, clock.now())
  clock.advance(0.5)
  const closeB = scheduler.addLane({ onTick: (_f, now) => { b.push(now) } }, clock.now())
  clock.advance(60)
  t.same(a.map((x) => x - 1010), [20, 40, 60], 'lane A: slot k at its anchor + 20k')
  t.same(b, a, 'lane B, due 0.5 ms after A, is served by the same wake-up (coalesced)')
  const c: number[] = []
  const closeC = scheduler.addLane({ onTick: (_f, now) => { c.push(now) } }, 1062) // slot 1 due at 1082
  clock.advance(20)
  t.same(c, [1080], 'a lane due 2 ms after the grid is served by the grid\'s wake-up, 2 ms early')
  closeC()
  const d: number[] = []
  const closeD = scheduler.addLane({ onTick: (_f, now) => { d.push(now) } }, 1084) // slot 1 due at 1104
  clock.advance(20)
  t.same(d, [1104], 'a lane due 4 ms after the grid waits for its own wake-up: never more than COALESCE_MS early')
  t.equal(COALESCE_MS, 3)
  closeD()
  t.same(ticks.slice(0, 4).map((x) => x.now - 1000), [0, 20, 40, 60], 'the shared grid is unchanged')
  clock.stall(100)
  clock.advance(0)
  t.equal(scheduler.stats.laneSkippedFrames, 6, 'a stall: each lane catches up 2 slots and skips the rest (3 each)')
  closeA()
  closeB()
  closeA()
  t.equal(scheduler.lanes, 0)
  const before = a.length
  clock.advance(100)
  t.equal(a.length, before, 'a closed lane is never ticked')
  remove()
  t.equal(clock.pending, 0, 'no timer left')
})

t.test('once: runs at its time on the same timers; cancelled, it never runs and leaves no timer', async (t) => {
  const clock = new FakeClock()
  const scheduler = new FrameScheduler({ clock, timers: clock })
  const ran: number[] = []
  scheduler.once(() => { ran.push(clock.now()) }, clock.now() + 7)
  const cancel = scheduler.once(() => { ran.push(-1) }, clock.now() + 9)
  cancel()
  cancel()
  clock.advance(20)
  t.same(ran, [1007], 'the first ran at +7, the cancelled one never')
  t.equal(clock.pending, 0, 'no timer left')
})
