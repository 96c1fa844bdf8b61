import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { MediaEndpoint } from '../../lib/media/stream/endpoint.ts'
import { KEEP_ALIVE_MS, LOUD_PEAK, QuietIdle, WARM_MS } from '../../lib/media/stream/quiet-idle.ts'
import { until } from '../helpers/until.ts'
import { fakeSwitch } from './fake-switch.ts'

const quietLine = (): Int16Array => Int16Array.from({ length: 160 }, (_, i) => (i % 7) * 10 - 30) // peaks of 30: ~-60 dBFS
const voice = (): Int16Array => Int16Array.from({ length: 160 }, (_, i) => Math.round(2000 * Math.sin(i / 3)))

t.test('warm from the start and after a sound or our audio; then one frame per keep-alive interval', async (t) => {
  const q = new QuietIdle(0)
  t.ok(q.wanted(WARM_MS - 1), 'warm from the start for the warm window')
  t.ok(q.wanted(WARM_MS), 'nothing sent yet: the keep-alive is due')
  q.sent(WARM_MS, false)
  t.notOk(q.wanted(WARM_MS + 20), 'cold: no silence on the next tick')
  t.notOk(q.wanted(WARM_MS + KEEP_ALIVE_MS - 1))
  t.ok(q.wanted(WARM_MS + KEEP_ALIVE_MS), 'the keep-alive a second later')
  // A quiet line does not warm the call.
  for (let at = WARM_MS + 20; at < WARM_MS + 3000; at += 20) q.heard(quietLine(), at)
  q.sent(WARM_MS + 3000, false)
  t.notOk(q.wanted(WARM_MS + 3020), 'a quiet line (peaks far below -40 dBFS) stays cold')
  q.heard(voice(), WARM_MS + 3040)
  t.ok(q.wanted(WARM_MS + 3060), 'the caller made a sound: warm')
  t.ok(q.wanted(WARM_MS + 3040 + WARM_MS - 1), 'for the warm window')
  q.sent(2 * WARM_MS + 3040, false)
  t.notOk(q.wanted(2 * WARM_MS + 3060), 'then cold again')
  q.sent(2 * WARM_MS + 3100, true)
  t.ok(q.wanted(2 * WARM_MS + 3120), 'our own audio warms it too')
})

t.test('a sound is one sample above the threshold, either sign; Infinity keeps it warm', async (t) => {
  const q = new QuietIdle(0)
  q.sent(WARM_MS, false)
  const frame = new Int16Array(160)
  frame[40] = -(LOUD_PEAK + 1)
  q.heard(frame, WARM_MS + 1500)
  t.ok(q.wanted(WARM_MS + 1520), 'a negative peak counts')
  const always = new QuietIdle(0, Number.POSITIVE_INFINITY)
  always.sent(1e9, false)
  t.ok(always.wanted(1e9 + 20), 'never cold')
  const odd = new QuietIdle(0, Number.NaN, -5)
  t.ok(odd.wanted(WARM_MS - 1), 'a bad warm window falls back to the default')
  odd.sent(WARM_MS, false)
  t.notOk(odd.wanted(WARM_MS + 20))
  t.ok(odd.wanted(WARM_MS + KEEP_ALIVE_MS), 'and a bad keep-alive interval too')
})

t.test('an endpoint on a quiet line: silence every tick while warm, a keep-alive once cold, at once again when audio comes', async (t) => {
  const fs = await fakeSwitch()
  const { logger, clock, scheduler, received } = fs
  // Alignment off: the shared grid, one idle frame per tick while warm (no write-tick model in the way).
  const ep = await MediaEndpoint.open({ rate: 8000, logger, scheduler, leadFrames: 0, alignToWriteTicks: false, warmIdleMs: 1000, peer: fs.peer })
  await fs.send(Buffer.from(quietLine().buffer), ep.localAddress.port)
  await until(() => ep.stats.received === 1)
  // Warm for the first second: one silence frame per 20 ms tick.
  clock.advance(500)
  await until(() => received.length >= 25)
  const warm = received.length
  t.ok(warm >= 25 && warm <= 27, `silence on every tick while warm (${warm} in 500 ms)`)
  clock.advance(600)
  await sleep(20)
  const cold = received.length
  // The last warm frame went at 1980 (the clock starts at 1000): the keep-alive is due at 2980.
  clock.advance(860)
  await sleep(20)
  t.equal(received.length, cold, 'cold: nothing for the rest of the keep-alive interval')
  clock.advance(40)
  await until(() => received.length === cold + 1)
  t.pass('one keep-alive frame a second')
  clock.advance(500)
  await sleep(20)
  t.equal(received.length, cold + 1)
  ep.enqueue(new Int16Array(480).fill(700)) // 60 ms
  await until(() => received.length === cold + 2)
  t.equal(received.at(-1)?.readInt16LE(0), 700, 'a reply on a cold call goes out at once, not at the next keep-alive')
  t.equal(ep.stats.coldStarts, 1, 'counted as a cold start')
  clock.advance(40)
  await until(() => received.length === cold + 4)
  clock.advance(200)
  await until(() => received.length >= cold + 13)
  t.ok(received.slice(cold + 4).every((b) => b.every((x) => x === 0)), 'after the reply the call is warm: silence every tick')
  ep.enqueue(new Int16Array(160).fill(800))
  t.equal(ep.stats.coldStarts, 1, 'a reply on the warm call is not')
  await ep.close()
  fs.close()
})
