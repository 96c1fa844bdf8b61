import t from 'tap'
import { CallerEar } from '../../lib/simulator/ear.ts'
import { timerfdWithStalls } from './timerfd-model.ts'

// FreeSWITCH writes our unicast frames on its RTP write timer (switch_rtp.c get_next_write_ts ->
// switch_core_timer_next; switch_time.c timer_next): see CallerEar.queueUnicast. Times are ms on
// the call timeline, whose 20 ms grid is the switch's timer tick.
const frame = (): Int16Array => new Int16Array(160).fill(1000)
const play = (ear: CallerEar, at: number): number => ear.queueUnicast(frame(), at).playMs

t.test('each write waits for the tick after the previous write', async (t) => {
  const ear = new CallerEar()
  t.same([5, 25, 45, 65].map((at) => play(ear, at)), [20, 40, 60, 80], 'frames 5 ms past the tick are held 15 ms each: the switch\'s grid, not ours')
})

t.test('a frame that arrives after its tick was due goes out at once', async (t) => {
  const ear = new CallerEar()
  play(ear, 5)
  t.equal(play(ear, 41), 41, 'last write at tick 1, arrival in tick 2: timer_next returns at once')
  t.equal(play(ear, 61), 61, 'and so on while each arrives in the tick after the last write')
  t.equal(play(ear, 70), 81, 'a second frame in the same tick (a reply\'s first frame off the grid) is written at the next tick (80) and heard once the frame before it has played (81)')
})

t.test('after two or more ticks with no write the timer is synced: the frame waits for the next tick', async (t) => {
  const ear = new CallerEar()
  play(ear, 5)
  t.equal(play(ear, 93), 100, 'no write since tick 1, arrival in tick 4: written at tick 5')
  t.equal(play(ear, 94), 120, 'the next frame in the same tick: the tick after')
})

/**
 * Linux's default soft timer is not the matrix: with timerfd (HAVE_TIMERFD_CREATE, TFD == 2 in
 * switch_time.c) each timer is a timerfd of its own and timer_next is _timerfd_next, a read()
 * that returns at once when an expiry is pending (however many) and otherwise blocks until the
 * next one. The unicast thread writes one frame at a time, so a frame is written no earlier than
 * the one before it. The simulator models the matrix (timer_next), which must never be easier:
 * over bursts, gaps and jitter, no frame is written earlier than timerfd would write it.
 */
function timerfdWrites (arrivals: readonly number[]): number[] {
  let consumed = Number.NEGATIVE_INFINITY // the index of the last expiry a read consumed
  let last = Number.NEGATIVE_INFINITY
  return arrivals.map((arrival) => {
    const at = Math.max(arrival, last)
    const tick = Math.floor(at / 20)
    if (consumed < tick) {
      consumed = tick
      last = at
    } else {
      consumed++
      last = consumed * 20
    }
    return last
  })
}

/** A seeded random generator (an LCG), so a failing run can be replayed. */
function seeded (seed: number): () => number {
  return () => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed / 2 ** 32 }
}

/** `n` arrival times: mostly 20 ms apart with jitter; some bursts (a reply's lead, a catch-up), some gaps. */
function randomArrivals (rnd: () => number, n: number): number[] {
  const arrivals: number[] = []
  let at = rnd() * 20
  for (let i = 0; i < n; i++) {
    const r = rnd()
    at += r < 0.1 ? rnd() * 2 : r < 0.15 ? 40 + rnd() * 60 : 20 + (rnd() - 0.5) * 8
    arrivals.push(at)
  }
  return arrivals
}

t.test('the matrix timer the simulator models is never easier than Linux\'s timerfd timer', async (t) => {
  const rnd = seeded(11)
  for (let run = 0; run < 50; run++) {
    const arrivals = randomArrivals(rnd, 200)
    const ear = new CallerEar()
    const simulated = arrivals.map((a) => ear.queueUnicast(frame(), a).writtenMs)
    const linux = timerfdWrites(arrivals)
    const easier = simulated.findIndex((w, i) => w < (linux[i] as number) - 1e-9)
    if (easier !== -1) {
      t.fail(`run ${run}: frame ${easier} written at ${simulated[easier]} in the simulator, ${linux[easier]} on timerfd`)
      return
    }
  }
  t.pass('no frame written earlier than on timerfd in 50 random runs')
  t.same(timerfdWrites([5, 93]), [5, 93], 'and where they differ: after idle ticks timerfd writes at once, the matrix waits (100)')
})

