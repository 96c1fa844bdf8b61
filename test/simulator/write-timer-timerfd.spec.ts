import t from 'tap'
import { CallerEar } from '../../lib/simulator/ear.ts'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { RawServer } from './helpers.ts'
import { timerfdWithStalls } from './timerfd-model.ts'

// Linux's default write timer (switch_time.c: TFD == 2 when HAVE_TIMERFD_CREATE; timer_next ->
// _timerfd_next, a read() that takes every pending expiry at once and otherwise blocks until the
// next one), selected with writeTimer 'timerfd' (CallerEar.queueUnicast). The matrix timer, the
// simulator's default, is in write-timer.spec.ts. Times are ms on the call timeline.
const frame = (): Int16Array => new Int16Array(160).fill(1000)

t.test('timerfd: a frame is written at once unless a write already took this tick', async (t) => {
  const ear = new CallerEar('timerfd')
  const written = (at: number): number => ear.queueUnicast(frame(), at).writtenMs
  t.same([5, 25, 45, 65].map(written), [5, 25, 45, 65], 'one a tick at any phase: each finds its tick\'s expiry pending (the matrix holds them to 20, 40, 60, 80)')
  t.equal(written(70), 80, 'a second frame in the same tick blocks in read() until the next expiry')
  t.equal(written(81), 100, 'and the one after it waits for its own (tick 4 was taken by the frame before)')
})

t.test('timerfd: after idle ticks the first frame goes out at once (no resync), as measured on FreeSWITCH 1.11', async (t) => {
  // Lab runs wt_timing1-3 (docs/simulator.md "Checked on a real FreeSWITCH"): written 0.1 ms
  // p50 after it arrived, at any phase, after 1 to 50 idle ticks.
  for (const idleTicks of [1, 2, 5, 50]) {
    const ear = new CallerEar('timerfd')
    ear.queueUnicast(frame(), 5)
    const at = 5 + 20 * (idleTicks + 1) + 8
    t.equal(ear.queueUnicast(frame(), at).writtenMs, at, `${idleTicks} idle tick(s): written as it arrives`)
    const matrix = new CallerEar()
    matrix.queueUnicast(frame(), 5)
    const m = matrix.queueUnicast(frame(), at).writtenMs
    t.ok(m >= at, `the matrix never earlier (${m})`)
  }
  const ear = new CallerEar('timerfd')
  t.equal(ear.writeTimer, 'timerfd')
  t.equal(new CallerEar().writeTimer, 'matrix', 'the simulator\'s default stays the stricter matrix')
})

t.test('timerfd: a stall\'s frames are written one a tick from its end, the first at once; the lag stays until free ticks', async (t) => {
  const ear = new CallerEar('timerfd')
  const written = (at: number): number => ear.queueUnicast(frame(), at).writtenMs
  t.same([5, 41, 61, 81].map(written), [5, 41, 61, 81])
  ear.stall(100, 50)
  t.same([101, 121, 141].map(written), [150, 160, 180], 'the read after the stall took every expiry due: the first at 150, then one a tick')
  t.same([161, 181].map((at) => written(at) - at), [39, 39], 'a frame a tick keeps the lag')
  t.same([221, 241].map((at) => written(at) - at), [19, 19], 'a tick with nothing of ours (201) gives 20 ms back')
  t.equal(written(281), 281, 'another (261), and frames are written as they arrive again')
})

t.test('timerfd: the simulator writes exactly as the independent timerfd model, with and without stalls', async (t) => {
  let seed = 7
  const rnd = (): number => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed / 2 ** 32 }
  for (let run = 0; run < 50; run++) {
    const stalls: Array<[number, number]> = []
    if (run % 2 === 1) for (let from = rnd() * 400; from < 4000; from += 200 + rnd() * 600) stalls.push([from, from + 5 + rnd() * 80])
    const model = timerfdWithStalls(stalls)
    const ear = new CallerEar('timerfd')
    const matrix = new CallerEar('matrix')
    for (const [from, to] of stalls) { ear.stall(from, to - from); matrix.stall(from, to - from) }
    let at = rnd() * 20
    for (let i = 0; i < 200; i++) {
      const r = rnd()
      at += r < 0.1 ? rnd() * 2 : r < 0.15 ? 40 + rnd() * 60 : 20 + (rnd() - 0.5) * 8
      const w = ear.queueUnicast(frame(), at).writtenMs
      const expected = model(at)
      const m = matrix.queueUnicast(frame(), at).writtenMs
      if (Math.abs(w - expected) > 1e-9 || m < w - 1e-9) {
        t.fail(`run ${run}, frame ${i} (arrived ${at.toFixed(1)}): timerfd ear ${w.toFixed(1)}, model ${expected.toFixed(1)}, matrix ${m.toFixed(1)}`)
        return
      }
    }
  }
  t.pass('50 random runs (half with stalls): the same writes as the model, and the matrix never earlier')
})

t.test('the write timer is chosen per simulator and per call', async (t) => {
  const srv = new RawServer()
  const port = await srv.listen()
  const fs = new FakeFreeSwitch({ writeTimer: 'timerfd' })
  const a = fs.placeCall({ port })
  const b = fs.placeCall({ port, writeTimer: 'matrix' })
  const c = new FakeFreeSwitch().placeCall({ port })
  t.teardown(async () => {
    for (const call of [a, b, c]) call.hangup()
    await Promise.all([a.ended, b.ended, c.ended])
    await srv.close()
  })
  t.equal(a.ear.writeTimer, 'timerfd', 'the simulator\'s option')
  t.equal(b.ear.writeTimer, 'matrix', 'a call\'s own option wins')
  t.equal(c.ear.writeTimer, 'matrix', 'and the default is the matrix')
})
