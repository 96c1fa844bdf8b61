import t, { type Test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { MediaEndpoint } from '../../lib/media/stream/endpoint.ts'
import { streamSchema } from '../../lib/media/stream/config.ts'
import { until } from '../helpers/until.ts'
import { fakeSwitch } from './fake-switch.ts'

// `writeTimer: 'timerfd'` (media.stream.writeTimer's default): FreeSWITCH on Linux's timerfd soft
// timer writes a frame after idle ticks at once (switch_time.c _timerfd_next; measured on
// FreeSWITCH 1.11, docs/simulator.md), so there is no write timer to keep warm: no idle silence on
// every tick, only the keep-alive frame a second, and a reply's first frame goes to the socket the
// moment it is queued. The matrix timer's warm window is in quiet-idle.spec.ts.

/** A frame of the caller talking (peaks well above -40 dBFS): on the matrix timer it keeps the call warm. */
function voice (): Buffer {
  const s = new Int16Array(160)
  for (let i = 0; i < s.length; i++) s[i] = Math.round(8000 * Math.sin(i / 3))
  return Buffer.from(s.buffer)
}

async function rig (t: Test, writeTimer: 'timerfd' | 'matrix' | undefined) {
  const { logger, clock, scheduler, received, peer, send, close } = await fakeSwitch()
  const ep = await MediaEndpoint.open({ rate: 8000, logger, scheduler, leadFrames: 1, writeTimer, peer })
  t.teardown(async () => { await ep.close(); close() })
  // The caller talks: FreeSWITCH's frames arrive (and it starts playing ours).
  const sendVoice = async (): Promise<void> => { await send(voice(), ep.localAddress.port) }
  await sendVoice()
  await until(() => ep.stats.received === 1)
  return { clock, ep, received, sendVoice, scheduler }
}

t.test('timerfd: a talking caller gets no idle silence on every tick, only the keep-alive', async (t) => {
  const { clock, ep, received, sendVoice } = await rig(t, 'timerfd')
  clock.advance(20)
  await until(() => received.length === 1)
  t.pass('the first keep-alive once FreeSWITCH plays our frames')
  for (let i = 0; i < 45; i++) {
    clock.advance(20)
    if (i % 5 === 0) await sendVoice()
  }
  await sleep(30)
  t.equal(received.length, 1, `nothing more in 900 ms of the caller talking (${received.length})`)
  clock.advance(120)
  await until(() => received.length === 2)
  t.ok(received[1]?.every((b) => b === 0), 'the keep-alive a second later is silence')
  t.equal(ep.stats.silenceSent, 2)
})

t.test('timerfd: a reply goes to the socket as it is queued, paces from there, and the call goes quiet after it', async (t) => {
  const { clock, ep, received, scheduler } = await rig(t, 'timerfd')
  clock.advance(20)
  await until(() => received.length === 1)
  clock.advance(487) // mid-tick, far from the next keep-alive
  ep.enqueue(new Int16Array(800).fill(700)) // 100 ms: 5 frames
  await until(() => received.length === 3)
  t.same(received.slice(1).map((b) => b.readInt16LE(0)), [700, 700], 'its first frame and the lead at once, no clock moved: no wait for a shared tick')
  clock.advance(60)
  await until(() => received.length === 6)
  t.same(received.slice(3).map((b) => b.readInt16LE(0)), [700, 700, 700], 'then one a frame on its own lane')
  clock.advance(300)
  await sleep(30)
  t.equal(received.length, 6, 'once it has played, no idle silence: FreeSWITCH writes nothing, the caller hears silence')
  t.equal(scheduler.lanes, 0, 'and its lane is closed (no wake-up every 20 ms for nothing)')
  t.equal(ep.stats.coldStarts, 0, 'no cold start counted: on timerfd the first frame is written at once')
  clock.advance(720)
  await until(() => received.length === 7)
  t.ok(received[6]?.every((b) => b === 0), 'and the keep-alive goes on a second after our last frame')
})

t.test('the matrix timer keeps today\'s warm window: silence on every tick while the caller talks', async (t) => {
  const { clock, received, sendVoice } = await rig(t, 'matrix')
  for (let i = 0; i < 25; i++) {
    clock.advance(20)
    if (i % 5 === 0) await sendVoice()
  }
  await until(() => received.length >= 20)
  t.ok(received.length >= 20, `${received.length} silence frames in 500 ms`)
})

t.test('media.stream.writeTimer: timerfd by default, matrix accepted, anything else refused', async (t) => {
  t.equal(streamSchema.parse({}).writeTimer, 'timerfd')
  t.equal(streamSchema.parse({ writeTimer: 'matrix' }).writeTimer, 'matrix')
  t.notOk(streamSchema.safeParse({ writeTimer: 'posix' }).success)
})
