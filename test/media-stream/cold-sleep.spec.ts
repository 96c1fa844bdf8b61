import t, { type Test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { MediaEndpoint, type WriteTimer } from '../../lib/media/stream/endpoint.ts'
import { fakeSwitch } from './fake-switch.ts'

// A cold quiet call on FreeSWITCH's timerfd timer sends one keep-alive frame a second
// (quiet-idle.ts): between them it leaves the shared frame grid instead of being ticked 50 times
// a second for nothing, and anything that lets it send sooner (audio queued) brings it back at once.

async function endpoint (t: Test, writeTimer: WriteTimer) {
  const fs = await fakeSwitch()
  const { logger, clock, scheduler } = fs
  const ep = await MediaEndpoint.open({ rate: 8000, logger, scheduler, writeTimer, leadFrames: 1, peer: fs.peer })
  t.teardown(async () => { await ep.close(); fs.close() })
  await fs.started(ep)
  const sent: Array<[number, boolean]> = []
  ep.onSent((frame, at) => { sent.push([at, frame.readInt16LE(0) !== 0]) })
  return { clock, scheduler, ep, sent }
}

t.test('timerfd: a cold call is off the grid between its keep-alives, which still come once a second', async (t) => {
  const { clock, scheduler, sent } = await endpoint(t, 'timerfd')
  const start = clock.now()
  const offGrid: number[] = []
  for (let ms = 0; ms < 4000; ms += 20) {
    clock.advance(20)
    if (scheduler.size === 0) offGrid.push(clock.now())
  }
  const keepAlives = sent.map(([at]) => at - start)
  t.ok(keepAlives.length >= 4 && keepAlives.length <= 5, `one frame a second (${keepAlives.join(', ')})`)
  for (let i = 1; i < keepAlives.length; i++) {
    const gap = (keepAlives[i] as number) - (keepAlives[i - 1] as number)
    t.ok(gap >= 1000 && gap <= 1020, `a second apart, on the next grid tick (${gap} ms)`)
  }
  t.ok(offGrid.length > 150, `off the grid most of the time (${offGrid.length} of 200 ticks)`)
})

t.test('timerfd: audio queued while off the grid goes out at once and paces as before', async (t) => {
  const { clock, scheduler, ep, sent } = await endpoint(t, 'timerfd')
  clock.advance(1500)
  t.equal(scheduler.size, 0, 'asleep between keep-alives')
  const before = sent.length
  const queuedAt = clock.now()
  ep.enqueue(new Int16Array(160 * 5).fill(1000))
  await sleep(0)
  t.equal(sent[before]?.[0], queuedAt, 'the first frame at once')
  t.equal(scheduler.size, 1, 'back on the grid')
  clock.advance(200)
  const audio = sent.slice(before).filter(([, loud]) => loud).map(([at]) => at - queuedAt)
  t.same(audio, [0, 0, 20, 40, 60], 'the first frame and its lead, then one every 20 ms')
})

t.test('matrix: a call stays on the grid (a caller\'s sound can open the warm window at any frame)', async (t) => {
  const { clock, scheduler } = await endpoint(t, 'matrix')
  let off = 0
  for (let ms = 0; ms < 8000; ms += 20) {
    clock.advance(20)
    if (scheduler.size === 0) off++
  }
  t.equal(off, 0)
})