// switch.conf enable-softtimer-timerfd=false on Linux: TFD = 1 and MATRIX = 0, so timer_next
// sleeps 20 ms before every write (ear.ts WriteTimer 'sleep'). Checked on a real FreeSWITCH
// 1.11.3 (lab runs m1 and n1, 2026-12-03): 99.0-99.5 % of frames within 1 ms of this rule.
t.test('the sleep timer writes each frame 20 ms after the later of its arrival and the last write', async (t) => {
  const ear = new CallerEar('sleep')
  const written = (at: number): number => ear.queueUnicast(frame(), at).writtenMs
  t.equal(written(5), 25, 'a frame after idle ticks waits 20 ms (timerfd: at once)')
  t.same([25, 45, 65].map(written), [45, 65, 85], 'one a tick: each 20 ms late')
  t.same([66, 67, 68].map(written), [105, 125, 145], 'a burst: 20 ms after the write before')
  t.equal(written(300), 320, 'after a pause, 20 ms after it came')
  const arrivals = randomArrivals(seeded(5), 2000)
  const sleeping = new CallerEar('sleep')
  const slow = arrivals.map((a) => sleeping.queueUnicast(frame(), a).writtenMs)
  const linux = timerfdWrites(arrivals)
  t.ok(slow.every((w, i) => w >= (linux[i] as number) + 20 - 1e-9), 'never less than 20 ms later than on timerfd')
})

// Checked on a real FreeSWITCH 1.11 (Linux, timerfd; lab runs wt_timing1/2, docs/simulator.md):
// after the unicast thread stalls, what waited in the socket is written one frame per tick and
// the lag stays while we send a frame per tick; each tick with no frame of ours gives 20 ms back.
t.test('a stall of FreeSWITCH\'s unicast thread leaves a lag that a frame per tick never makes up; free ticks drain it', async (t) => {
  const ear = new CallerEar()
  const written = (at: number): number => ear.queueUnicast(frame(), at).writtenMs
  written(5)
  t.same([41, 61, 81].map(written), [41, 61, 81], 'warm: written as they arrive')
  ear.stall(100, 50)
  t.same([101, 121, 141].map(written), [160, 180, 200], 'the frames that came during the stall: one a tick once it ends (the matrix resyncs: timerfd writes the first at 150)')
  const steady = [161, 181, 201].map((at) => written(at) - at)
  t.same(steady, [59, 59, 59], 'sent one a tick after it, every frame keeps the lag')
  t.same([241, 261].map((at) => written(at) - at), [39, 39], 'a tick with no frame (221) gives 20 ms back, for good')
  t.equal(written(301) - 301, 19, 'another (281)')
  t.equal(written(341), 341, 'and after one more (321) frames are written as they arrive again')
  t.equal(ear.heard.length, 14, 'nothing sent during the stall is lost')
  t.same(ear.heard.map((f) => f.arrivalMs), [5, 41, 61, 81, 101, 121, 141, 161, 181, 201, 241, 261, 301, 341], 'and all are heard in order')
})

t.test('with stalls too, no frame is written earlier than on timerfd', async (t) => {
  let seed = 29
  const rnd = (): number => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed / 2 ** 32 }
  for (let run = 0; run < 50; run++) {
    const stalls: Array<[number, number]> = []
    for (let from = rnd() * 400; from < 4000; from += 200 + rnd() * 600) stalls.push([from, from + 5 + rnd() * 80])
    // timerfd with the same stalls (timerfd-model.ts).
    const linux = timerfdWithStalls(stalls)
    const ear = new CallerEar()
    for (const [from, to] of stalls) ear.stall(from, to - from)
    let at = rnd() * 20
    for (let i = 0; i < 200; i++) {
      const r = rnd()
      at += r < 0.1 ? rnd() * 2 : r < 0.15 ? 40 + rnd() * 60 : 20 + (rnd() - 0.5) * 8
      const simulated = ear.queueUnicast(frame(), at).writtenMs
      const real = linux(at)
      if (simulated < real - 1e-9) {
        t.fail(`run ${run}: frame ${i} (arrived ${at.toFixed(1)}) written at ${simulated.toFixed(1)} in the simulator, ${real.toFixed(1)} on timerfd`)
        return
      }
    }
  }
  t.pass('no frame written earlier than on timerfd in 50 random runs with stalls')
})

t.test('frames still waiting for their write tick when the channel hangs up are never heard', async (t) => {
  const ear = new CallerEar()
  // A burst of ten at 5 ms: written one a tick, 20 ms to 200 ms.
  const written = Array.from({ length: 10 }, () => ear.queueUnicast(frame(), 5).writtenMs)
  t.same(written, [20, 40, 60, 80, 100, 120, 140, 160, 180, 200])
  ear.hangUpAt(90)
  t.same(ear.heard.map((f) => f.writtenMs), [20, 40, 60, 80], 'the four written before the hangup; the rest were dropped with the channel')
  ear.queueUnicast(frame(), 95)
  t.equal(ear.heard.length, 4, 'and nothing after it')
  t.equal(ear.lastHeardEndMs(), 100, 'the caller heard up to the end of the last frame written')
})
